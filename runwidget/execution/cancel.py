"""``run.cancel()`` for a submitted script, from any process on any host."""

from __future__ import annotations

import logging
import signal
import time
from typing import TYPE_CHECKING

from runwidget import status as st
from runwidget.execution import _local, reaper
from runwidget.execution._process import ProcessId

if TYPE_CHECKING:
    from runwidget.tracking.run import Run

logger = logging.getLogger("runwidget")

# Waited beyond the grace period for the supervisor to record the cancel.
EXTRA_WAIT = 5.0


def request_cancel(run: Run, *, wait: bool = True) -> str:
    """Cancel a submitted script run and, with ``wait``, wait until it has ended.

    * Queued: the run is marked Canceled at once and leaves the queue; its supervisor exits.
    * Starting, Running: the run is marked as to cancel and, on this host, its supervisor
      gets SIGTERM at once (from another host it notices within a second); it sends SIGTERM
      to the script, SIGKILL after the grace period (``RUNWIDGET_CANCEL_GRACE``, 10 s by
      default), and marks the run Canceled.
    * Supervisor gone (killed, machine restarted): the script, if still there, is killed
      and the run marked Canceled here.
    * Already ended: nothing changes.

    Returns:
        The run's status when this call returns.
    """
    store = run.store
    run_id = run.id
    now = time.time()
    if store.update_run(run_id, status=st.CANCELED, ended=now, only_if_status=[st.QUEUED]):
        # Its place in the queue is given up now; the supervisor (waiting, starting, or
        # dead) sees the run Canceled within a second and leaves.
        reaper.remove_queue_ticket(store.get_run(run_id))
        return st.CANCELED
    record = store.get_run(run_id)
    if record.status in st.TERMINAL:
        return record.status
    alive = [s for s in st.ALL if s not in st.TERMINAL]
    store.update_run(run_id, properties={"runwidget.cancel_requested": now}, only_if_status=alive)
    supervisor = ProcessId.from_properties(record.properties, "supervisor")
    gone = reaper.supervisor_gone(record)
    if supervisor is not None and supervisor.local and not gone:
        if not supervisor.signal(signal.SIGTERM):
            gone = True
    elif supervisor is None or not supervisor.local:
        # Another host's supervisor reads the request from the store, unless it is silent.
        gone = record.current_status() == st.NOT_RESPONDING and record.status != st.QUEUED
    if gone:
        reaper.end_orphan(store, store.get_run(run_id), st.CANCELED, None)
        return store.get_run(run_id).status
    if not wait:
        return record.status
    grace = record.properties.get("runwidget.cancel_grace")
    if not isinstance(grace, (int, float)):
        grace = _local.cancel_grace()
    deadline = time.monotonic() + float(grace) + EXTRA_WAIT
    delay = 0.05
    while True:
        status = store.get_run(run_id).status
        if status in st.TERMINAL or time.monotonic() > deadline:
            if status not in st.TERMINAL:
                logger.info("run %s: cancel requested; it is still %s", run_id, status)
            return status
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
