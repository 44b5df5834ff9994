"""AutoML without background processes: configuration checks, the search space, metrics,
the search loop (with a stand-in for the iteration process) and get_output."""

from __future__ import annotations

import math
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine

from runwidget import AutoMLConfig, Experiment, InvalidValueError, RunwidgetError, Workspace
from runwidget import status as st
from runwidget.automl import catalog, metrics, pipelines
from runwidget.automl.evaluate import Data, evaluate, final_model
from runwidget.automl.record import MODEL_FILE
from runwidget.automl.search import Search, Stopper
from runwidget.automl.worker import IterationWorker, Outcome, WorkerError
from runwidget.store import RunType


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    return load_iris(as_frame=True).frame


@pytest.fixture(scope="module")
def diabetes() -> pd.DataFrame:
    return load_diabetes(as_frame=True).frame


def config(data: pd.DataFrame, task: str = "classification", **kwargs: Any) -> AutoMLConfig:
    kwargs.setdefault("label_column_name", "target")
    kwargs.setdefault("iterations", 5)
    kwargs.setdefault("random_state", 0)
    return AutoMLConfig(task=task, training_data=data, **kwargs)


# -- configuration ------------------------------------------------------------------------
def test_defaults_follow_the_task(iris: pd.DataFrame, diabetes: pd.DataFrame) -> None:
    c = config(iris)
    assert (c.primary_metric, c.goal) == ("accuracy", "maximize")
    assert c.algorithms == catalog.ALGORITHMS["classification"]
    r = config(diabetes, "regression", primary_metric="normalized_root_mean_squared_error")
    assert r.goal == "minimize"
    settings = r.settings()
    assert settings["validation"] == {"folds": 10}  # 442 rows: the reference's rule
    assert settings["numeric_columns"] == [c for c in diabetes.columns if c != "target"]
    assert settings["min_train_rows"] == 442 - 45


def test_a_random_state_is_drawn_and_recorded(iris: pd.DataFrame) -> None:
    c = AutoMLConfig("classification", training_data=iris, label_column_name="target")
    seed = c.settings()["random_state"]
    assert isinstance(seed, int) and 0 <= seed < 2**31


BAD_SETTINGS = [
    ({"task": "clustering"},
     r"task must be one of 'classification', 'regression', got 'clustering'"),
    ({"primary_metric": "r2_score"},
     r"primary_metric 'r2_score' is not accepted for classification \('r2_score' is a "
     r"regression metric\); accepted: accuracy, balanced_accuracy, AUC_weighted"),
    ({"primary_metric": "log_loss"}, r"log_loss is logged, but cannot be optimised"),
    ({"primary_metric": "auc"}, r"accepted: accuracy, .*norm_macro_recall$"),
    ({"iterations": 0}, r"iterations must be from 1 to 10000, got 0"),
    ({"iterations": 2.5}, r"iterations must be an integer from 1 to 10000, got float"),
    ({"iterations": True}, r"iterations must be an integer"),
    ({"experiment_timeout_minutes": -1},
     r"experiment_timeout_minutes must be a number of minutes > 0"),
    ({"iteration_timeout_minutes": "5"}, r"iteration_timeout_minutes must be a number"),
    ({"n_cross_validations": 3, "validation_size": 0.2},
     r"give n_cross_validations \(3\) or validation_size \(0.2\), not both"),
    ({"n_cross_validations": 1}, r"n_cross_validations must be from 2 to 100"),
    ({"validation_size": 1.5}, r"validation_size must be the fraction of rows held out"),
    ({"allowed_models": ["XGBoost"]},
     r"allowed_models: 'XGBoost' is not a classification algorithm; accepted: "
     r"LogisticRegression, RandomForest"),
    ({"blocked_models": "SVM"}, r"blocked_models must be a list of algorithm names, got str"),
    ({"allowed_models": ["ElasticNet"]}, r"'ElasticNet' is not a classification algorithm"),
    ({"allowed_models": ["SVM"], "blocked_models": ["svm"]},
     r"no algorithm is left to try: allowed_models=\['SVM'\], blocked_models=\['SVM'\]"),
    ({"random_state": -1}, r"random_state must be from 0 to 4294967295"),
    ({"max_cores_per_iteration": 0},
     r"max_cores_per_iteration \(or -1 for all cores\) must be from 1"),
    ({"label_column_name": None},
     r"label_column_name must name the column of training_data to predict, got NoneType"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "message"), BAD_SETTINGS)
def test_bad_settings_are_named(iris: pd.DataFrame, kwargs: dict[str, Any], message: str) -> None:
    kwargs = {"task": "classification", **kwargs}
    task = kwargs.pop("task")
    with pytest.raises(InvalidValueError, match=message):
        config(iris, task, **kwargs)


def test_model_names_are_matched_without_case(iris: pd.DataFrame) -> None:
    c = config(iris, allowed_models=["knn", "svm", "KNN"], blocked_models=["Svm"])
    assert c.algorithms == ("KNN",)


def test_bad_data_is_refused_before_anything_starts(
    iris: pd.DataFrame, diabetes: pd.DataFrame
) -> None:
    with pytest.raises(
        InvalidValueError, match=r"training_data must be a pandas DataFrame.*got ndarray"
    ):
        config(iris.to_numpy())  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match=r"training_data is empty: it has no rows"):
        config(iris.iloc[:0])
    with pytest.raises(
        InvalidValueError,
        match=r"label_column_name 'species' is not a column of training_data; its columns are: "
        r"'sepal length \(cm\)', .*'target'",
    ):
        config(iris, label_column_name="species")
    with pytest.raises(InvalidValueError, match=r"no feature columns: 'target' is its only column"):
        config(iris[["target"]])
    with pytest.raises(
        InvalidValueError, match=r"label column 'target' holds continuous values \(e\.g\. 0\.5\)"
    ):
        config(iris.assign(target=iris["target"] / 2))
    with pytest.raises(
        InvalidValueError,
        match=r"label column 'target' has 214 distinct numbers, 84 of them in a single row: "
        r"that looks like a regression target; use task='regression'",
    ):
        config(diabetes)
    with pytest.raises(
        InvalidValueError,
        match=r"label column 'target' is not numeric \((object|str), e\.g\. 'a'\)",
    ):
        config(iris.assign(target=iris["target"].map({0: "a", 1: "b", 2: "c"})), "regression")
    with pytest.raises(
        InvalidValueError, match=r"has 2 missing value\(s\) of 150; drop those rows"
    ):
        config(iris.assign(target=iris["target"].where(iris.index > 1)))
    with pytest.raises(InvalidValueError, match=r"a single class \(0\)"):
        config(iris.assign(target=0))
    with pytest.raises(
        InvalidValueError, match=r"column names must be strings; these are not: 0, 1"
    ):
        config(pd.DataFrame({0: [1.0, 2.0], 1: [3.0, 4.0], "target": [0, 1]}))
    with pytest.raises(
        InvalidValueError,
        match=r"columns of a type AutoML cannot use: 'when' \(datetime64\[.s\]\), "
        r"'mixed' \(object\)",
    ):
        config(iris.assign(when=pd.Timestamp("2024-01-01"), mixed=["a", 1] * 75))


def test_splits_must_fit_the_data(iris: pd.DataFrame) -> None:
    small = iris.groupby("target").head(4)  # 4 rows per class
    with pytest.raises(
        InvalidValueError,
        match=r"class 0 of the label has 4 row\(s\): each class needs at least 5 for 5-fold",
    ):
        config(small, n_cross_validations=5)
    with pytest.raises(InvalidValueError, match=r"too few for 10-fold cross-validation"):
        config(small, n_cross_validations=10)
    with pytest.raises(InvalidValueError, match=r"validation_size=0.1 of 12 rows leaves 10 rows "
                       r"to train on and 2 to validate; each part needs at least 3"):  # fmt: skip
        config(small, validation_size=0.1)
    config(small, n_cross_validations=3)


def test_data_changed_after_the_config_is_checked_again(iris: pd.DataFrame) -> None:
    data = iris.copy()
    c = config(data)
    del data["target"]
    with pytest.raises(InvalidValueError, match="label_column_name 'target' is not a column"):
        c.settings()


def test_an_in_memory_store_cannot_run_a_search(iris: pd.DataFrame) -> None:
    experiment = Experiment(Workspace("sqlite:///:memory:"), "automl")
    with pytest.raises(InvalidValueError, match="lives in this process's memory"):
        experiment.submit(config(iris))
    assert list(experiment.get_runs()) == []


# -- pipelines and metrics ----------------------------------------------------------------
SMALL = {
    "LogisticRegression": {"C": 1.0, "class_weight": "balanced"},
    "ElasticNet": {"alpha": 0.01, "l1_ratio": 0.5},
    "RandomForest": {"n_estimators": 10, "max_depth": 4, "max_features": 0.5,
                     "min_samples_leaf": 2},
    "ExtremeRandomTrees": {"n_estimators": 10, "max_depth": 4, "max_features": 0.5,
                           "min_samples_leaf": 2},
    "HistGradientBoosting": {"learning_rate": 0.1, "max_iter": 20, "max_leaf_nodes": 8,
                             "min_samples_leaf": 5, "l2_regularization": 0.01},
    "KNN": {"n_neighbors": 5, "weights": "distance", "p": 2},
    "SVM": {"C": 1.0, "gamma": 0.1},
}  # fmt: skip


def _with_categories(frame: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    out = frame.copy()
    out["colour"] = rng.choice(["red", "green", None], size=len(frame))
    first = out.columns[0]
    out.loc[out.index[::7], first] = np.nan  # missing values to impute
    return out


@pytest.mark.parametrize(
    ("task", "loader", "validation"),
    [
        ("classification", load_wine, {"folds": 3}),
        ("classification", load_breast_cancer, {"size": 0.25}),
        ("regression", load_diabetes, {"folds": 3}),
    ],
)
def test_every_algorithm_fits_scores_and_predicts(task, loader, validation) -> None:
    frame = _with_categories(loader(as_frame=True).frame)
    c = config(frame, task, validation_size=validation.get("size"),
               n_cross_validations=validation.get("folds"))  # fmt: skip
    settings = c.settings()
    assert settings["categorical_columns"] == ["colour"]
    data = Data.prepare(frame, settings)
    for algorithm in catalog.ALGORITHMS[task]:
        params = dict(SMALL[algorithm])
        if task == "regression" and algorithm == "SVM":
            params["epsilon"] = 0.1
        if task == "regression" and algorithm == "LogisticRegression":
            continue
        spec = {"algorithm": algorithm, "preprocessor": "RobustScaler", "params": params}
        found = evaluate(spec, data, settings)
        assert set(found.metrics) == set(catalog.METRICS[task]), algorithm
        primary = found.metrics[c.primary_metric]
        assert math.isfinite(primary), (algorithm, found.metrics)
        if task == "classification":
            assert primary > 0.6, (algorithm, primary)
            if algorithm != "SVM":
                assert math.isfinite(found.metrics["log_loss"])
            assert 0.5 < found.metrics["AUC_weighted"] <= 1
        model = pickle.loads(pickle.dumps(final_model(spec, data, settings, found)))
        predicted = model.predict(frame.drop(columns="target").head(20))
        assert len(predicted) == 20


def test_the_search_space_draws_valid_specs() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    settings = {"task": "regression", "algorithms": ["KNN", "SVM", "ElasticNet"],
                "min_train_rows": 12}  # fmt: skip
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
    seen = set()
    for _ in range(40):
        trial = study.ask()
        spec = pipelines.suggest(trial, settings)
        seen.add(spec["algorithm"])
        assert spec["preprocessor"] in catalog.SCALERS
        if spec["algorithm"] == "KNN":
            assert 1 <= spec["params"]["n_neighbors"] <= 12  # capped by the smallest fold
        if spec["algorithm"] == "SVM":
            assert "epsilon" in spec["params"]
        study.tell(trial, 0.0)
    assert seen == {"KNN", "SVM", "ElasticNet"}
    assert pipelines.describe({"preprocessor": "MinMaxScaler", "algorithm": "SVM"}) == (
        "MinMaxScaler + SVM"
    )


def test_metrics_of_decision_functions_and_undefined_cases() -> None:
    classes = np.array(["a", "b"])
    y = np.array(["a", "b", "b", "a"])
    _, scores = metrics.scores_of(_Decision(np.array([-2.0, 1.0, 3.0, 0.5])), None)
    found = metrics.classification(y, np.array(["a", "b", "b", "b"]), classes, None, scores)
    assert found["accuracy"] == 0.75
    assert found["AUC_weighted"] == 1.0  # every "b" scores above every "a"
    assert math.isnan(found["log_loss"])  # no probabilities
    assert found["norm_macro_recall"] == pytest.approx(0.5)
    # One class only in y_true: AUC is undefined, not an error.
    one = metrics.classification(np.array(["a", "a"]), np.array(["a", "a"]), classes, None,
                                 np.array([[0.9, 0.1], [0.8, 0.2]]))  # fmt: skip
    assert math.isnan(one["AUC_weighted"]) and one["accuracy"] == 1.0
    reg = metrics.regression(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0]), 2.0)
    assert math.isnan(reg["spearman_correlation"])
    assert reg["normalized_mean_absolute_error"] == pytest.approx(1 / 3)
    assert metrics.average([{"a": 1.0, "b": float("nan")}, {"a": 3.0, "b": 2.0}]) == {
        "a": 2.0,
        "b": 2.0,
    }


class _Decision:
    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def decision_function(self, _X: Any) -> np.ndarray:
        return self.values


# -- the search loop with a stand-in iteration process ------------------------------------
class FakeWorker:
    """Answers like an iteration process: scores from ``score(iteration, spec)``, or the
    outcome that ``outcomes`` holds for an iteration."""

    def __init__(self, score=None, outcomes=None, during=None) -> None:
        self.score = score or (lambda i, spec: 0.5 + 0.01 * ((i * 7) % 5))
        self.outcomes: dict[int, Outcome] = outcomes or {}
        self.during = during  # called while an iteration "runs"
        self.saved: list[int] = []
        self.closed = False

    def start(self, should_stop) -> str | None:
        return None

    def evaluate(self, iteration, spec, timeout, should_stop) -> Outcome:
        if self.during is not None:
            self.during(iteration)
            reason = should_stop()
            if reason is not None:
                return Outcome("stopped", reason=reason)
        if iteration in self.outcomes:
            return self.outcomes[iteration]
        value = self.score(iteration, spec)
        found = {name: value for name in catalog.CLASSIFICATION_METRICS}
        found["log_loss"] = float("nan")
        return Outcome("ok", metrics=found)

    def save(self, iteration, path, timeout, should_stop) -> Outcome:
        self.saved.append(iteration)
        Path(path).write_bytes(pickle.dumps({"model of": iteration}))
        return Outcome("ok")

    def close(self) -> None:
        self.closed = True


def make_search(experiment: Experiment, worker: FakeWorker, *, iterations: int = 6,
                timeout: float | None = None, **extra: Any) -> Search:  # fmt: skip
    parent = experiment.start_logging(run_type=RunType.AUTOML)
    parent.add_properties({"primary_metric": "accuracy", "goal": "maximize"})
    settings = {
        "task": "classification", "primary_metric": "accuracy", "goal": "maximize",
        "iterations": iterations, "experiment_timeout_minutes": None,
        "iteration_timeout_minutes": None, "validation": {"folds": 3},
        "algorithms": ["LogisticRegression", "KNN"], "random_state": 3, "n_rows": 150,
        "min_train_rows": 100, **extra,
    }  # fmt: skip
    return Search(parent, settings, worker, Stopper(timeout, cancel_wait=5.0), out=_Sink())  # type: ignore[arg-type]


class _Sink:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass


def test_a_failing_iteration_is_recorded_and_the_search_goes_on(store_uri: str) -> None:
    experiment = Experiment(Workspace(store_uri), "automl")
    worker = FakeWorker(
        score=lambda i, spec: [0.70, 0.80, 0.75, 0.90, 0.85, 0.95][i],
        outcomes={
            2: Outcome("failed", error={"message": "ValueError: bad pipeline",
                                        "traceback": "Traceback...\nValueError: bad pipeline"}),
            4: Outcome("crashed", error={"message": "the iteration's process died (killed by "
                                                    "SIGKILL) (out of memory?)"}),
        },
    )  # fmt: skip
    search = make_search(experiment, worker)
    search.run()
    assert search.failure() is None
    assert worker.closed
    parent = search.parent
    parent.complete()
    children = parent.get_children()
    assert [c.get_properties()["iteration"] for c in children] == list(range(6))
    statuses = [c.get_status() for c in children]
    assert statuses == [
        st.COMPLETED,
        st.COMPLETED,
        st.FAILED,
        st.COMPLETED,
        st.FAILED,
        st.COMPLETED,
    ]
    failed = children[2].get_details()["error"]
    assert failed == {"message": "ValueError: bad pipeline",
                      "traceback": "Traceback...\nValueError: bad pipeline"}  # fmt: skip
    assert "out of memory?" in children[4].get_details()["error"]["message"]
    for child in children:
        props = child.get_properties()
        assert {"iteration", "pipeline", "preprocessor", "algorithm"} <= set(props)
        assert props["pipeline"] == f"{props['preprocessor']} + {props['algorithm']}"
        assert props["algorithm"] in ("LogisticRegression", "KNN")
        assert len(props) > 4  # the hyperparameters
        if child.get_status() == st.COMPLETED:
            assert set(child.get_metrics()) == set(catalog.CLASSIFICATION_METRICS) - {"log_loss"}
    best = parent.get_metrics()["best_accuracy"]
    assert best == [0.70, 0.80, 0.80, 0.90, 0.90, 0.95]
    assert best == sorted(best)  # best so far never gets worse
    props = parent.get_properties()
    assert props["best_iteration"] == 5 and props["best_score"] == 0.95
    assert props["iterations_completed"] == 4 and props["iterations_failed"] == 2
    # Models are kept for the iterations that improved the best, and loaded back.
    assert worker.saved == [0, 1, 3, 5]
    run, model = parent.get_output()
    assert run.id == children[5].id and model == {"model of": 5}
    assert parent.get_output(iteration=3)[1] == {"model of": 3}
    with pytest.raises(RunwidgetError, match=r"the model of iteration 4 .* was not kept: models "
                       r"are kept for the iterations that improved the best score \(iterations "
                       r"0, 1, 3, 5\)"):  # fmt: skip
        parent.get_output(iteration=4)
    with pytest.raises(InvalidValueError, match=r"has no iteration 9 \(iterations: 0 to 5\)"):
        parent.get_output(iteration=9)
    text = search.out.text  # type: ignore[attr-defined]
    assert "FAILED" in text and "ValueError: bad pipeline" in text
    assert "6 iterations: 4 completed, 2 failed, 0 canceled" in text


def test_cancel_lets_the_current_iteration_finish(sqlite_uri: str) -> None:
    experiment = Experiment(Workspace(sqlite_uri), "automl")
    holder: dict[str, Search] = {}
    worker = FakeWorker(during=lambda i: i == 2 and holder["search"].stopper.cancel())
    search = holder["search"] = make_search(experiment, worker, iterations=20)
    search.run()
    children = search.parent.get_children()
    assert [c.get_status() for c in children] == [st.COMPLETED] * 3
    assert search.failure() is None  # a canceled search is not a failed one
    assert search.parent.get_properties()["stopped_early"] == "the run was canceled"


def test_an_iteration_that_outlives_the_cancel_grace_is_stopped(sqlite_uri: str) -> None:
    experiment = Experiment(Workspace(sqlite_uri), "automl")
    holder: dict[str, Search] = {}

    def during(i: int) -> None:
        if i == 1:
            holder["search"].stopper.cancel()
            holder["search"].stopper.canceled_at -= 10  # the grace has passed

    search = holder["search"] = make_search(experiment, FakeWorker(during=during), iterations=5)
    search.run()
    children = search.parent.get_children()
    assert [c.get_status() for c in children] == [st.COMPLETED, st.CANCELED]
    assert children[1].get_details()["error"]["message"] == (
        "stopped: the run was canceled and this iteration did not end within 5 s"
    )


def test_the_time_limit_stops_the_search(sqlite_uri: str) -> None:
    experiment = Experiment(Workspace(sqlite_uri), "automl")
    holder: dict[str, Search] = {}

    def during(i: int) -> None:
        if i == 2:  # this iteration runs into the limit
            holder["search"].stopper.deadline = time.monotonic()

    search = holder["search"] = make_search(experiment, FakeWorker(during=during),
                                            iterations=100, timeout=60)  # fmt: skip
    search.run()
    children = search.parent.get_children()
    assert [c.get_status() for c in children] == [st.COMPLETED, st.COMPLETED, st.CANCELED]
    assert children[-1].get_details()["error"]["message"] == (
        "stopped: the experiment time limit (1 min) was reached"
    )
    assert "time limit" in search.parent.get_properties()["stopped_early"]


def test_a_search_where_nothing_succeeds_fails(sqlite_uri: str) -> None:
    experiment = Experiment(Workspace(sqlite_uri), "automl")
    error = Outcome("failed", error={"message": "ValueError: nope\nmore", "traceback": None})
    search = make_search(experiment, FakeWorker(outcomes=dict.fromkeys(range(3), error)),
                         iterations=3)  # fmt: skip
    search.run()
    assert (
        search.failure() == "none of the 3 iterations succeeded; the first error: ValueError: nope"
    )
    with pytest.raises(RunwidgetError, match=r"has no completed iteration yet, so no best model"):
        search.parent.get_output()


def test_get_output_is_for_automl_runs(sqlite_uri: str) -> None:
    run = Experiment(Workspace(sqlite_uri), "plain").start_logging()
    with pytest.raises(InvalidValueError, match=r"get_output\(\) is for AutoML runs .* run '.*' "
                       r"is of type 'interactive'"):  # fmt: skip
        run.get_output()


# -- the real iteration process -----------------------------------------------------------
def test_iteration_process_fits_times_out_and_restarts(iris: pd.DataFrame, tmp_path: Path) -> None:
    c = config(iris, n_cross_validations=3)
    settings = c.settings()
    data_path = tmp_path / "data.pkl"
    iris.to_pickle(data_path)
    worker = IterationWorker(str(data_path), settings)
    never = lambda: None  # noqa: E731
    try:
        assert worker.start(never) is None
        spec = {"algorithm": "KNN", "preprocessor": "StandardScaler", "params": SMALL["KNN"]}
        ok = worker.evaluate(0, spec, 60, never)
        assert ok.kind == "ok" and ok.metrics["accuracy"] > 0.9
        saved = worker.save(0, str(tmp_path / "m.pkl"), 60, never)
        assert saved.kind == "ok" and saved.size > 0
        model = pickle.loads((tmp_path / "m.pkl").read_bytes())
        assert (model.predict(iris.drop(columns="target")) == iris["target"]).mean() > 0.9
        bad = worker.evaluate(1, {**spec, "algorithm": "Nope"}, 60, never)
        assert (
            bad.kind == "failed" and bad.error["message"] == "ValueError: unknown algorithm 'Nope'"
        )
        slow = {"algorithm": "RandomForest", "preprocessor": "StandardScaler",
                "params": {**SMALL["RandomForest"], "n_estimators": 100_000}}  # fmt: skip
        late = worker.evaluate(2, slow, 0.5, never)
        assert late.kind == "timeout"
        assert worker.evaluate(3, slow, None, lambda: "the run was canceled") == Outcome(
            "stopped", reason="the run was canceled"
        )
        again = worker.evaluate(4, spec, 60, never)  # a fresh process
        assert again.kind == "ok" and worker.starts == 3
    finally:
        worker.close()


def test_an_iteration_process_that_cannot_load_the_data_stops_the_search(
    iris: pd.DataFrame, tmp_path: Path
) -> None:
    worker = IterationWorker(str(tmp_path / "missing.pkl"), config(iris).settings())
    try:
        with pytest.raises(WorkerError, match=r"FileNotFoundError: .*missing\.pkl"):
            worker.start(lambda: None)
    finally:
        worker.close()


def test_the_kept_model_file_name_is_stable() -> None:
    # get_output of runs recorded by earlier versions reads this name.
    assert MODEL_FILE == "outputs/model.pkl"
