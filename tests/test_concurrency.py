"""Many processes writing one SQLite file; a writer killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from runwidget.store import SqlStore

WRITER = textwrap.dedent(
    """
    import json, sys
    from runwidget import Experiment, Workspace
    uri, n = sys.argv[1], int(sys.argv[2])
    run = Experiment(Workspace(uri), "many-writers").start_logging()
    print(json.dumps({"run": run.id}), flush=True)
    for i in range(n):
        run.log("x", float(i), step=i)
    run.complete()
    """
)

# Logs the wall-clock time as the value, about 2,000 points a second, until killed.
FOREVER = textwrap.dedent(
    """
    import json, sys, time
    from runwidget import Experiment, Workspace
    run = Experiment(Workspace(sys.argv[1]), "killed").start_logging()
    print(json.dumps({"run": run.id}), flush=True)
    while True:
        run.log("t", time.time())
        time.sleep(0.0005)
    """
)


def _start(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=os.environ
    )


@pytest.mark.slow
def test_four_processes_lose_nothing(sqlite_uri):
    SqlStore(sqlite_uri).close()
    n = 50_000
    procs = [_start(WRITER, sqlite_uri, str(n)) for _ in range(4)]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0]
    store = SqlStore(sqlite_uri)
    for out in outputs:
        run_id = json.loads(out.splitlines()[0])["run"]
        points = store.read_metrics(run_id)
        assert [p.step for p in points] == [float(i) for i in range(n)]
        assert [p.value for p in points] == [float(i) for i in range(n)]
        assert store.get_run(run_id).status == "Completed"
    store.close()


@pytest.mark.slow
def test_sigkill_loses_at_most_the_last_second(sqlite_uri):
    SqlStore(sqlite_uri).close()
    proc = _start(FOREVER, sqlite_uri)
    run_id = json.loads(proc.stdout.readline())["run"]
    time.sleep(3.0)
    killed_at = time.time()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    store = SqlStore(sqlite_uri)
    values = [p.value for p in store.read_metrics(run_id)]
    store.close()
    assert len(values) > 1000
    assert values == sorted(values)
    lost_seconds = killed_at - values[-1]
    assert lost_seconds <= 1.0, f"the last {lost_seconds:.2f} s of points were lost"


def test_points_are_flushed_at_interpreter_exit(sqlite_uri):
    code = textwrap.dedent(
        """
        import json, sys
        from runwidget import Experiment, Workspace
        run = Experiment(Workspace(sys.argv[1]), "exit").start_logging()
        for i in range(10_000):
            run.log("x", float(i))
        print(json.dumps({"run": run.id}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, sqlite_uri], capture_output=True, text=True, check=True
    )
    store = SqlStore(sqlite_uri)
    assert len(store.read_metrics(json.loads(out.stdout)["run"])) == 10_000
    store.close()
