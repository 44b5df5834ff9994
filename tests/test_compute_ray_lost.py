"""A Ray cluster that goes away mid-run: the run reads NotResponding, then Failed, saying so.

Its own cluster, since the test destroys it.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import textwrap
import time

import pytest

from runwidget import ComputeTarget, Experiment, RayCompute, ScriptRunConfig, Workspace
from runwidget import status as st
from tests.ray_cluster import running_ray_cluster

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_a_run_whose_cluster_is_lost_ends_failed(sqlite_uri, tmp_path, monkeypatch):
    # Short limits, for the submitting side (the watcher) and, passed on, for the job.
    monkeypatch.setenv("RUNWIDGET_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("RUNWIDGET_HEARTBEAT_TIMEOUT", "4")
    # Longer than the heartbeat's limit: the run reads NotResponding for a while first.
    monkeypatch.setenv("RUNWIDGET_CLUSTER_LOST_AFTER", "12")
    monkeypatch.setenv("RUNWIDGET_CONNECT_TIMEOUT", "2")
    source = tmp_path / "src"
    source.mkdir()
    (source / "long.py").write_text(
        textwrap.dedent(
            """
            import time
            print("started", flush=True)
            while True:
                time.sleep(0.2)
            """
        )
    )
    ws = Workspace(sqlite_uri)
    with running_ray_cluster() as cluster:
        ComputeTarget.attach(ws, "ray", RayCompute.attach_configuration(address=cluster.address))
        src = ScriptRunConfig(source, "long.py", compute_target="ray")
        run = Experiment(ws, "lost").submit(src)
        deadline = time.monotonic() + 120
        while run.get_status() != st.RUNNING:
            assert time.monotonic() < deadline, run.get_status()
            time.sleep(0.2)
        properties = run.refresh().properties
        # The whole cluster goes, as when its machines are lost: Ray's processes and the
        # job's own (the supervisor and the script it runs).
        cluster.kill()
        for role in ("script", "supervisor"):
            pid = properties.get(f"runwidget.{role}_pid")
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
        seen = []
        deadline = time.monotonic() + 60
        while run.get_status() not in st.TERMINAL:
            seen.append(run.get_status())
            assert time.monotonic() < deadline, seen[-1]
            time.sleep(0.2)
    assert st.NOT_RESPONDING in seen
    assert run.get_status() == st.FAILED
    message = run.get_details()["error"]["message"]
    assert "lost the run" in message and cluster.address in message
    out = io.StringIO()
    with pytest.raises(Exception, match="lost the run"):
        run.wait_for_completion(file=out)
