"""The colour family of a status, which every front end draws as it is sent."""

from __future__ import annotations

from runwidget import status as st

_KINDS = {
    st.RUNNING: "running",
    st.FINALIZING: "running",
    st.STARTING: "waiting",
    st.QUEUED: "waiting",
    st.NOT_STARTED: "waiting",
    st.COMPLETED: "completed",
    st.FAILED: "failed",
    st.CANCELED: "canceled",
    st.NOT_RESPONDING: "warning",
}


def status_kind(status: str) -> str:
    """The colour family of a status: running, completed, failed, canceled, waiting, warning."""
    return _KINDS.get(status, "waiting")
