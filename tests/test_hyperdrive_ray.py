"""A sweep whose children run on a real Ray cluster; one child fails, alone."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from runwidget import (
    ComputeTarget,
    Experiment,
    HyperDriveConfig,
    PrimaryMetricGoal,
    RayCompute,
    ScriptRunConfig,
    Workspace,
)
from runwidget import status as st
from runwidget.hyperdrive import GridParameterSampling, choice
from tests.ray_cluster import running_ray_cluster

pytestmark = [pytest.mark.ray, pytest.mark.slow]

TRAIN = """
    import argparse
    from runwidget import Run

    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, required=True)
    args = parser.parse_args()
    if args.alpha == 3.0:
        raise ValueError("alpha 3 diverges")
    run = Run.get_context()
    for step in range(3):
        run.log("mse", args.alpha * (3 - step))
"""


def test_a_sweep_runs_its_children_on_ray(sqlite_uri, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RUNWIDGET_EXEC_DIR", str(tmp_path / "exec"))
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(textwrap.dedent(TRAIN).lstrip())
    ws = Workspace(sqlite_uri)
    with running_ray_cluster() as cluster:
        ComputeTarget.attach(ws, "ray", RayCompute.attach_configuration(address=cluster.address))
        config = HyperDriveConfig(
            run_config=ScriptRunConfig(source, "train.py", compute_target="ray"),
            hyperparameter_sampling=GridParameterSampling({"--alpha": choice(1.0, 2.0, 3.0)}),
            primary_metric_name="mse",
            primary_metric_goal=PrimaryMetricGoal.MINIMIZE,
            max_total_runs=3,
            max_concurrent_runs=2,
        )
        sweep = Experiment(ws, "sweep-on-ray").submit(config)
        deadline = time.monotonic() + 240
        while sweep.get_status() not in st.TERMINAL:
            assert time.monotonic() < deadline, sweep.get_status()
            time.sleep(0.5)
    children = sweep.get_children()
    assert len(children) == 3
    assert {c.get_details()["target"] for c in children} == {"ray"}
    by_alpha = {c.get_properties()["alpha"]: c for c in children}
    assert by_alpha[3.0].get_status() == st.FAILED
    assert "alpha 3 diverges" in by_alpha[3.0].get_details()["error"]["message"]
    assert {by_alpha[a].get_status() for a in (1.0, 2.0)} == {st.COMPLETED}
    assert sweep.get_status() == st.COMPLETED
    assert sweep.get_best_run_by_primary_metric().id == by_alpha[1.0].id
