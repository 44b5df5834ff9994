"""AutoML searches run for real: submitted, supervised, fitted in their iteration process."""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris

from runwidget import AutoMLConfig, Experiment, Run, Workspace
from runwidget import status as st
from runwidget.automl import catalog
from tests import local_runs
from tests.local_runs import isolate_local_runs, stop_left_running

pytestmark = pytest.mark.slow
TERMINAL = (st.COMPLETED, st.FAILED, st.CANCELED)
FAST_CLASSIFIERS = ["LogisticRegression", "KNN"]


@pytest.fixture(autouse=True)
def _local_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Run]]:
    """Searches of this test keep their local files in its temp dir, beat fast, and are
    killed at the end if a failing test left them running."""
    submitted = isolate_local_runs(monkeypatch, tmp_path, AutoMLConfig, heartbeat="0.5")
    yield submitted
    stop_left_running(submitted, script_group=True)


def wait_until(condition: Callable[[], object], timeout: float = 120, what: str = "") -> object:
    return local_runs.wait_until(condition, timeout, what, every=0.1)


def wait_ended(run: Run, timeout: float = 180) -> str:
    return local_runs.wait_ended(run, timeout)


def log_text(run: Run) -> str:
    return "\n".join(line.text for line in run._store.read_logs(run.id))


def check_iterations(run: Run, task: str, count: int) -> list[Run]:
    children = run.get_children()
    assert [c.get_properties()["iteration"] for c in children] == list(range(count))
    best = run.get_metrics()[f"best_{run.get_properties()['primary_metric']}"]
    goal = run.get_properties()["goal"]
    assert best == sorted(best, reverse=goal == "minimize")  # never gets worse
    expected = set(catalog.METRICS[task])
    for child in children:
        props = child.get_properties()
        assert props["pipeline"] == f"{props['preprocessor']} + {props['algorithm']}"
        assert props["preprocessor"] in catalog.SCALERS
        assert len(props) > 4, props  # hyperparameters
        details = child.get_details()
        assert details["startTimeUtc"] and details["endTimeUtc"]
        if child.get_status() == st.COMPLETED:
            logged = set(child.get_metrics())
            assert expected - {"log_loss"} <= logged <= expected, logged
    return children


def test_classification_search_completes_and_predicts(store_uri: str) -> None:
    iris = load_iris(as_frame=True).frame
    experiment = Experiment(Workspace(store_uri), "automl-iris")
    config = AutoMLConfig(
        task="classification",
        primary_metric="AUC_weighted",
        training_data=iris,
        label_column_name="target",
        iterations=4,
        n_cross_validations=3,
        allowed_models=FAST_CLASSIFIERS,
        random_state=7,
    )
    run = experiment.submit(config, tags={"kind": "test"})
    assert run.type == "automl"
    props = run.get_properties()
    assert (props["primary_metric"], props["goal"]) == ("AUC_weighted", "maximize")

    assert wait_ended(run) == st.COMPLETED, run.get_details().get("error")
    children = check_iterations(run, "classification", 4)
    assert all(c.get_status() == st.COMPLETED for c in children)
    assert {c.get_properties()["algorithm"] for c in children} <= set(FAST_CLASSIFIERS)
    props = run.get_properties()
    assert props["iterations_completed"] == 4
    best_run, model = run.get_output()
    assert best_run.id == props["best_child_run_id"]
    assert best_run.get_metrics()["AUC_weighted"] == props["best_score"]
    features = iris.drop(columns="target")
    assert (model.predict(features) == iris["target"]).mean() > 0.9
    # The same works from a run found again later.
    again = Run.get(Workspace(store_uri), run.id)
    assert again.get_output()[0].id == best_run.id
    text = log_text(run)
    assert "AutoML classification: 4 iterations, primary metric AUC_weighted (maximize), " in text
    assert "4 iterations: 4 completed, 0 failed, 0 canceled" in text
    # The local folder (with the pickled training data) is gone.
    assert not Path(run.refresh().properties["runwidget.run_dir"]).exists()


def test_regression_search_never_tries_a_blocked_model(tmp_path: Path) -> None:
    diabetes = load_diabetes(as_frame=True).frame
    blocked = ["RandomForest", "ExtremeRandomTrees", "HistGradientBoosting", "SVM"]
    run = Experiment(name="automl-diabetes").submit(
        AutoMLConfig(
            task="regression",
            primary_metric="normalized_root_mean_squared_error",
            training_data=diabetes,
            label_column_name="target",
            iterations=5,
            validation_size=0.25,
            blocked_models=blocked,
            random_state=3,
        )
    )
    assert wait_ended(run) == st.COMPLETED, run.get_details().get("error")
    children = check_iterations(run, "regression", 5)
    assert {c.get_properties()["algorithm"] for c in children} <= {"ElasticNet", "KNN"}
    assert run.get_properties()["goal"] == "minimize"
    _, model = run.get_output()
    predicted = model.predict(diabetes.drop(columns="target").head(10))
    assert predicted.dtype.kind == "f" and len(predicted) == 10


def test_a_failing_iteration_is_recorded_and_the_search_continues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Make the second fit of the iteration process raise: a start-up hook in its interpreter.
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(textwrap.dedent("""
        import sys
        if "--multiprocessing-fork" in sys.argv:
            import runwidget.automl.evaluate as evaluate_module
            real = evaluate_module.evaluate
            calls = []
            def evaluate(spec, data, settings):
                calls.append(spec)
                if len(calls) == 2:
                    raise RuntimeError("injected failure")
                return real(spec, data, settings)
            evaluate_module.evaluate = evaluate
    """))  # fmt: skip
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")])
    )
    run = Experiment(name="automl-failing").submit(
        AutoMLConfig(
            task="classification",
            training_data=load_iris(as_frame=True).frame,
            label_column_name="target",
            iterations=4,
            n_cross_validations=3,
            allowed_models=FAST_CLASSIFIERS,
            random_state=1,
        )
    )
    assert wait_ended(run) == st.COMPLETED, run.get_details().get("error")
    children = check_iterations(run, "classification", 4)
    assert [c.get_status() for c in children] == [
        st.COMPLETED,
        st.FAILED,
        st.COMPLETED,
        st.COMPLETED,
    ]
    error = children[1].get_details()["error"]
    assert error["message"] == "RuntimeError: injected failure"
    assert "Traceback" in error["traceback"] and "injected failure" in error["traceback"]
    assert children[1].get_metrics() == {}
    assert run.get_properties()["iterations_failed"] == 1
    assert "RuntimeError: injected failure" in log_text(run)


def test_cancel_stops_after_the_current_iteration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNWIDGET_CANCEL_GRACE", "30")
    run = Experiment(name="automl-cancel").submit(
        AutoMLConfig(
            task="classification",
            training_data=load_iris(as_frame=True).frame,
            label_column_name="target",
            iterations=500,
            n_cross_validations=3,
            allowed_models=FAST_CLASSIFIERS,
            random_state=2,
        )
    )
    wait_until(lambda: len(run.get_children()) >= 3, what="three iterations")
    run.cancel()
    assert run.get_status() == st.CANCELED
    children = run.get_children()
    assert 3 <= len(children) < 500
    # The iteration in progress at the cancel was allowed to finish.
    assert all(c.get_status() == st.COMPLETED for c in children), [
        (c.get_status(), c.get_details().get("error")) for c in children
    ]
    time.sleep(1.0)
    assert len(run.get_children()) == len(children)  # nothing started afterwards
    assert run.get_properties()["stopped_early"] == "the run was canceled"
    assert run.get_output()[0].get_status() == st.COMPLETED


def test_the_experiment_time_limit_is_honoured() -> None:
    started = time.monotonic()
    run = Experiment(name="automl-timeout").submit(
        AutoMLConfig(
            task="classification",
            training_data=load_iris(as_frame=True).frame,
            label_column_name="target",
            iterations=10_000,
            experiment_timeout_minutes=0.1,
            n_cross_validations=3,
            allowed_models=FAST_CLASSIFIERS,
            random_state=4,
        )
    )
    assert wait_ended(run) == st.COMPLETED, run.get_details().get("error")
    props = run.get_properties()
    assert "the experiment time limit (0.1 min) was reached" in props["stopped_early"]
    assert 1 <= len(run.get_children()) < 10_000
    search_time = run._record.ended - run._record.started
    assert search_time < 6 + 15, search_time  # the limit, plus the start of two processes
    assert time.monotonic() - started < 120


def test_bad_config_errors_leave_no_run_behind(tmp_path: Path) -> None:
    experiment = Experiment(name="automl-bad")
    iris = load_iris(as_frame=True).frame
    with pytest.raises(Exception, match="primary_metric 'rmse' is not accepted"):
        AutoMLConfig("classification", primary_metric="rmse", training_data=iris,
                     label_column_name="target")  # fmt: skip
    data = iris.copy()
    config = AutoMLConfig("classification", training_data=data, label_column_name="target",
                          iterations=2)  # fmt: skip
    data["target"] = pd.Series(range(150), dtype=float) + 0.5  # changed after the check
    with pytest.raises(Exception, match="holds continuous values"):
        experiment.submit(config)
    assert list(experiment.get_runs()) == []
    assert not list((tmp_path / "exec").glob("automl-*"))
