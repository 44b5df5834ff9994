"""A real PostgreSQL outage of more than a minute while a script is logging."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from runwidget.store import SqlStore
from tests.conftest import running_postgres

OUTAGE_SECONDS = 62

# Logs one point every 10 ms for `seconds`, then completes the run and exits.
WRITER = textwrap.dedent(
    """
    import json, sys, time
    from runwidget import Experiment, Workspace
    uri, seconds = sys.argv[1], float(sys.argv[2])
    run = Experiment(Workspace(uri), "outage").start_logging()
    print(json.dumps({"run": run.id}), flush=True)
    end, i = time.time() + seconds, 0
    while time.time() < end:
        run.log("i", float(i), step=i)
        i += 1
        time.sleep(0.01)
    run.complete()
    print(json.dumps({"logged": i}), flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.postgres
def test_nothing_is_lost_when_postgres_is_down_for_a_minute():
    with running_postgres() as server:
        uri = server.uri("postgres")
        SqlStore(uri).close()
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, uri, str(OUTAGE_SECONDS + 8)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "RUNWIDGET_EXIT_FLUSH_TIMEOUT": "60"},
        )
        run_id = json.loads(writer.stdout.readline())["run"]
        time.sleep(3)
        server.stop()
        down_at = time.time()
        time.sleep(OUTAGE_SECONDS)
        assert writer.poll() is None, "training died during the outage"
        server.start()
        outage = time.time() - down_at
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        logged = json.loads(out.splitlines()[-1])["logged"]
        warned = [line for line in err.splitlines() if "cannot reach the run store" in line]
        assert len(warned) == 1 and "RunwidgetWarning" in warned[0]  # warned, once
        store = SqlStore(uri)
        try:
            steps = [p.step for p in store.read_metrics(run_id)]
            assert steps == [float(i) for i in range(logged)]
            assert store.get_run(run_id).status == "Completed"
        finally:
            store.close()
        assert outage >= 60
