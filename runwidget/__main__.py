"""The ``runwidget`` command.

``runwidget portal [--port 8777] [--host 127.0.0.1] [--store URI] [--token TOKEN]
[--processes N]`` serves the portal without Jupyter.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from collections.abc import Sequence

from runwidget import _settings


def _settle_memory() -> None:
    """The portal is a process of its own that lives long: what it loaded to start is kept
    out of the garbage collector's passes, and its youngest objects are collected less
    often. An answer makes thousands of objects that live one request (a page of 500 runs'
    metrics, a dict per metric: 4,000 at 1M runs), and each pass walked everything loaded
    as well."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def _portal(args: argparse.Namespace) -> int:
    from runwidget.errors import InvalidValueError, StoreError
    from runwidget.server.processes import serve_processes
    from runwidget.server.standalone import serve

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"runwidget portal: listening on {args.host}: anyone who can reach it and has "
            "the token can read your runs and cancel them",
            file=sys.stderr,
        )
    processes = args.processes or os.cpu_count() or 1
    if processes < 0:
        print(f"runwidget portal: --processes must be 0 or more, not {processes}", file=sys.stderr)
        return 2

    def ready(url: str) -> None:
        if processes == 1:
            _settle_memory()
        print(f"runwidget portal: serving {args.store or 'the default run store'}"
              + (f" in {processes} processes" if processes > 1 else ""), flush=True)  # fmt: skip
        print(f"runwidget portal: open {url}", flush=True)

    options = {"host": args.host, "port": args.port, "token": args.token, "ready": ready}
    try:
        if processes == 1:
            asyncio.run(serve(args.store, **options))
            return 0
        # Settled before forking: the children share what was loaded, untouched.
        _settle_memory()
        return serve_processes(args.store, processes=processes, **options)
    except (StoreError, InvalidValueError) as e:
        print(f"runwidget portal: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"runwidget portal: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runwidget", description="Live run monitoring.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    portal = commands.add_parser(
        "portal", help="serve the portal pages and REST API without Jupyter"
    )
    portal.add_argument("--port", type=int, default=8777, help="port (default 8777; 0: any)")
    portal.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine)"
    )
    portal.add_argument(
        "--store", default=None, help="run store URI (default: $RUNWIDGET_STORE, else "
        ".runwidget/runs.db here)",
    )  # fmt: skip
    portal.add_argument(
        "--token",
        default=_settings.portal_token(),
        help="the token to ask for (default: $RUNWIDGET_PORTAL_TOKEN, else a new random one)",
    )
    portal.add_argument(
        "--processes", type=int, default=1, help="processes answering requests, each on a "
        "core of its own (default 1; 0: one per core)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.command == "portal":
        logging.basicConfig(level=logging.INFO, format="runwidget portal: %(message)s")
        return _portal(args)
    parser.print_help()
    return 1


if __name__ == "__main__":
    sys.exit(main())
