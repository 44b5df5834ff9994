"""``Run.get_context()``: the run of the submitted script this process runs, if any."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from runwidget.tracking.run import Run
from runwidget.tracking.workspace import Workspace

logger = logging.getLogger("runwidget")

# Set by the supervisor of a submitted script for the script's process.
ENV_RUN_ID = "RUNWIDGET_RUN_ID"
ENV_STORE = "RUNWIDGET_STORE"
# Where the script leaves its own verdict (run.fail(), run.cancel()) for the supervisor.
ENV_VERDICT_FILE = "RUNWIDGET_VERDICT_FILE"
OFFLINE_STORE = "sqlite:///:memory:"


class SubmittedRun(Run):
    """The run of a submitted script, as the script sees it.

    The supervisor ends the run when the script exits: Completed for exit code 0, Failed
    otherwise. ``complete()``, ``fail()`` and ``cancel()`` called by the script (or by
    ``with run:``) write what was logged and leave their verdict for the supervisor, which
    applies it then: a run the script failed ends Failed with the script's error even if
    the script exits with 0, and one it completed still ends Failed if the script crashes
    afterwards. Ending the run from inside would let readers stop following it while the
    script still prints.
    """

    def end(
        self, status: str, error: Mapping[str, Any] | None = None, *, wait: bool = True
    ) -> None:
        path = os.environ.get(ENV_VERDICT_FILE)
        if not path:  # RUNWIDGET_RUN_ID set by hand, without a supervisor
            super().end(status, error, wait=wait)
            return
        if self._ended:
            return
        self._ended = True
        self.flush()
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump({"status": status, "error": dict(error) if error else None}, f)
        os.replace(temporary, path)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, SystemExit) and exc.code in (None, 0):
            self.complete()  # sys.exit() / sys.exit(0) is a success
            return
        super().__exit__(exc_type, exc, tb)


_context: Run | None = None
_lock = threading.Lock()


def get_context() -> Run:
    """The submitted run of this process, or an offline run kept in memory only."""
    global _context
    with _lock:
        if _context is None:
            run_id = os.environ.get(ENV_RUN_ID)
            if run_id:
                _context = SubmittedRun.get(Workspace(os.environ.get(ENV_STORE)), run_id)
            else:
                _context = _offline_run()
        return _context


def _offline_run() -> Run:
    from runwidget.tracking.experiment import Experiment

    logger.warning(
        "runwidget: not inside a submitted run; Run.get_context() returns an offline run "
        "whose metrics are kept in memory only. Submit the script with experiment.submit() "
        "to record them."
    )
    return Experiment(Workspace(OFFLINE_STORE), "offline").start_logging(
        display_name="offline", outputs=False
    )


def _reset_context() -> None:
    global _context
    with _lock:
        _context = None
