"""Run statuses, as in the reference SDK, and the one rule that derives NotResponding."""

from __future__ import annotations

from runwidget import _settings

NOT_STARTED = "NotStarted"
QUEUED = "Queued"
STARTING = "Starting"
RUNNING = "Running"
FINALIZING = "Finalizing"
COMPLETED = "Completed"
FAILED = "Failed"
CANCELED = "Canceled"
NOT_RESPONDING = "NotResponding"

ALL = (NOT_STARTED, QUEUED, STARTING, RUNNING, FINALIZING, COMPLETED, FAILED, CANCELED)
TERMINAL = frozenset({COMPLETED, FAILED, CANCELED})
# Statuses in which something is expected to beat the run's heartbeat.
ALIVE = frozenset({STARTING, RUNNING, FINALIZING})
# What the lists call active: not ended yet (waiting, going, or gone silent).
ACTIVE = tuple(s for s in ALL if s not in TERMINAL)


def effective_status(
    status: str, heartbeat: float | None, now: float, timeout: float | None = None
) -> str:
    """The status a reader shows: NotResponding when an alive run's heartbeat is stale.

    ``timeout`` defaults to ``$RUNWIDGET_HEARTBEAT_TIMEOUT`` (60 s).
    """
    if status not in ALIVE or heartbeat is None:
        return status  # without reading the setting: a list of 500 ended runs asks 500 times
    limit = _settings.heartbeat_timeout() if timeout is None else timeout
    return NOT_RESPONDING if now - heartbeat > limit else status
