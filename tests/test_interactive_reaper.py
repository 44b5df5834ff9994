"""Interactive runs whose process died: failed by the next runwidget process on their host.

The logging process is a real one, killed with SIGKILL as a kernel is; the readers are a
fresh process (a restarted kernel) and this test process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from runwidget import Experiment, Run, Workspace
from runwidget import status as st
from runwidget.execution import reaper
from runwidget.execution._process import ProcessId, boot_id, host_name, start_time
from runwidget.store import SqlStore

from .local_runs import wait_until

# Starts a run and a child run, says their ids, then logs until it is killed.
LOGGER = textwrap.dedent(
    """
    import json, sys, time
    from runwidget import Experiment, Workspace
    run = Experiment(Workspace(sys.argv[1]), "owners").start_logging(display_name="notebook")
    child = run.child_run("epochs")
    run.log("alpha", 0.5)
    child.log("loss", 1.0)
    run.flush()
    print(json.dumps({"run": run.id, "child": child.id}), flush=True)
    while True:
        time.sleep(0.2)
    """
)

# A restarted kernel: looks at a run, prints its status and error.
READER = textwrap.dedent(
    """
    import json, sys
    from runwidget import Run, Workspace
    run = Run.get(Workspace(sys.argv[1]), sys.argv[2])
    status = run.get_status()
    print(json.dumps({"status": status, "error": run.get_details().get("error")}))
    """
)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def start_logger(
    processes: list[subprocess.Popen], uri: str, **env: str
) -> tuple[subprocess.Popen, dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", LOGGER, uri],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    processes.append(process)
    line = process.stdout.readline()
    assert line, f"the logging process exited with {process.wait(timeout=10)}"
    return process, json.loads(line)


def read_in_new_process(uri: str, run_id: str, **env: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", READER, uri, run_id],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=True,
    )
    return json.loads(out.stdout)


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def age_heartbeat(store: SqlStore, *run_ids: str) -> None:
    """Make the runs' heartbeat an hour old, as if their process had stopped beating."""
    store.beat(list(run_ids), time.time() - 3600)


def test_start_logging_records_the_process_that_owns_the_run(sqlite_uri, processes) -> None:
    process, ids = start_logger(processes, sqlite_uri)
    store = SqlStore(sqlite_uri)
    try:
        for run_id in (ids["run"], ids["child"]):
            owner = ProcessId.from_properties(store.get_run(run_id).properties, "owner")
            assert owner == ProcessId(process.pid, start_time(process.pid), host_name(), boot_id())
        # Internal: neither get_details() nor get_properties() lists them.
        run = Run.get(Workspace(sqlite_uri), ids["run"])
        assert "runwidget.owner_pid" not in run.get_details()["properties"]
        assert "runwidget.owner_pid" not in run.get_properties()
        assert run.refresh().properties["runwidget.owner_pid"] == process.pid
    finally:
        store.close()


def test_a_killed_process_leaves_its_runs_failed_for_the_next_reader(sqlite_uri, processes) -> None:
    process, ids = start_logger(processes, sqlite_uri, RUNWIDGET_HEARTBEAT_INTERVAL="0.2")
    fast_timeout = {"RUNWIDGET_HEARTBEAT_TIMEOUT": "1"}
    time.sleep(1.5)  # longer than the readers' heartbeat timeout: the logger still beats
    alive = read_in_new_process(sqlite_uri, ids["run"], **fast_timeout)
    assert alive == {"status": st.RUNNING, "error": None}

    kill(process)
    # Until the heartbeat is stale the run reads Running, as a run that beats.
    seen = wait_until(
        lambda: read_in_new_process(sqlite_uri, ids["run"], **fast_timeout)["status"] != st.RUNNING,
        30,
        "the killed process's run to read something else than Running",
        every=0.2,
    )
    failed = read_in_new_process(sqlite_uri, ids["run"], **fast_timeout)
    assert failed["status"] == st.FAILED, seen
    message = failed["error"]["message"]
    assert message == (
        f"the process that logged this run (pid {process.pid} on host {host_name()!r}) ended "
        "without completing it: it was killed (a kernel restart, out of memory) or it exited "
        "before run.complete()"
    )
    store = SqlStore(sqlite_uri)
    try:
        record, child = store.get_run(ids["run"]), store.get_run(ids["child"])
        assert record.status == st.FAILED and record.ended is not None
        assert child.status == st.FAILED  # the child run logged by the same process
        assert child.error["message"] == message
        assert store.read_metrics(ids["run"])[0].value == 0.5  # what was logged stays
    finally:
        store.close()


def test_the_next_start_logging_on_the_host_fails_the_dead_runs(sqlite_uri, processes) -> None:
    process, ids = start_logger(processes, sqlite_uri)
    kill(process)
    store = SqlStore(sqlite_uri)
    try:
        age_heartbeat(store, ids["run"], ids["child"])
        experiment = Experiment(Workspace(sqlite_uri), "elsewhere")
        with experiment.start_logging() as run:
            assert run.get_status() == st.RUNNING
        assert store.get_run(ids["run"]).status == st.FAILED
        assert store.get_run(ids["child"]).status == st.FAILED
    finally:
        store.close()


def test_listing_runs_fails_the_dead_ones(sqlite_uri, processes) -> None:
    process, ids = start_logger(processes, sqlite_uri)
    kill(process)
    store = SqlStore(sqlite_uri)
    try:
        age_heartbeat(store, ids["run"], ids["child"])
        [run] = Experiment(Workspace(sqlite_uri), "owners").get_runs()
        assert run.id == ids["run"]
        assert run._record.status == st.FAILED
        assert store.get_run(ids["child"]).status == st.FAILED
    finally:
        store.close()


def test_a_live_process_with_a_stale_heartbeat_is_never_failed(sqlite_uri, processes) -> None:
    process, ids = start_logger(processes, sqlite_uri)  # beats every 15 s only
    store = SqlStore(sqlite_uri)
    try:
        age_heartbeat(store, ids["run"], ids["child"])
        for run_id in (ids["run"], ids["child"]):
            seen = read_in_new_process(sqlite_uri, run_id)
            assert seen == {"status": st.NOT_RESPONDING, "error": None}
        assert reaper.reap_host(store) == 0
        assert store.get_run(ids["run"]).status == st.RUNNING
        assert store.get_run(ids["child"]).status == st.RUNNING

        kill(process)  # once it is gone, the next look ends the run
        assert read_in_new_process(sqlite_uri, ids["run"])["status"] == st.FAILED
    finally:
        store.close()


def test_a_child_run_of_a_live_process_outlives_its_dead_parent(sqlite_uri, processes) -> None:
    process, ids = start_logger(processes, sqlite_uri)
    parent = Run.get(Workspace(sqlite_uri), ids["run"])
    mine = parent.child_run("from another process")
    mine.flush()
    kill(process)
    store = SqlStore(sqlite_uri)
    try:
        age_heartbeat(store, ids["run"], ids["child"], mine.id)
        assert parent.get_status() == st.FAILED
        assert store.get_run(ids["child"]).status == st.FAILED
        assert mine.get_status() == st.NOT_RESPONDING  # this process still owns it
        mine.complete()
        assert mine.get_status() == st.COMPLETED
    finally:
        store.close()


def test_a_run_owned_on_another_host_is_never_touched(sqlite_uri) -> None:
    run = Experiment(Workspace(sqlite_uri), "owners").start_logging()
    store = run._store
    # As a run logged on another machine would read: a pid that is not alive here.
    store.update_run(run.id, properties={"runwidget.host": "elsewhere", "runwidget.owner_pid": 1})
    store.beat([run.id], time.time() - 3600)
    assert reaper.reap_host(store) == 0
    assert run.get_status() == st.NOT_RESPONDING
    assert store.get_run(run.id).status == st.RUNNING
    run.complete()


def test_a_run_without_an_owner_is_left_as_it_is(sqlite_uri) -> None:
    """Runs logged before owners were recorded: nobody can tell whether their process lives."""
    store = SqlStore(sqlite_uri)
    try:
        record = store.create_run("owners", status=st.RUNNING, started=time.time() - 3600)
        store.beat([record.id], time.time() - 3600)
        assert reaper.reap_host(store) == 0
        assert store.get_run(record.id).status == st.RUNNING
    finally:
        store.close()


def test_a_run_that_ends_is_not_reaped(sqlite_uri, processes) -> None:
    code = LOGGER.replace("while True:\n    time.sleep(0.2)", "child.complete()\nrun.complete()")
    out = subprocess.run(
        [sys.executable, "-c", code, sqlite_uri], capture_output=True, text=True, check=True
    )
    ids = json.loads(out.stdout)
    assert read_in_new_process(sqlite_uri, ids["run"]) == {"status": st.COMPLETED, "error": None}
