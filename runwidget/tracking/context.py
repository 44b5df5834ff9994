"""``Run.get_context()``: the run of the submitted script this process runs, if any."""

from __future__ import annotations

import logging
import os
import threading

from runwidget.tracking.run import Run
from runwidget.tracking.workspace import Workspace

logger = logging.getLogger("runwidget")

# Set by the supervisor of a submitted script for the script's process.
ENV_RUN_ID = "RUNWIDGET_RUN_ID"
ENV_STORE = "RUNWIDGET_STORE"
OFFLINE_STORE = "sqlite:///:memory:"

_context: Run | None = None
_lock = threading.Lock()


def get_context() -> Run:
    """The submitted run of this process, or an offline run kept in memory only."""
    global _context
    with _lock:
        if _context is None:
            run_id = os.environ.get(ENV_RUN_ID)
            if run_id:
                _context = Run.get(Workspace(os.environ.get(ENV_STORE)), run_id)
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
    return Experiment(Workspace(OFFLINE_STORE), "offline").start_logging(display_name="offline")


def _reset_context() -> None:
    global _context
    with _lock:
        _context = None
