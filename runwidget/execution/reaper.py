"""Ending local runs whose supervisor, or whose logging process, died without a verdict.

A supervisor beats its run's heartbeat. When it is killed (SIGKILL, out of memory) or the
machine restarts, the beats stop and every reader, anywhere, shows the run as NotResponding
once the heartbeat is older than ``$RUNWIDGET_HEARTBEAT_TIMEOUT``. Only a process on the run's
own host can tell that the supervisor is really gone (its pid and start time are in the run's
properties); such a process marks the run **Failed** and stops the orphaned script, if any.
That is done, compare-and-set so only one of them wins, by:

* every supervisor, when it starts and every ``SWEEP_INTERVAL`` seconds while it runs, for
  all runs of its store on its host;
* ``experiment.start_logging()`` (at most every ``SWEEP_INTERVAL`` seconds per store), for
  all runs of its store on its host;
* ``run.get_status()``, ``run.wait_for_completion()`` and ``experiment.get_runs()`` in any
  process on that host;
* ``run.cancel()``, which marks such a run Canceled instead.

A Queued run is not expected to beat; it is marked Failed as soon as its waiting supervisor
is gone (or, when no supervisor was ever recorded, ``NEVER_STARTED_AFTER`` seconds after it
was created).

An interactive run (``experiment.start_logging()``) and a child run (``run.child_run()``) are
beaten by the process that created them, their *owner*, recorded in the run's properties
(``owner_properties``). When that process is gone (a killed kernel, a script that exited
without ``run.complete()``) and the heartbeat is stale, the same readers on its host mark the
run Failed, with its open child runs that no other live process owns. A run whose owner still
lives is never failed, whatever its heartbeat; one owned on another host is never touched;
one that names no owner (logged by an older runwidget) ends only with its parent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from pathlib import Path

from runwidget import status as st
from runwidget.errors import StoreError
from runwidget.execution._local import run_dir
from runwidget.execution._process import ProcessId, boot_id, host_name
from runwidget.execution.slots import remove_ticket
from runwidget.store import RunRecord, RunStore, RunType
from runwidget.tracking.providers import PROVIDERS

logger = logging.getLogger("runwidget")

ACTIVE = (st.QUEUED, st.STARTING, st.RUNNING, st.FINALIZING)
NEVER_STARTED_AFTER = 120.0
SWEEP_INTERVAL = 30.0
_LOG_TAIL_LINES = 30


def owner_properties(run_type: str) -> dict[str, object]:
    """The properties naming this process as the owner of a run it creates and beats; none
    for a supervised run, whose supervisor records itself."""
    if run_type in RunType.SUPERVISED:
        return {}
    return {
        **ProcessId.of(os.getpid()).as_properties("owner"),
        "runwidget.host": host_name(),
        "runwidget.boot_id": boot_id(),
    }


def owner_gone(record: RunRecord, now: float | None = None) -> bool | None:
    """Whether the process that created and beat a run (not a supervised one) is known gone.

    Returns:
        True or False when this host can tell; None when the run is supervised, has ended,
        has no recorded owner, or its owner runs on another host.
    """
    if record.run_type in RunType.SUPERVISED or record.status not in ACTIVE:
        return None
    owner = ProcessId.from_properties(record.properties, "owner")
    if owner is None or not owner.local:
        return None
    # Both: a beating run is not dead whatever its pid says (a host name shared by two
    # machines), and a live owner is never failed whatever its heartbeat.
    if record.current_status(now) != st.NOT_RESPONDING:
        return False
    return not owner.alive()


def supervisor_gone(record: RunRecord, now: float | None = None) -> bool | None:
    """Whether the run's supervisor is known to be gone without a verdict.

    Returns:
        True or False when this host can tell; None when the run is not a supervised local
        run (a script or an AutoML search) of this host that should still be supervised.
    """
    if record.run_type not in RunType.SUPERVISED or record.status not in ACTIVE:
        return None
    if record.target != "local":  # a cluster's run is watched through its engine
        return None
    if record.properties.get("runwidget.host") != host_name():
        return None
    now = time.time() if now is None else now
    supervisor = ProcessId.from_properties(record.properties, "supervisor")
    if record.status == st.QUEUED:
        if supervisor is None:
            return now - record.created > NEVER_STARTED_AFTER
        return not supervisor.alive()
    # An alive run must also have stopped beating: a live supervisor may be restarting
    # its store connection, and a beating one is not gone whatever its pid says.
    if record.current_status(now) != st.NOT_RESPONDING:
        return False
    return supervisor is None or not supervisor.alive()


def end_orphan(
    store: RunStore, record: RunRecord, status: str, error: dict[str, str | None] | None
) -> bool:
    """Stop what is left of a run whose supervisor is gone and record its end.

    Returns:
        Whether this call ended the run (False when another process did first).
    """
    script = ProcessId.from_properties(record.properties, "script")
    if script is not None and script.local:
        script.signal_group(signal.SIGKILL)
    if record.status == st.QUEUED:
        remove_queue_ticket(record)
    ended = store.update_run(
        record.id,
        status=status,
        ended=time.time(),
        error=error,
        only_if_status=[record.status],
    )
    if ended:
        end_open_children(store, record.id, status)
    return ended


def end_open_children(store: RunStore, run_id: str, status: str) -> int:
    """End the runs under ``run_id`` (at any depth) that its process left open.

    Once a supervised run's process is gone (it exited without ending them, or it was
    killed), nobody else can end them: they would read Running, then NotResponding, for
    ever. They end Canceled with a canceled run, else Failed.

    Returns:
        How many runs were ended.
    """
    open_statuses = [s for s in st.ALL if s not in st.TERMINAL]
    try:
        children = [
            c for c in store.get_children(run_id, recursive=True) if c.status in open_statuses
        ]
    except StoreError as e:
        logger.warning("run %s: cannot list its child runs: %s", run_id, e)
        return 0
    if status == st.CANCELED:
        final, error = st.CANCELED, None
    else:
        final = st.FAILED
        error = {
            "message": f"the process of run {run_id!r} ended while this child run was still open",
            "traceback": None,
        }
    ended = 0
    for child in children:
        with contextlib.suppress(StoreError):
            ended += store.update_run(child.id, status=final, ended=time.time(), error=error,
                                      only_if_status=open_statuses)  # fmt: skip
    return ended


def reap(store: RunStore, record: RunRecord) -> bool:
    """Mark the run Failed if its supervisor, or its owner, is gone (see the module docstring).

    Returns:
        Whether the run was marked Failed by this call.
    """
    if record.run_type not in RunType.SUPERVISED:
        return _reap_owned(store, record)
    if not supervisor_gone(record):
        return False
    supervisor = ProcessId.from_properties(record.properties, "supervisor")
    if supervisor is None:
        message = (
            f"run {record.id!r} was never started: no supervisor was recorded for it on "
            f"{host_name()!r} (the submitting process stopped while submitting it)"
        )
    else:
        when = "before the script started" if record.status == st.QUEUED else "without a verdict"
        message = (
            f"the supervisor of this run (pid {supervisor.pid} on {supervisor.host!r}) stopped "
            f"{when}: it was killed, or the machine restarted"
        )
        workdir = _run_folder(record) / "work"
        if workdir.is_dir():
            message += f"; the script's working folder is left in {str(workdir)!r}"
    ended = end_orphan(
        store, record, st.FAILED, {"message": message, "traceback": _supervisor_log_tail(record)}
    )
    if ended:
        logger.warning("runwidget: run %s marked Failed: %s", record.id, message)
        _alert_failed(store, record, message)
    return ended


def _alert_failed(store: RunStore, record: RunRecord, message: str) -> None:
    from runwidget.tracking import alerts

    alerts.run_failed(store, record.id, message, record.display_name)


def reap_host(store: RunStore) -> int:
    """Reap every local run of this host in ``store``. Returns how many were marked."""
    marked = 0
    try:
        candidates = store.list_runs(status=ACTIVE)
    except StoreError as e:
        logger.debug("cannot list runs to reap: %s", e)
        return 0
    for record in candidates:
        try:
            marked += reap(store, record)
        except StoreError as e:
            logger.debug("cannot reap run %s: %s", record.id, e)
    return marked


def _owner_ended(owner: ProcessId) -> dict[str, str | None]:
    return {
        "message": (
            f"the process that logged this run (pid {owner.pid} on host {owner.host!r}) ended "
            "without completing it: it was killed (a kernel restart, out of memory) or it "
            "exited before run.complete()"
        ),
        "traceback": None,
    }


def _reap_owned(store: RunStore, record: RunRecord) -> bool:
    """Mark an interactive or child run Failed if its owner is gone, with the open child runs
    that the same process logged (or that name no owner). Returns whether this call did."""
    owner = ProcessId.from_properties(record.properties, "owner")
    if owner is None or not owner_gone(record):
        return False
    error = _owner_ended(owner)
    if not _fail(store, record.id, error, [record.status]):
        return False
    logger.warning("runwidget: run %s marked Failed: %s", record.id, error["message"])
    _alert_failed(store, record, str(error["message"]))
    open_statuses = [s for s in st.ALL if s not in st.TERMINAL]
    try:
        children = store.get_children(record.id, recursive=True)
    except StoreError as e:
        logger.warning("run %s: cannot list its child runs: %s", record.id, e)
        return True
    orphaned = {
        "message": f"the process of run {record.id!r} ended while this child run was still open",
        "traceback": None,
    }
    for child in children:
        if child.status not in open_statuses:
            continue
        child_owner = ProcessId.from_properties(child.properties, "owner")
        with contextlib.suppress(StoreError):
            if child_owner is None:
                _fail(store, child.id, orphaned, open_statuses)
            elif child_owner == owner:
                _fail(store, child.id, error, open_statuses)
            else:  # logged by another process: ended only when that one is gone too
                _reap_owned(store, child)
    return True


def _fail(store: RunStore, run_id: str, error: dict[str, str | None], if_status: list[str]) -> bool:
    return store.update_run(
        run_id, status=st.FAILED, ended=time.time(), error=error, only_if_status=if_status
    )


def remove_queue_ticket(record: RunRecord) -> None:
    """Take a queued run of this host out of the local queue."""
    if record.properties.get("runwidget.host") == host_name():
        remove_ticket(_run_folder(record).parent.parent, record.id)


def _run_folder(record: RunRecord) -> Path:
    """``<exec dir>/runs/<run id>`` of the run's supervisor."""
    recorded = record.properties.get("runwidget.run_dir")
    return Path(recorded) if isinstance(recorded, str) else run_dir(record.id)


def _supervisor_log_tail(record: RunRecord) -> str | None:
    """The end of the supervisor's own log when it says what went wrong, else None."""
    path = _run_folder(record) / "supervisor.log"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if not any(word in text for word in (" ERROR ", " CRITICAL ", "Traceback")):
        return None
    lines = [line for line in text.splitlines() if line.strip()]
    return f"last lines of {path}:\n" + "\n".join(lines[-_LOG_TAIL_LINES:])


# What runs and experiments (in ``tracking``) use of the reaper.
PROVIDERS.owner_properties = owner_properties
PROVIDERS.reap = reap
PROVIDERS.reap_host = reap_host
PROVIDERS.sweep_interval = SWEEP_INTERVAL
