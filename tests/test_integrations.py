"""The framework integrations, and what they share: XGBoost and LightGBM here, training a few
boosting rounds on a scikit-learn dataset (the PyTorch ones are in test_integrations_torch).

Every framework's test reads the run's metrics from another thread, through a store of its
own, while the training runs; and ends a training each way: normally (Completed), with an
exception (Failed, with the traceback) and with a keyboard interrupt (Canceled), the last
two in a real Python process where the exception escapes the script as it would for a user.
"""

from __future__ import annotations

import importlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_diabetes

import runwidget
from runwidget import Experiment, Run, ScriptRunConfig, Workspace
from runwidget import status as st
from runwidget._imports import MissingDependencyError
from runwidget.errors import InvalidValueError
from runwidget.integrations import _training
from runwidget.integrations.lightgbm import RunwidgetCallback as LightGBMCallback
from runwidget.integrations.xgboost import RunwidgetCallback as XGBoostCallback
from tests.local_runs import script, wait_ended

# The runwidget these tests import, for the processes they start.
ROOT = Path(runwidget.__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fast_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNWIDGET_FLUSH_INTERVAL", "0.05")


class LiveReader:
    """Reads a run's metrics through a store of its own, in a thread of its own, while the
    training goes on; ``seen(name, step)`` waits until that point is in the store."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.points: set[tuple[str, float]] = set()
        self.ended_at_first_sight: dict[tuple[str, float], str] = {}
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> LiveReader:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        try:
            run = Run.get(Workspace(os.environ["RUNWIDGET_STORE"]), self.run_id)
            while not self._stop.is_set():
                frame = run.get_metrics_frame()
                status = run._store.get_run(self.run_id).status
                with self._changed:
                    for name, step in zip(frame["name"], frame["step"], strict=True):
                        key = (name, float(step) if step == step else -1.0)
                        if key not in self.points:
                            self.points.add(key)
                            self.ended_at_first_sight[key] = status
                    self._changed.notify_all()
                time.sleep(0.02)
        except BaseException as e:  # shown by the test that waits
            self.error = e
            with self._changed:
                self._changed.notify_all()

    def seen(self, name: str, step: float, timeout: float = 20) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while (name, float(step)) not in self.points and self.error is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        if self.error is not None:
            raise AssertionError(f"the reader failed: {self.error!r}")
        return True


def steps_of(run: Run, name: str) -> list[float]:
    frame = run.get_metrics_frame(name)
    return [float(s) for s in frame["step"]]


# -- what every integration shares -------------------------------------------------------------
def test_the_run_is_the_given_one_else_a_new_one_named_after_the_framework() -> None:
    given = Experiment(name="mine").start_logging()
    assert XGBoostCallback(run=given).run is given
    created = XGBoostCallback().run
    assert created.experiment.name == "xgboost" and created.get_status() == st.RUNNING
    assert created.get_tags()["framework"] == "xgboost"
    assert LightGBMCallback(experiment="boosting", display_name="lgb 1").run.display_name == (
        "lgb 1"
    )
    # Created on first use, so a callback that is never used leaves no run behind.
    XGBoostCallback()
    assert [r.id for r in Experiment(name="xgboost").get_runs()] == [created.id]
    given.complete()
    created.complete()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"run": "run-1"}, "run must be a runwidget Run or None, got str"),
        ({"experiment": 3}, "experiment must be a runwidget Experiment, an experiment name"),
        ({"display_name": 5}, "display_name must be a string, got int"),
        ({"log_parameters": "yes"}, "log_parameters must be True or False, got str"),
        ({"experiment": ""}, "experiment name must not be empty"),
    ],
)
def test_bad_arguments_get_a_clear_error(kwargs: dict[str, Any], message: str) -> None:
    for callback in (XGBoostCallback, LightGBMCallback):
        with pytest.raises(InvalidValueError, match=message):
            callback(**kwargs)


def test_a_given_run_and_experiment_are_refused_together() -> None:
    run = Experiment(name="mine").start_logging()
    with pytest.raises(InvalidValueError, match="give one or the other"):
        XGBoostCallback(run=run, experiment="other")
    run.complete()


def test_properties_of_flattens_and_keeps_what_a_store_holds() -> None:
    class Thing:
        def __str__(self) -> str:
            return "thing"

    props = _training.properties_of(
        {"a": {"b": 1, "c": [1, 2]}, "d": None, "e": Thing(), "f": float("nan"), 3: "x"}
    )
    assert props == {"a.b": 1, "a.c": "1, 2", "d": None, "e": "thing", "f": "nan"}


def test_a_given_run_is_left_for_its_owner_to_end() -> None:
    run = Experiment(name="mine").start_logging()
    data, _ = _diabetes()
    xgb.train({"max_depth": 2}, data, num_boost_round=2, evals=[(data, "train")],
              callbacks=[XGBoostCallback(run=run)], verbose_eval=False)  # fmt: skip
    assert run.get_status() == st.RUNNING
    assert steps_of(run, "train-rmse") == [0.0, 1.0]
    run.complete()


def test_inside_a_submitted_script_the_callback_logs_to_its_run(
    tmp_path: Path, submitted: list[Run]
) -> None:
    folder = script(
        tmp_path / "src",
        """
        import xgboost as xgb
        from sklearn.datasets import load_diabetes
        from runwidget.integrations.xgboost import RunwidgetCallback

        x, y = load_diabetes(return_X_y=True)
        data = xgb.DMatrix(x, y)
        callback = RunwidgetCallback()
        xgb.train({"max_depth": 2}, data, num_boost_round=3, evals=[(data, "train")],
                  callbacks=[callback], verbose_eval=False)
        print("logged to", callback.run.id)
        """,
    )
    run = Experiment(name="submitted").submit(ScriptRunConfig(str(folder), "train.py"))
    assert wait_ended(run, 120) == st.COMPLETED, run.get_details().get("error")
    assert f"logged to {run.id}" in run._output_log()
    assert steps_of(run, "train-rmse") == [0.0, 1.0, 2.0]
    assert run.get_properties()["max_depth"] == 2
    assert list(Experiment(name="xgboost").get_runs()) == []


# -- XGBoost ------------------------------------------------------------------------------------
def _diabetes() -> tuple[xgb.DMatrix, xgb.DMatrix]:
    x, y = load_diabetes(return_X_y=True)
    return xgb.DMatrix(x[:300], y[:300]), xgb.DMatrix(x[300:], y[300:])


class _Pace(xgb.callback.TrainingCallback):
    """Waits, after round ``at``, until another thread has read that round from the store."""

    def __init__(self, wait: Any, at: int) -> None:
        super().__init__()
        self.wait, self.at, self.seen = wait, at, None

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        if epoch == self.at:
            self.seen = self.wait()
        return False


def test_xgboost_logs_each_evaluation_set_per_round_live() -> None:
    train, valid = _diabetes()
    callback = XGBoostCallback()
    with LiveReader(callback.run.id) as reader:
        pace = _Pace(lambda: reader.seen("valid-rmse", 3), at=3)
        booster = xgb.train(
            {"max_depth": 3, "eta": 0.2, "eval_metric": ["rmse", "mae"]},
            train,
            num_boost_round=8,
            evals=[(train, "train"), (valid, "valid")],
            callbacks=[callback, pace],
            verbose_eval=False,
        )
    assert pace.seen, "round 3 was not in the store while training ran"
    assert reader.ended_at_first_sight[("valid-rmse", 3.0)] == st.RUNNING
    run = callback.run
    assert run.get_status() == st.COMPLETED
    metrics = run.get_metrics()
    assert set(metrics) == {"train-rmse", "train-mae", "valid-rmse", "valid-mae"}
    assert steps_of(run, "valid-mae") == [float(i) for i in range(8)]
    history = booster.eval(valid).split()[1:]
    assert metrics["valid-rmse"][-1] == pytest.approx(float(history[0].split(":")[1]), rel=1e-5)
    props = run.get_properties()
    assert props["max_depth"] == 3 and props["eta"] == pytest.approx(0.2)
    assert props["objective"] == "reg:squarederror" and props["eval_metric"] == "rmse, mae"


def test_xgboost_early_stopping_records_the_best_round() -> None:
    train, valid = _diabetes()
    callback = XGBoostCallback()
    booster = xgb.train({"max_depth": 6, "eta": 0.9}, train, num_boost_round=200,
                        evals=[(valid, "valid")], early_stopping_rounds=2,
                        callbacks=[callback], verbose_eval=False)  # fmt: skip
    run = callback.run
    assert run.get_status() == st.COMPLETED
    metrics = run.get_metrics()
    assert metrics["best_iteration"] == booster.best_iteration
    assert metrics["best_score"] == pytest.approx(booster.best_score)
    assert len(metrics["valid-rmse"]) == booster.best_iteration + 3


def test_xgboost_cv_logs_the_folds_mean_and_deviation() -> None:
    train, _ = _diabetes()
    callback = XGBoostCallback()
    xgb.cv({"max_depth": 2}, train, num_boost_round=3, nfold=3, callbacks=[callback])
    run = callback.run
    assert set(run.get_metrics()) >= {"train-rmse", "train-rmse-std", "test-rmse", "test-rmse-std"}
    assert run.get_status() == st.COMPLETED


def test_xgboost_through_the_scikit_learn_api() -> None:
    x, y = load_diabetes(return_X_y=True)
    callback = XGBoostCallback()
    xgb.XGBRegressor(n_estimators=4, max_depth=2, callbacks=[callback]).fit(
        x, y, eval_set=[(x, y)], verbose=False
    )
    assert steps_of(callback.run, "validation_0-rmse") == [0.0, 1.0, 2.0, 3.0]
    assert callback.run.get_status() == st.COMPLETED


# -- LightGBM -----------------------------------------------------------------------------------
def _cancer() -> tuple[lgb.Dataset, lgb.Dataset]:
    x, y = load_breast_cancer(return_X_y=True)
    train = lgb.Dataset(x[:400], y[:400])
    return train, lgb.Dataset(x[400:], y[400:], reference=train)


LGB_PARAMS = {"objective": "binary", "learning_rate": 0.1, "num_leaves": 7, "verbose": -1,
              "metric": ["binary_logloss", "auc"]}  # fmt: skip


def test_lightgbm_logs_each_validation_set_per_round_live() -> None:
    train, valid = _cancer()
    callback = LightGBMCallback()
    with LiveReader(callback.run.id) as reader:
        seen: list[bool] = []

        def pace(env: Any) -> None:
            if env.iteration == 3:
                seen.append(reader.seen("valid-auc", 3))

        booster = lgb.train(LGB_PARAMS, train, num_boost_round=8, valid_sets=[train, valid],
                            valid_names=["train", "valid"], callbacks=[callback, pace])  # fmt: skip
    assert seen == [True], "round 3 was not in the store while training ran"
    run = callback.run
    assert run.get_status() == st.COMPLETED
    metrics = run.get_metrics()
    assert set(metrics) == {"train-binary_logloss", "train-auc", "valid-binary_logloss",
                            "valid-auc"}  # fmt: skip
    assert steps_of(run, "valid-auc") == [float(i) for i in range(8)]
    assert metrics["valid-auc"][-1] == pytest.approx(booster.best_score["valid"]["auc"])
    props = run.get_properties()
    assert props["num_leaves"] == 7 and props["learning_rate"] == 0.1
    assert props["metric"] == "binary_logloss, auc"


def test_lightgbm_early_stopping_ends_the_run_with_its_block() -> None:
    train, valid = _cancer()
    callback = LightGBMCallback()
    with callback:
        booster = lgb.train({**LGB_PARAMS, "learning_rate": 0.9}, train, num_boost_round=500,
                            valid_sets=[valid], callbacks=[callback, lgb.early_stopping(2,
                            verbose=False)])  # fmt: skip
        assert booster.best_iteration < 500
        assert callback.run.get_status() == st.RUNNING  # LightGBM did not say it stopped
    assert callback.run.get_status() == st.COMPLETED
    assert len(steps_of(callback.run, "valid_0-auc")) == booster.best_iteration + 2


def test_lightgbm_cv_logs_the_folds_mean_and_deviation() -> None:
    train, _ = _cancer()
    callback = LightGBMCallback()
    lgb.cv({"objective": "binary", "verbose": -1}, train, num_boost_round=3, nfold=3,
           callbacks=[callback])  # fmt: skip
    names = set(callback.run.get_metrics())
    assert names == {"valid-binary_logloss", "valid-binary_logloss-std"}
    assert callback.run.get_status() == st.COMPLETED


# -- how a training that fails or is interrupted ends its run, in a real process ----------------
TRAIN_SCRIPT = """
import os, sys, time
framework, mode = sys.argv[1], sys.argv[2]
os.environ.setdefault("KERAS_BACKEND", "torch")

def step(i):
    print("step", i, flush=True)
    if i == 2 and mode == "fail":
        raise ValueError("loss went to the moon")
    if mode == "interrupt":
        time.sleep(0.3)  # the test sends SIGINT meanwhile

if framework == "xgboost":
    import xgboost as xgb
    from sklearn.datasets import load_diabetes
    from runwidget.integrations.xgboost import RunwidgetCallback
    x, y = load_diabetes(return_X_y=True)
    data = xgb.DMatrix(x, y)
    class Step(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            step(epoch)
            return False
    callback = RunwidgetCallback()
    print("run", callback.run.id, flush=True)
    xgb.train({"max_depth": 2}, data, num_boost_round=200, evals=[(data, "train")],
              callbacks=[callback, Step()], verbose_eval=False)
elif framework == "lightgbm":
    import lightgbm as lgb
    from sklearn.datasets import load_breast_cancer
    from runwidget.integrations.lightgbm import RunwidgetCallback
    x, y = load_breast_cancer(return_X_y=True)
    data = lgb.Dataset(x, y)
    callback = RunwidgetCallback()
    print("run", callback.run.id, flush=True)
    lgb.train({"objective": "binary", "verbose": -1}, data, num_boost_round=200,
              valid_sets=[data], callbacks=[callback, lambda env: step(env.iteration)])
elif framework == "keras":
    import keras
    import numpy as np
    from runwidget.integrations.keras import RunwidgetCallback
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    class Step(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            step(batch)
    callback = RunwidgetCallback(batch_interval=0)
    print("run", callback.run.id, flush=True)
    model.fit(x, x.sum(1), epochs=100, batch_size=1, verbose=0, callbacks=[callback, Step()])
print("ended normally", flush=True)
"""


def _train_in_a_process(tmp_path: Path, framework: str, mode: str) -> tuple[Run, str]:
    path = tmp_path / "train_script.py"
    path.write_text(textwrap.dedent(TRAIN_SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, str(path), framework, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert process.stdout is not None
    run_id = None
    try:
        for line in process.stdout:
            if line.startswith("run "):
                run_id = line.split()[1]
            if line.startswith("step 2") and mode == "interrupt":
                process.send_signal(signal.SIGINT)
                break
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert run_id is not None, stderr
    return Run.get(Workspace(), run_id), stderr


FRAMEWORKS_IN_A_PROCESS = ["xgboost", "lightgbm", "keras"]


@pytest.mark.slow
@pytest.mark.parametrize("framework", FRAMEWORKS_IN_A_PROCESS)
def test_an_exception_in_training_fails_the_run_with_its_traceback(
    tmp_path: Path, framework: str
) -> None:
    run, stderr = _train_in_a_process(tmp_path, framework, "fail")
    assert "ValueError: loss went to the moon" in stderr  # the script's own traceback
    assert run.get_status() == st.FAILED
    error = run.get_details()["error"]
    assert error["message"] == "ValueError: loss went to the moon"
    assert "in step" in error["traceback"] and "raise ValueError" in error["traceback"]
    assert run.get_metrics()  # what was logged before the failure stays


@pytest.mark.slow
@pytest.mark.parametrize("framework", FRAMEWORKS_IN_A_PROCESS)
def test_a_keyboard_interrupt_cancels_the_run(tmp_path: Path, framework: str) -> None:
    run, stderr = _train_in_a_process(tmp_path, framework, "interrupt")
    assert "KeyboardInterrupt" in stderr
    assert run.get_status() == st.CANCELED
    assert run.get_metrics()


def test_a_normal_end_in_a_process_completes_the_run(tmp_path: Path) -> None:
    run, _ = _train_in_a_process(tmp_path, "lightgbm", "normal")
    assert run.get_status() == st.COMPLETED
    assert steps_of(run, "training-binary_logloss")[-1] == 199.0


def test_monitoring_that_fails_warns_once_and_training_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    train, _ = _diabetes()
    callback = XGBoostCallback()
    run = callback.run

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(run, "log", broken)
    with pytest.warns(Warning, match="could not log a round .disk on fire.; training goes on") as w:
        booster = xgb.train({}, train, num_boost_round=3, evals=[(train, "train")],
                            callbacks=[callback], verbose_eval=False)  # fmt: skip
    assert len(w) == 1 and booster.num_boosted_rounds() == 3
    assert run.get_status() == st.COMPLETED


@pytest.mark.parametrize(
    ("module", "packages", "extra"),
    [
        ("xgboost", ["xgboost"], "xgboost"),
        ("lightgbm", ["lightgbm"], "lightgbm"),
        ("keras", ["keras"], "keras"),
        ("transformers", ["transformers"], "transformers"),
        ("lightning", ["lightning", "pytorch_lightning"], "lightning"),
    ],
)
def test_a_missing_framework_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, module: str, packages: list[str], extra: str
) -> None:
    for package in packages:  # as if not installed, though imported by other tests
        for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
            monkeypatch.setitem(sys.modules, name, None)
        monkeypatch.setitem(sys.modules, package, None)
    monkeypatch.delitem(sys.modules, f"runwidget.integrations.{module}", raising=False)
    with pytest.raises(
        MissingDependencyError, match=re.escape(f"pip install 'runwidget[{extra}]'")
    ):
        importlib.import_module(f"runwidget.integrations.{module}")


def test_numbers_of_every_kind_are_logged_and_others_left_out() -> None:
    assert _training.to_float(np.float32(0.5)) == 0.5
    assert _training.to_float(np.array(2)) == 2.0
    assert _training.to_float(True) == 1.0
    assert _training.to_float(float("inf")) is None
    assert _training.to_float("0.5") is None
    assert _training.to_float(np.array([1, 2])) is None
