"""System metrics and the failed alert of runs inside a job of a real two-node Ray cluster:
the job's own supervisor samples the script and raises the alert, as a local one does."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from runwidget import ComputeTarget, Experiment, RayCompute, ScriptRunConfig, Workspace
from runwidget import status as st
from tests.ray_cluster import running_ray_cluster
from tests.test_system_metrics import BURNER

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster():
    with running_ray_cluster() as c:
        yield c


def test_a_ray_run_is_sampled_and_its_failure_alerted(cluster, sqlite_uri, tmp_path: Path,
                                                      monkeypatch):  # fmt: skip
    monkeypatch.setenv("RUNWIDGET_SYSTEM_METRICS_INTERVAL", "0.5")  # passed on to the job
    src = tmp_path / "src"
    src.mkdir()
    (src / "burn.py").write_text(textwrap.dedent(BURNER))
    (src / "fail.py").write_text("import time\ntime.sleep(1.5)\nraise ValueError('diverged')\n")
    ws = Workspace(sqlite_uri)
    ComputeTarget.attach(ws, "ray", RayCompute.attach_configuration(address=cluster.address))
    experiment = Experiment(ws, "on-ray")
    burn = experiment.submit(ScriptRunConfig(src, "burn.py", compute_target="ray"))
    fail = experiment.submit(ScriptRunConfig(src, "fail.py", compute_target="ray"))
    burn.wait_for_completion(raise_on_error=True)
    fail.wait_for_completion(raise_on_error=False)
    assert fail.get_status() == st.FAILED

    metrics = burn.get_metrics()
    rss = metrics["system/process_memory_rss_megabytes"]
    assert isinstance(rss, list) and len(rss) >= 6, rss
    assert max(rss) - min(rss[:3]) > 200, rss
    assert max(metrics["system/process_cpu_utilization_percentage"]) > 25
    assert "system/cpu_utilization_percentage" in metrics

    deadline = time.monotonic() + 30
    while not fail.get_alerts() and time.monotonic() < deadline:
        time.sleep(0.3)
    got = fail.get_alerts()
    assert [(a["kind"], a["level"]) for a in got] == [("failed", "error")]
    assert "ValueError: diverged" in got[0]["text"]
    assert burn.get_alerts() == []
