"""Compute targets, with runs on a real two-node Ray cluster started on this machine."""

from __future__ import annotations

import io
import socket
import textwrap
import time
from pathlib import Path

import pytest

from runwidget import (
    ComputeTarget,
    ComputeTargetError,
    Environment,
    Experiment,
    InvalidValueError,
    RayCompute,
    RunFailedError,
    ScriptRunConfig,
    Workspace,
)
from runwidget import status as st
from runwidget.compute.ray import RAY_STATUSES
from tests.ray_cluster import NODE2_RESOURCE, running_ray_cluster

pytestmark = [pytest.mark.ray, pytest.mark.slow]

TRAIN = """
import logging, sys, time
from runwidget import Run
run = Run.get_context()
print("hello", *sys.argv[1:], flush=True)
logging.getLogger("train").info("from logging")
for i in range(5):
    run.log("loss", 1.0 / (i + 1), step=i)
    time.sleep(0.1)
print("done")
"""
FAIL = """
def deep():
    raise ValueError("diverged at step 3")
deep()
"""
LONG = """
import time
print("started", flush=True)
while True:
    time.sleep(0.2)
"""


@pytest.fixture(scope="module")
def cluster():
    with running_ray_cluster() as c:
        yield c


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    for name, text in {"train.py": TRAIN, "fail.py": FAIL, "long.py": LONG}.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


@pytest.fixture
def ws(sqlite_uri, cluster) -> Workspace:
    ws = Workspace(sqlite_uri)
    ComputeTarget.attach(ws, "ray", RayCompute.attach_configuration(address=cluster.address))
    return ws


def _wait(run, statuses, timeout=120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = run.get_status()
        if status in statuses:
            return status
        time.sleep(0.2)
    raise AssertionError(f"run {run.id} stayed {run.get_status()}, wanted {statuses}")


def _job_ends(cluster, job_id: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while (status := cluster.job_status(job_id)) in ("PENDING", "RUNNING"):
        if time.monotonic() > deadline:
            break
        time.sleep(0.3)
    return status


def test_every_ray_job_state_maps_to_a_run_status():
    from ray.job_submission import JobStatus

    assert {s.value for s in JobStatus} == set(RAY_STATUSES)
    assert set(RAY_STATUSES.values()) <= set(st.ALL)


def test_targets_are_recorded_in_the_store(ws, cluster):
    assert list(ws.compute_targets) == ["local", "ray"]
    again = ComputeTarget(workspace=Workspace(ws.store), name="ray")
    assert isinstance(again, RayCompute) and again.address == cluster.address
    assert again.describe()["reachable"] is True
    again.detach()
    assert list(ws.compute_targets) == ["local"]
    with pytest.raises(InvalidValueError, match="cannot be detached"):
        ws.compute_targets["local"].detach()


def test_a_script_on_ray_prints_logs_and_completes(ws, source, cluster):
    exp = Experiment(ws, "on-ray")
    src = ScriptRunConfig(source, "train.py", arguments=["--alpha", 0.5], compute_target="ray")
    started = time.monotonic()
    run = exp.submit(src)
    assert time.monotonic() - started < 30
    out = io.StringIO()
    run.wait_for_completion(show_output=True, file=out)
    text = out.getvalue()
    assert "hello --alpha 0.5" in text and "INFO:train:from logging" in text and "done" in text
    assert run.get_status() == st.COMPLETED
    assert run.get_metrics()["loss"] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    details = run.get_details()
    assert details["target"] == "ray"
    assert run.refresh().properties["runwidget.ray_node_id"] in cluster.node_ids()
    # The job id is the run id; the job ends once the supervisor has written its last items.
    assert _job_ends(cluster, run.id) == "SUCCEEDED"


def test_a_failing_script_on_ray_ends_failed_with_its_traceback(ws, source):
    run = Experiment(ws, "on-ray").submit(ScriptRunConfig(source, "fail.py", compute_target="ray"))
    with pytest.raises(RunFailedError, match="diverged at step 3"):
        run.wait_for_completion(file=io.StringIO())
    error = run.get_details()["error"]
    assert "ValueError: diverged at step 3" in error["message"]
    assert "in deep" in error["traceback"]


def test_cancel_stops_the_ray_job(ws, source, cluster):
    run = Experiment(ws, "on-ray").submit(ScriptRunConfig(source, "long.py", compute_target="ray"))
    _wait(run, {st.RUNNING})
    started = time.monotonic()
    run.cancel()
    assert _wait(run, {st.CANCELED, st.FAILED, st.COMPLETED}, timeout=30) == st.CANCELED
    assert time.monotonic() - started < 15  # within the grace
    assert _job_ends(cluster, run.id) == "STOPPED"


def test_a_target_pins_its_runs_to_a_node(ws, source, cluster):
    ComputeTarget.attach(
        ws,
        "ray-node2",
        RayCompute.attach_configuration(
            address=cluster.address, entrypoint_resources={NODE2_RESOURCE: 1}
        ),
    )
    run = Experiment(ws, "on-ray").submit(
        ScriptRunConfig(source, "train.py", compute_target=ws.compute_targets["ray-node2"])
    )
    run.wait_for_completion(file=io.StringIO())
    node = run.refresh().properties["runwidget.ray_node_id"]
    assert cluster.node_ids()[node] == NODE2_RESOURCE


def test_a_runtime_environment_that_fails_ends_the_run_failed(ws, source, tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("runwidget-no-such-package-anywhere==0.0.1\n")
    env = Environment.from_pip_requirements("broken", requirements)
    run = Experiment(ws, "on-ray").submit(
        ScriptRunConfig(source, "train.py", compute_target="ray", environment=env)
    )
    with pytest.raises(RunFailedError, match="Ray ended the job"):
        run.wait_for_completion(file=io.StringIO())
    assert run.get_status() == st.FAILED


@pytest.mark.postgres
def test_a_postgresql_store_is_read_live_while_a_ray_run_writes(postgres_uri, source, cluster):
    ws = Workspace(postgres_uri)
    ComputeTarget.attach(ws, "ray", RayCompute.attach_configuration(address=cluster.address))
    (source / "slow.py").write_text(
        "import time\nfrom runwidget import Run\nrun = Run.get_context()\n"
        "for i in range(20):\n    run.log('x', float(i))\n    print('line', i, flush=True)\n"
        "    time.sleep(0.25)\n"
    )
    run = Experiment(ws, "pg-ray").submit(ScriptRunConfig(source, "slow.py", compute_target="ray"))
    reader = Workspace(postgres_uri).get_run(run.id)
    seen_running_with_points = False
    while reader.get_status() not in st.TERMINAL:
        if reader.get_status() == st.RUNNING and 0 < len(reader.get_metrics().get("x", [])) < 20:
            seen_running_with_points = True
        time.sleep(0.2)
    assert reader.get_status() == st.COMPLETED
    assert seen_running_with_points
    lines = [line.text for line in reader._store.read_logs(run.id)]
    assert lines[:2] == ["line 0", "line 1"] and len(lines) == 20


# -- bad input -----------------------------------------------------------------------------
def test_an_unreachable_address_fails_within_the_connect_timeout(sqlite_uri, monkeypatch):
    monkeypatch.setenv("RUNWIDGET_CONNECT_TIMEOUT", "2")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    address = f"http://127.0.0.1:{silent.getsockname()[1]}"
    started = time.monotonic()
    with pytest.raises(ComputeTargetError, match="unreachable within 2 s"):
        ComputeTarget.attach(
            Workspace(sqlite_uri), "dead", RayCompute.attach_configuration(address=address)
        )
    assert time.monotonic() - started < 6
    silent.close()
    assert list(Workspace(sqlite_uri).compute_targets) == ["local"]


def test_an_unknown_target_lists_the_attached_ones(ws, source):
    with pytest.raises(ComputeTargetError, match="no compute target named 'gpu'.*'local', 'ray'"):
        Experiment(ws, "bad").submit(ScriptRunConfig(source, "train.py", compute_target="gpu"))


def test_an_sqlite_store_with_a_cluster_elsewhere_is_refused(sqlite_uri, source):
    ws = Workspace(sqlite_uri)
    ws.store.put_target("far", "ray", {"address": "http://192.0.2.1:8265"})
    with pytest.raises(InvalidValueError, match="SQLite file on this machine"):
        Experiment(ws, "bad").submit(ScriptRunConfig(source, "train.py", compute_target="far"))
    assert Experiment(ws, "bad").get_runs() == [] or not list(Experiment(ws, "bad").get_runs())


def test_bad_configurations(source, tmp_path):
    with pytest.raises(InvalidValueError, match="does not exist"):
        Environment.from_pip_requirements("env", tmp_path / "missing.txt")
    with pytest.raises(InvalidValueError, match="not found in source_directory"):
        ScriptRunConfig(source, "missing.py", compute_target="ray")
    with pytest.raises(InvalidValueError, match="compute_target must be"):
        ScriptRunConfig(source, "train.py", compute_target=3)
    with pytest.raises(InvalidValueError, match="http"):
        RayCompute.attach_configuration(address="ftp://head:21")


# -- AutoML on the cluster -----------------------------------------------------------------
def test_automl_on_ray_runs_iterations_as_tasks_two_at_a_time(ws):
    from sklearn.datasets import load_iris

    from runwidget import AutoMLConfig

    config = AutoMLConfig(
        task="classification",
        primary_metric="accuracy",
        training_data=load_iris(as_frame=True).frame,
        label_column_name="target",
        iterations=4,
        n_cross_validations=2,
        allowed_models=["LogisticRegression", "KNN"],
        random_state=1,
        compute_target="ray",
        max_concurrent_iterations=2,
    )
    run = Experiment(ws, "automl-ray").submit(config)
    assert run.type == "automl" and run.get_details()["target"] == "ray"
    out = io.StringIO()
    run.wait_for_completion(show_output=True, file=out)
    assert run.get_status() == st.COMPLETED, run.get_details().get("error")
    children = run.get_children()
    assert len(children) == 4
    assert all(c.get_status() == st.COMPLETED for c in children)
    # Two at a time: some iteration started before the one before it ended.
    spans = sorted((c._record.started, c._record.ended) for c in children)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))
    best, model = run.get_output()
    assert best.id in {c.id for c in children}
    frame = load_iris(as_frame=True).frame
    assert (model.predict(frame.drop(columns="target")) == frame["target"]).mean() > 0.8
    assert "4 iterations: 4 completed" in out.getvalue()


def test_automl_on_ray_an_iteration_whose_worker_dies_fails_alone(ws):
    import threading

    import pandas as pd
    import psutil
    from sklearn.datasets import make_classification

    from runwidget import AutoMLConfig

    X, y = make_classification(n_samples=3000, n_features=20, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)]).assign(label=y)
    config = AutoMLConfig(
        task="classification",
        training_data=frame,
        label_column_name="label",
        iterations=4,
        n_cross_validations=3,
        allowed_models=["RandomForest"],
        random_state=2,
        compute_target="ray",
        max_concurrent_iterations=2,
    )
    killed: list[int] = []

    def kill_one_iteration_worker() -> None:
        # A real crash: the worker process of an iteration's task dies by SIGKILL.
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            for process in psutil.process_iter(["cmdline"]):
                if "ray::_evaluate_task" in " ".join(process.info["cmdline"] or ()):
                    process.kill()
                    killed.append(process.pid)
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_iteration_worker, daemon=True)
    killer.start()
    run = Experiment(ws, "automl-ray").submit(config)
    run.wait_for_completion(file=io.StringIO(), raise_on_error=False)
    killer.join(timeout=5)
    assert killed, "no iteration's worker was seen"
    children = run.get_children()
    statuses = [c.get_status() for c in children]
    assert run.get_status() == st.COMPLETED, run.get_details().get("error")
    assert len(children) == 4 and statuses.count(st.FAILED) == 1, statuses
    failed = children[statuses.index(st.FAILED)]
    assert "Ray worker died" in failed.get_details()["error"]["message"]
    assert statuses.count(st.COMPLETED) == 3
