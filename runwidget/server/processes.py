"""The standalone portal in several processes, for a team's many readers.

One Python process answers on one core: its requests queue behind each other's CPU (a page
of 500 runs with their metrics costs about 20 ms of it). So the portal's sockets are bound
once and the process forks: every child accepts on the same sockets, with its own store
connections and caches, and the login cookies of one hold with all (they share the token
and the cookie secret). The parent only waits: it forwards SIGINT and SIGTERM to the
children, and when one child ends on its own it stops the others and ends with its code,
so that whatever supervises the portal sees the failure instead of a portal quietly
serving on fewer cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from typing import NoReturn

from runwidget.errors import InvalidValueError
from runwidget.server.standalone import DEFAULT_PORT, Listening, listen, serve_sockets
from runwidget.store import open_store
from runwidget.tracking import _portal

logger = logging.getLogger("runwidget.portal")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# More processes than this would only contend for the cores (and hold store connections).
MAX_PROCESSES = 64


def serve_processes(
    store_uri: str | None = None,
    *,
    processes: int,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    ready: Callable[[str], None] | None = None,
) -> int:
    """Run the portal in ``processes`` forked processes until SIGINT or SIGTERM; returns
    the exit code (0 when stopped by a signal, else that of the child that ended first).

    Raises:
        InvalidValueError: not 2 to ``MAX_PROCESSES`` processes (``serve`` runs one), or
            a store in memory, which forked processes cannot share.
        StoreError: the store cannot be opened (before any process is forked).
        OSError: the address cannot be bound.
    """
    if not 2 <= processes <= MAX_PROCESSES:
        raise InvalidValueError(
            f"a portal runs in 2 to {MAX_PROCESSES} processes (one serves alone), not {processes}"
        )
    store = open_store(store_uri)  # its errors show before anything forks
    uri = store.uri
    store.close()  # no connection may be shared by the children
    if uri in ("sqlite://", "sqlite:///:memory:"):
        raise InvalidValueError("a store in memory cannot be shared by processes; give a file")
    listening = listen(host, port, token)
    children: set[int] = set()
    stopping = False

    def stop_children(sig: int, _frame: object = None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    previous = {sig: signal.signal(sig, stop_children) for sig in _STOP_SIGNALS}
    announcement = None
    code = 0
    try:
        # Blocked while forking: a child must not run the parent's handler before it has
        # its own; a signal that came meanwhile is delivered once it is unblocked.
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            for _ in range(processes):
                pid = os.fork()
                if pid == 0:
                    _child(uri, listening)
                children.add(pid)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        announcement = _portal.announce_portal(listening.link_base, uri)
        if ready is not None:
            ready(listening.login_url)
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            children.discard(pid)
            if not stopping:
                code = os.waitstatus_to_exitcode(status) or 1
                logger.error(
                    "process %d ended (exit code %d); stopping the others",
                    pid,
                    code,
                )
                stop_children(signal.SIGTERM)
        return code
    finally:
        _portal.withdraw_portal(announcement)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        listening.close()


def _child(uri: str, listening: Listening) -> NoReturn:
    """One process of the portal: serves until stopped, then ends (never returns)."""
    code = 0
    try:
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)  # until its loop sets its own
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        asyncio.run(serve_sockets(open_store(uri), listening))
    except BaseException:
        logger.exception("process %d failed", os.getpid())
        code = 1
    finally:
        logging.shutdown()
        os._exit(code)
