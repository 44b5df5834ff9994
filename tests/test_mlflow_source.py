"""RunDetails' MLflow source against real MLflow: a SQLite store and a tracking server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")

from mlflow.tracking import MlflowClient  # noqa: E402

from runwidget.errors import RunNotFoundError, StoreUnavailableError  # noqa: E402
from runwidget.sources import mlflow as mlflow_source  # noqa: E402
from runwidget.sources import source_for  # noqa: E402
from runwidget.sources.mlflow import MlflowSource  # noqa: E402
from runwidget.view.model import RunView  # noqa: E402


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # mlflow.set_experiment (Optuna's callback calls it) sets this; undone after the test.
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    mlflow.set_tracking_uri(uri)
    yield uri
    while mlflow.active_run():
        mlflow.end_run()
    # Optuna's callback selects an experiment by name; the next test has a new database.
    mlflow.tracking.fluent._active_experiment_id = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on loopback with a SQLite backend."""
    base = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    log = open(base / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{base}/mlflow.db",
         "--artifacts-destination", str(base / "artifacts"), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"mlflow server did not start:\n{(base / 'server.log').read_text()}")
            time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def _nested(depth: int = 3) -> list[str]:
    """Runs nested ``depth`` levels deep; returns their ids, outermost first."""
    ids = []
    for level in range(depth):
        run = mlflow.start_run(run_name=f"level {level} <b>", nested=level > 0)
        ids.append(run.info.run_id)
        mlflow.log_param("level", level)
        for step in range(10):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    for _ in ids:
        mlflow.end_run()
    return ids


def test_record_params_tags_and_status(tracking_uri):
    with mlflow.start_run(run_name="<img src=x onerror=alert(1)>") as run:
        mlflow.log_params({"lr": 0.1, "layers": 3})
        mlflow.set_tag("team", "vision")
        source = MlflowSource(run.info.run_id)
        record = source.record()
        assert record.status == "Running"
        assert record.display_name == "<img src=x onerror=alert(1)>"
        assert record.properties["lr"] == "0.1" and record.properties["layers"] == "3"
        assert "mlflow ui --backend-store-uri" in record.properties["mlflow ui"]
        assert record.tags == {"team": "vision"}
        assert source.portal_url() is None
    assert source.record().status == "Completed"
    client = MlflowClient()
    for mlflow_status, ours in (("FAILED", "Failed"), ("KILLED", "Canceled")):
        other = client.create_run("0")
        client.set_terminated(other.info.run_id, status=mlflow_status)
        assert MlflowSource(other.info.run_id).record().status == ours


def test_stale_running_run_reads_as_not_responding(tracking_uri, monkeypatch):
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 1.0)
        monkeypatch.setenv("RUNWIDGET_MLFLOW_STALE_AFTER", "0.5")
        time.sleep(1.0)
        record = MlflowSource(run.info.run_id).record()
    assert record.status == "NotResponding"
    assert "may have crashed" in record.error["message"]


def test_metrics_are_read_incrementally(tracking_uri, monkeypatch):
    reads: list[tuple] = []
    with mlflow.start_run() as run:
        for step in range(100):
            mlflow.log_metric("loss", 100.0 - step, step=step)
        for i in range(5):
            mlflow.log_metric("no_step", float(i))  # MLflow puts these at step 0
        source = MlflowSource(run.info.run_id)
        sampled = source._sampled
        monkeypatch.setattr(
            source, "_sampled", lambda k, a, b: reads.append((k, a, b)) or sampled(k, a, b)
        )
        first = source.metrics(0)
        assert [p.step for p in first if p.name == "loss"] == [float(s) for s in range(100)]
        assert [p.value for p in first if p.name == "no_step"] == [0.0, 1.0, 2.0, 3.0, 4.0]
        cursor = first[-1].seq
        assert source.metrics(cursor) == []
        for step in range(100, 103):
            mlflow.log_metric("loss", 100.0 - step, step=step)
        mlflow.log_metric("no_step", 5.0)
        new = source.metrics(cursor)
    assert [(p.name, p.step) for p in new if p.name == "loss"] == [
        ("loss", 100.0), ("loss", 101.0), ("loss", 102.0)
    ]  # fmt: skip
    assert [p.value for p in new if p.name == "no_step"] == [5.0]
    assert ("loss", 100, 102) in reads  # only the new step range was asked for


def test_nested_runs_three_levels(tracking_uri):
    outer, middle, inner = _nested(3)
    source = MlflowSource(outer)
    children = source.children(0)
    assert [c.id for c in children] == [middle]
    assert children[0].display_name == "level 1 <b>" and children[0].parent_id == outer
    grandchild = source.child(middle)
    assert [c.id for c in grandchild.children(0)] == [inner]
    assert [p.value for p in grandchild.child(inner).metrics(0)][-1] == pytest.approx(0.1)
    with pytest.raises(RunNotFoundError, match="has no child run"):
        source.child(inner)


def test_children_cursor_returns_only_changed(tracking_uri):
    with mlflow.start_run() as parent:
        source = MlflowSource(parent.info.run_id)
        with mlflow.start_run(nested=True) as a:
            mlflow.log_metric("m", 1.0)
        first = source.children(0)
        cursor = max(c.seq for c in first)
        assert source.children(cursor) == []
        with mlflow.start_run(nested=True) as b:
            pass
        changed = source.children(cursor)
    assert [c.id for c in changed] == [b.info.run_id]
    assert a.info.run_id != b.info.run_id


def test_text_artifacts_are_the_log_and_images_the_gallery(tracking_uri, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with mlflow.start_run() as run:
        mlflow.log_text("epoch 1\nepoch 2 <script>\n", "train.log")
        fig, ax = plt.subplots()
        ax.plot([1, 2])
        mlflow.log_figure(fig, "curve.png")
        plt.close(fig)
    source = MlflowSource(run.info.run_id)
    lines = source.logs(0)
    assert [(line.stream, line.text) for line in lines] == [
        ("train.log", "epoch 1"), ("train.log", "epoch 2 <script>")
    ]  # fmt: skip
    assert source.logs(lines[-1].seq) == []
    images = source.images(0)
    assert [i.path for i in images] == ["curve.png"]
    assert source.image_bytes(images[0])[:4] == b"\x89PNG"


def test_unknown_run_and_unreachable_server(tracking_uri, monkeypatch):
    # MLflow retries a refused connection for minutes by default.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with pytest.raises(RunNotFoundError, match="'0123456789abcdef' not found"):
        MlflowSource("0123456789abcdef")
    with pytest.raises(StoreUnavailableError):
        MlflowSource("abc", "http://127.0.0.1:9")


def test_source_for_accepts_mlflow_runs(tracking_uri):
    with mlflow.start_run() as active:
        assert isinstance(source_for(active), MlflowSource)
    assert isinstance(source_for(MlflowClient().get_run(active.info.run_id)), MlflowSource)


def test_optuna_callback_study_is_a_sweep(tracking_uri):
    optuna = pytest.importorskip("optuna")
    integration = pytest.importorskip("optuna_integration")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    callback = integration.MLflowCallback(
        tracking_uri=tracking_uri, metric_name="rmse", mlflow_kwargs={"nested": True}
    )
    with mlflow.start_run(run_name="search") as parent:
        study = optuna.create_study(direction="minimize")
        study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=6,
                       callbacks=[callback])  # fmt: skip
    view = RunView(MlflowSource(parent.info.run_id))
    view.refresh()
    snapshot = view.snapshot()
    record = view.source.record()
    assert record.run_type == "sweep"
    assert record.properties["primary_metric"] == "rmse" and record.properties["goal"] == "minimize"
    assert snapshot["iterations"]["params"] == ["x"]
    rows = snapshot["children"]["rows"]
    assert sorted(row["iteration"] for row in rows) == list(range(6))
    best = [row["best"] for row in sorted(rows, key=lambda r: r["iteration"])]
    assert best == sorted(best, reverse=True)  # best so far only improves (minimize)
    assert min(best) == pytest.approx(study.best_value)


def test_sklearn_autolog_search_is_a_sweep(tracking_uri):
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV
    from sklearn.tree import DecisionTreeClassifier

    mlflow.sklearn.autolog(max_tuning_runs=4, log_models=False, silent=True)
    try:
        x, y = load_iris(return_X_y=True)
        with mlflow.start_run() as parent:
            GridSearchCV(DecisionTreeClassifier(), {"max_depth": [1, 2, 3, 4]}, cv=3).fit(x, y)
    finally:
        mlflow.sklearn.autolog(disable=True)
    source = MlflowSource(parent.info.run_id)
    record = source.record()
    assert record.run_type == "sweep" and record.properties["primary_metric"] == "mean_test_score"
    assert len(source.children(0)) == 4


def test_over_a_tracking_server(mlflow_server, monkeypatch):
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    mlflow.set_tracking_uri(mlflow_server)
    try:
        outer, middle, _ = _nested(3)
        source = MlflowSource(outer, mlflow_server)
        points = source.metrics(0)
        assert [p.step for p in points] == [float(s) for s in range(10)]
        assert [c.id for c in source.children(0)] == [middle]
        assert source.portal_url().startswith(f"{mlflow_server}/#/experiments/")
        assert "mlflow ui" not in source.record().properties
        with mlflow.start_run(run_id=outer):
            mlflow.log_metric("loss", 0.01, step=10)
        assert [p.step for p in source.metrics(points[-1].seq)] == [10.0]
    finally:
        while mlflow.active_run():
            mlflow.end_run()


def test_mlflow_missing_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ImportError, match=r"pip install runwidget\[mlflow\]"):
        mlflow_source.require_mlflow()
    assert Path(mlflow_source.__file__).name == "mlflow.py"
