"""Run a submitted script as ``python script.py ARGS`` would, inside a local run.

Run by path, not as a module, with the standard library only::

    python _bootstrap.py SCRIPT ARGS...

What it adds to a plain ``python script.py``:

* stdout and stderr flush at each line, so the run's output log follows the script live;
* records of the standard ``logging`` module reach the output log: while the script sets
  up no handler of its own, records of level INFO and above are written to stderr as
  ``LEVEL:logger:message`` (Python alone would drop INFO and print bare WARNING messages);
  once it does (``logging.basicConfig``, its own handlers), its handlers are used. The
  root logger's level starts at INFO instead of WARNING;
* SIGTERM (sent on cancel) raises ``SystemExit`` so that ``finally`` blocks run and what the
  script logged is written before it ends;
* an uncaught exception prints a traceback without this file's frames and exits with 1;
  its type, message and traceback are also added to the run's verdict file (as
  ``"exception"``), so that the run's error is the exception's message whatever the script
  printed after it.
"""

import os
import sys

# Run by path, this file's folder is sys.path[0] (unless PYTHONSAFEPATH is set); the
# script's folder belongs there instead.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import runpy  # noqa: E402
import signal  # noqa: E402
import traceback  # noqa: E402


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.setLevel(level)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _set_up_logging() -> None:
    handler = _StderrHandler(logging.INFO)
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    # Used only while no handler is configured anywhere; basicConfig() still works as usual.
    logging.lastResort = handler
    root = logging.getLogger()
    if not root.handlers and root.level == logging.WARNING:
        root.setLevel(logging.INFO)
    # runwidget's own chatter stays out of the script's log unless asked for.
    own = logging.getLogger("runwidget")
    if own.level == logging.NOTSET:
        own.setLevel(logging.WARNING)


def _on_sigterm(signum, frame):
    raise SystemExit(128 + signum)


# The supervisor's verdict file (runwidget.tracking.context.ENV_VERDICT_FILE).
ENV_VERDICT_FILE = "RUNWIDGET_VERDICT_FILE"


def _print_exception(error: BaseException, script: str) -> None:
    """Print the traceback from the script's first frame on, as ``python script.py`` would,
    and leave the exception in the verdict file."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    lines = traceback.format_exception(type(error), error, tb)
    sys.stderr.write("".join(lines))
    sys.stderr.flush()
    # Should it fail, the traceback on stderr is still there for the supervisor.
    with contextlib.suppress(Exception):
        _record_exception(error, "".join(lines))


def _record_exception(error: BaseException, formatted: str) -> None:
    path = os.environ.get(ENV_VERDICT_FILE)
    if not path:
        return
    kind = type(error)
    name = kind.__qualname__
    if kind.__module__ not in ("builtins", "__main__"):
        name = f"{kind.__module__}.{name}"
    try:
        message = str(error)
    except Exception:
        message = "<exception str() failed>"
    verdict = {}
    try:
        with open(path, encoding="utf-8") as f:
            verdict = json.load(f)
    except (OSError, ValueError):
        pass
    if not isinstance(verdict, dict):
        verdict = {}
    verdict["exception"] = {"type": name, "message": message, "traceback": formatted}
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump(verdict, f)
    os.replace(temporary, path)


def main() -> None:
    if len(sys.argv) < 2:
        sys.stderr.write("usage: _bootstrap.py SCRIPT ARGS...\n")
        raise SystemExit(2)
    script = os.path.abspath(sys.argv[1])
    sys.argv = [sys.argv[1], *sys.argv[2:]]
    if not getattr(sys.flags, "safe_path", False):
        sys.path.insert(0, os.path.dirname(script))
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            # One write per line: the supervisor reads each line as soon as it is printed.
            reconfigure(line_buffering=True, write_through=False)
    _set_up_logging()
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit:
        raise
    except KeyboardInterrupt as error:
        _print_exception(error, script)
        raise SystemExit(130) from None
    except BaseException as error:
        _print_exception(error, script)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
