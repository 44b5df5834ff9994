"""The watcher of a run on a cluster: ``python -m runwidget.compute.watch RUN_ID``.

Started detached on the submitting machine by the target's ``submit``, with the store's URI
in ``RUNWIDGET_STORE``. The job's own supervisor writes what it can (Starting, Running, the
output, the end). The watcher writes what only the engine knows, once a second until the
run has ended:

* the node the job runs on, once the engine names it;
* a job the engine ended without the supervisor's word: a runtime environment or an
  entrypoint that failed before runwidget started (Failed, with the engine's message and the
  job log's last lines), a stop (Canceled), a supervisor killed before it could write;
* a cluster that stays unreachable for ``RUNWIDGET_CLUSTER_LOST_AFTER`` seconds (90) while
  the run's heartbeat is stale (readers show it NotResponding): it is now Failed with a
  message that says the cluster lost it. A dashboard that is down while the job still beats
  has not lost it.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import time
from typing import Any

from runwidget import status as st
from runwidget._settings import cluster_lost_after
from runwidget.compute.ray import RAY_STATUSES, RayCompute
from runwidget.compute.target import ComputeTargetError, get_target
from runwidget.errors import RunNotFoundError, StoreError
from runwidget.store import RunStore, open_store
from runwidget.tracking.workspace import Workspace

logger = logging.getLogger("runwidget.watch")

POLL_INTERVAL = 1.0
# How long the job's supervisor gets, after the engine says the job ended, to write its own
# last word (it knows more: the traceback, the exit code).
LAST_WORD_WAIT = 10.0
_LOG_TAIL = 30


def watch(store: RunStore, run_id: str) -> str:
    """Follow ``run_id`` until it has ended; its final status."""
    record = store.get_run(run_id)
    target = get_target(Workspace(store), record.target)
    if not isinstance(target, RayCompute):
        raise ComputeTargetError(f"run {run_id!r} runs on {record.target!r}, not a Ray target")
    lost_after = cluster_lost_after()
    client: Any = None  # a ray.job_submission.JobSubmissionClient once connected
    unreachable_since: float | None = None
    ended_at: float | None = None
    node_known = False
    stop_sent = False
    while True:
        record = store.get_run(run_id)
        if record.status in st.TERMINAL:
            return record.status
        try:
            client = client or target.client()
            if "runwidget.cancel_requested" in record.properties and not stop_sent:
                target.call(functools.partial(client.stop_job, run_id), "stop job")
                stop_sent = True
            info = target.job_info(run_id, client)
            unreachable_since = None
        except ComputeTargetError as e:
            client = None
            now = time.time()
            unreachable_since = unreachable_since or now
            logger.info("run %s: %s", run_id, e)
            # Both: a dashboard that is down while the job still beats has not lost the run.
            silent = record.current_status() == st.NOT_RESPONDING
            if now - unreachable_since >= lost_after and silent:
                _end(store, run_id, st.FAILED, _lost(target, now - unreachable_since, record))
                return st.FAILED
            time.sleep(POLL_INTERVAL)
            continue
        if not node_known and getattr(info, "driver_node_id", None):
            store.update_run(run_id, properties=_node_properties(info))
            node_known = True
        status = RAY_STATUSES.get(str(getattr(info.status, "value", info.status)))
        if status in st.TERMINAL:
            ended_at = ended_at or time.monotonic()
            if time.monotonic() - ended_at >= LAST_WORD_WAIT:
                _end(store, run_id, *_engine_verdict(target, client, run_id, status, info))
                return store.get_run(run_id).status
        time.sleep(POLL_INTERVAL)


def _node_properties(info: Any) -> dict[str, Any]:
    properties = {"runwidget.ray_node_id": info.driver_node_id}
    address = getattr(info, "driver_agent_http_address", None)
    if address:
        properties["runwidget.ray_node_address"] = address
    return properties


def _engine_verdict(
    target: RayCompute, client: Any, run_id: str, status: str, info: Any
) -> tuple[str, dict[str, Any] | None]:
    """The run's end as the engine tells it, when the job's supervisor wrote none."""
    if status == st.CANCELED:
        return st.CANCELED, None
    message = str(getattr(info, "message", "") or "").strip()
    try:
        log = str(target.call(lambda: client.get_job_logs(run_id), "job logs"))
    except ComputeTargetError:
        log = ""
    tail = "\n".join(log.splitlines()[-_LOG_TAIL:]) or None
    if "No module named runwidget" in log or "No module named 'runwidget'" in log:
        message = (
            f"runwidget is not installed for the cluster's Python ({message}); install "
            f"runwidget there, with the same Python version as this machine "
            f"({sys.version_info.major}.{sys.version_info.minor})"
        )
    elif status == st.COMPLETED:
        message = "the job ended without its run reporting an end (its supervisor was killed?)"
    return st.FAILED, {
        "message": f"Ray ended the job: {message}" if message else "Ray ended the job",
        "traceback": tail,
    }


def _lost(target: RayCompute, silent_for: float, record: Any) -> dict[str, Any]:
    return {
        "message": (
            f"the Ray cluster {target.name!r} at {target.address} lost the run: it has been "
            f"unreachable for {silent_for:.0f} s (head node down?) and the run stopped "
            f"reporting (last heartbeat {time.time() - (record.heartbeat or record.created):.0f}"
            " s ago)"
        ),
        "traceback": None,
    }


def _end(store: RunStore, run_id: str, status: str, error: dict[str, Any] | None) -> None:
    open_statuses = [s for s in st.ALL if s not in st.TERMINAL]
    ended = store.update_run(
        run_id, status=status, ended=time.time(), error=error, only_if_status=open_statuses
    )
    if ended and status == st.FAILED:
        from runwidget.tracking import alerts

        alerts.run_failed(store, run_id, error)
    logger.info("run %s ended %s by the watcher", run_id, status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m runwidget.compute.watch",
        description="Follow one run on a cluster until it has ended (started by submit).",
    )
    parser.add_argument("run_id")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
    uri = os.environ.get("RUNWIDGET_STORE")
    if not uri:
        parser.error("RUNWIDGET_STORE must name the run's store")
    store = open_store(uri)
    while True:
        try:
            status = watch(store, args.run_id)
            logger.info("run %s is %s; watcher done", args.run_id, status)
            return 0
        except RunNotFoundError:
            logger.error("run %s is not in the store", args.run_id)
            return 1
        except StoreError as e:  # the store is down: the run's fate waits for it
            logger.warning("run store unreachable (%s); retrying", e)
            time.sleep(5)


if __name__ == "__main__":
    sys.exit(main())
