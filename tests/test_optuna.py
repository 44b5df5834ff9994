"""Optuna: the callback that records a study's trials, and RunDetails(study) reading a study
straight from its own storage (in memory, SQLite, journal), single- and multi-objective."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest

from runwidget import Experiment, RunDetails, Workspace
from runwidget import status as st
from runwidget.errors import (
    InvalidValueError,
    RunNotFoundError,
    RunwidgetWarning,
    StoreUnavailableError,
)
from runwidget.integrations.optuna import RunwidgetCallback
from runwidget.sources import optuna as optuna_source
from runwidget.sources import source_for
from runwidget.sources.optuna import CURVES, INTERMEDIATE, OptunaSource, pareto_front
from runwidget.store import MetricKind, RunType
from runwidget.view import RunView

optuna.logging.set_verbosity(optuna.logging.ERROR)


@pytest.fixture(autouse=True)
def _fresh_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every call reads the storage again (a source reuses a read for a moment)."""
    monkeypatch.setattr(optuna_source, "SYNC_REUSE", 0.0)


def objective(trial: optuna.Trial) -> float:
    """x² with three reported steps; trial 3 is pruned, trial 4 fails."""
    x = trial.suggest_float("x", -2.0, 2.0)
    trial.suggest_categorical("kind", ["a", "b"])
    for step in range(3):
        trial.report(x * x + 1 / (step + 1), step)
        if trial.number == 3 and step == 1:
            raise optuna.TrialPruned()
    if trial.number == 4:
        raise ValueError("objective failed")
    trial.set_user_attr("note", f"trial {trial.number}")
    return x * x


def two_objectives(trial: optuna.Trial) -> tuple[float, float]:
    x = trial.suggest_float("x", 0.0, 1.0)
    return x, (1 - x) ** 2 + 0.1 * trial.suggest_float("noise", 0.0, 1.0)


@pytest.fixture(params=["memory", "sqlite", "journal"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """An Optuna storage of each kind."""
    if request.param == "memory":
        return None
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/optuna.db"
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(tmp_path / "optuna.log")))


def study_of(storage: Any, **kwargs: Any) -> optuna.Study:
    kwargs.setdefault("sampler", optuna.samplers.RandomSampler(seed=0))
    return optuna.create_study(storage=storage, **kwargs)


# -- the callback ---------------------------------------------------------------------------
def test_callback_records_each_trial_as_a_child_of_a_sweep(storage: Any, sqlite_uri: str) -> None:
    # The study does not wait for the store: the callback only queues each trial.
    study = study_of(storage, direction="minimize", study_name="quadratic")
    callback = RunwidgetCallback(Experiment(Workspace(sqlite_uri), "tuning"))
    assert callback.run.type == RunType.SWEEP and callback.run.get_status() == st.RUNNING
    with callback:
        study.optimize(objective, n_trials=6, callbacks=[callback], catch=(ValueError,))
    run = callback.run
    assert run.get_status() == st.COMPLETED
    details = run.get_details()
    assert details["displayName"] == "quadratic"
    assert run.get_properties() == {
        "primary_metric": "value",
        "goal": "minimize",
        "study_name": "quadratic",
    }
    children = run.get_children()
    trials = study.trials
    assert len(children) == 6
    statuses = [c.get_status() for c in children]
    assert statuses == [st.COMPLETED] * 3 + [st.CANCELED, st.FAILED, st.COMPLETED]
    for child, trial in zip(children, trials, strict=True):
        props = child.get_properties()
        assert props == {"iteration": trial.number, "x": trial.params["x"],
                         "kind": trial.params["kind"]}  # fmt: skip
        record = child.refresh()
        assert record.started == pytest.approx(trial.datetime_start.timestamp())
        assert record.ended == pytest.approx(trial.datetime_complete.timestamp())
        points = child._store.read_metrics(child.id, name=INTERMEDIATE)
        assert [(p.step, p.value) for p in points] == sorted(trial.intermediate_values.items())
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert child.get_metrics()["value"] == trial.value
            assert child.get_tags() == {"note": f"trial {trial.number}"}
    assert children[4].get_details()["error"]["message"] == "trial 4 failed"
    best = run.get_metrics()["best_value"]
    assert best == sorted(best, reverse=True) and best[-1] == study.best_value


def test_callback_names_each_objective_of_a_multi_objective_study(sqlite_uri: str) -> None:
    study = study_of(None, directions=["maximize", "minimize"])
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        study.set_metric_names(["accuracy", "latency"])
    callback = RunwidgetCallback(Experiment(Workspace(sqlite_uri), "tuning"), display_name="mo")
    study.optimize(two_objectives, n_trials=4, callbacks=[callback])
    callback.complete()
    props = callback.run.get_properties()
    assert props["primary_metric"] == "accuracy" and props["goal"] == "maximize"
    assert props["objectives"] == "accuracy (maximize), latency (minimize)"
    assert callback.run.get_details()["displayName"] == "mo"
    for child, trial in zip(callback.run.get_children(), study.trials, strict=True):
        assert child.get_metrics() == {"accuracy": trial.values[0], "latency": trial.values[1]}
    assert "best_accuracy" not in callback.run.get_metrics()  # no single best for two goals


def test_callback_into_an_existing_sweep_run(sqlite_uri: str) -> None:
    experiment = Experiment(Workspace(sqlite_uri), "tuning")
    sweep = experiment.start_logging(run_type=RunType.SWEEP)
    study = study_of(None)
    for _ in range(2):  # e.g. two workers of one study
        callback = RunwidgetCallback(run=sweep, metric_name="score")
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2, callbacks=[callback])
        assert callback.flush()
    sweep.complete()
    assert [c.get_properties()["iteration"] for c in sweep.get_children()] == [0, 1, 2, 3]
    assert sweep.get_properties()["primary_metric"] == "score"


def test_callback_mistakes_are_named(sqlite_uri: str) -> None:
    experiment = Experiment(Workspace(sqlite_uri), "tuning")
    with pytest.raises(InvalidValueError, match="takes an experiment .* got neither"):
        RunwidgetCallback()
    with pytest.raises(InvalidValueError, match="got both"):
        RunwidgetCallback(experiment, run=experiment.start_logging(run_type=RunType.SWEEP))
    with pytest.raises(InvalidValueError, match="run must be a runwidget Run of type 'sweep'"):
        RunwidgetCallback(run=experiment.start_logging())
    with pytest.raises(InvalidValueError, match="experiment must be a runwidget Experiment"):
        RunwidgetCallback(42)  # type: ignore[arg-type]
    callback = RunwidgetCallback(experiment, metric_name=["a", "b"])
    with pytest.raises(
        InvalidValueError, match=r"metric_name gives 2 name\(s\) but the study has 1"
    ):
        study_of(None).optimize(lambda t: 1.0, n_trials=1, callbacks=[callback])


def test_callback_keeps_trials_while_the_store_is_down(
    sqlite_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    callback = RunwidgetCallback(Experiment(Workspace(sqlite_uri), "tuning"))
    store = callback.run._store
    real = store.create_run
    down = {"on": True}

    def create_run(*args: Any, **kwargs: Any) -> Any:
        if down["on"]:
            raise StoreUnavailableError("server closed the connection")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "create_run", create_run)
    study = study_of(None)
    with pytest.warns(RunwidgetWarning, match="cannot reach the run store .* Training goes on"):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3, callbacks=[callback])
        assert callback.flush(timeout=0.3) is False
    assert callback.run.get_children() == []
    down["on"] = False
    callback.complete()  # the waiting trials are written
    assert [c.get_properties()["iteration"] for c in callback.run.get_children()] == [0, 1, 2]


# -- RunDetails(study) --------------------------------------------------------------------
def test_source_for_a_study_and_for_other_things() -> None:
    study = study_of(None)
    assert isinstance(source_for(study), OptunaSource)
    with pytest.raises(InvalidValueError, match="an optuna.Study"):
        source_for(object())
    with pytest.raises(InvalidValueError, match="OptunaSource takes an optuna.Study, got str"):
        OptunaSource("study")  # type: ignore[arg-type]


def test_a_study_reads_as_a_sweep_with_its_trials_as_iterations(storage: Any) -> None:
    study = study_of(storage, direction="minimize", study_name="live")
    source = OptunaSource(study, idle_timeout=0)
    view = RunView(source)
    first = view.refresh()
    assert first["header"]["status"] == st.NOT_STARTED and first["header"]["type"] == "sweep"

    study.optimize(objective, n_trials=6, catch=(ValueError,))
    delta = view.refresh()
    snapshot = view.snapshot()
    assert snapshot["header"]["status"] == st.COMPLETED
    meta = snapshot["iterations"]
    assert meta["kind"] == "sweep" and meta["primary_metric"] == "value"
    assert meta["goal"] == "minimize"
    assert meta["params"] == ["x", "kind"]
    assert meta["best"]["iteration"] == study.best_trial.number
    assert meta["best"]["value"] == study.best_value
    rows = {r["iteration"]: r for r in snapshot["children"]["rows"]}
    assert [rows[i]["status"] for i in range(6)] == [st.COMPLETED] * 3 + [
        st.CANCELED, st.FAILED, st.COMPLETED,
    ]  # fmt: skip
    for trial in study.trials:
        row = rows[trial.number]
        assert row["params"] == {"x": trial.params["x"], "kind": trial.params["kind"]}
        assert row["started"] == pytest.approx(trial.datetime_start.timestamp())
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert row["metric"] == trial.value
        else:  # a pruned trial's value is its last intermediate value: not a result
            assert row["metric"] is None
    bests = [rows[i]["best"] for i in range(6)]
    assert all(b is not None for b in bests) and bests == sorted(bests, reverse=True)
    # The study's chart: one line of intermediate values per trial.
    curves = next(c for c in snapshot["charts"] if c["name"] == CURVES)
    assert curves["kind"] == "xy" and curves["x_label"] == "step"
    assert [s["label"] for s in curves["series"]] == [f"trial {i}" for i in range(6)]
    assert curves["series"][3]["y"] == list(study.trials[3].intermediate_values.values())
    assert delta is not None and view.refresh() is None  # nothing new, nothing sent

    # Drill-down: one trial, its intermediate values as a series and its value.
    trial = source.child(f"{source.run_id}-trial-1")
    points = trial.metrics()
    assert [(p.name, p.step) for p in points] == [(INTERMEDIATE, 0.0), (INTERMEDIATE, 1.0),
                                                  (INTERMEDIATE, 2.0), ("value", None)]  # fmt: skip
    assert trial.record().tags == {"note": "trial 1"}
    with pytest.raises(RunNotFoundError, match="has no trial run 'nope'"):
        source.child("nope")


def test_reads_are_incremental_from_the_first_unfinished_trial(storage: Any) -> None:
    study = study_of(storage)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=5)
    running = study.ask()  # trial 5 stays RUNNING for now
    running.suggest_float("x", 0, 1)
    running.report(0.5, 0)
    source = OptunaSource(study, idle_timeout=0)
    records = source.children(0)
    assert [r.status for r in records] == [st.COMPLETED] * 5 + [st.RUNNING]
    cursor = records[-1].seq
    assert source.record().status == st.RUNNING
    assert source.children(cursor) == []

    made: list[int] = []
    real = source._trial_record
    source._trial_record = lambda trial, entry: made.append(trial.number) or real(trial, entry)  # type: ignore[method-assign]
    running.report(0.25, 1)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    changed = source.children(cursor)
    # Finished trials were not compared again; the running one and the new ones were.
    assert sorted(made) == [5, 6, 7]
    assert [(r.display_name, r.status) for r in changed] == [
        ("Trial 5", st.RUNNING), ("Trial 6", st.COMPLETED), ("Trial 7", st.COMPLETED),
    ]  # fmt: skip
    assert [p.step for p in source.child_metrics(changed[0].id)] == [0.0, 1.0]
    study.tell(running, 0.1)
    final = source.children(changed[-1].seq)
    assert [(r.display_name, r.status) for r in final] == [("Trial 5", st.COMPLETED)]
    assert [p.name for p in source.child_metrics(final[0].id, since=2)] == ["value"]
    assert source.record().status == st.COMPLETED


def test_one_poll_reads_the_storage_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(optuna_source, "SYNC_REUSE", 60.0)
    study = study_of(None)
    study.optimize(lambda t: [t.report(s, s) for s in range(2)] and 1.0, n_trials=5)
    reads = []
    real = study.get_trials
    monkeypatch.setattr(study, "get_trials", lambda **kw: reads.append(kw) or real(**kw))
    view = RunView(OptunaSource(study))
    view.refresh()
    assert len(reads) == 1 and len(view.snapshot()["children"]["rows"]) == 5


def test_a_study_is_running_until_it_has_been_idle_for_a_while() -> None:
    study = study_of(None)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    source = OptunaSource(study, idle_timeout=0.3)
    assert source.record().status == st.RUNNING
    time.sleep(0.35)
    record = source.record()
    assert record.status == st.COMPLETED
    assert record.ended == pytest.approx(study.trials[0].datetime_complete.timestamp())


def test_multi_objective_shows_each_objective_and_marks_the_pareto_front(storage: Any) -> None:
    study = study_of(storage, directions=["maximize", "minimize"])
    study.optimize(two_objectives, n_trials=25)
    failed = study.ask()
    study.tell(failed, state=optuna.trial.TrialState.FAIL)
    view = RunView(OptunaSource(study))
    view.refresh()
    snapshot = view.snapshot()
    meta = snapshot["iterations"]
    assert meta["metrics"] == ["values_0", "values_1"] and meta["goal"] == "maximize"
    front = {t.number for t in study.best_trials}
    rows = {r["iteration"]: r for r in snapshot["children"]["rows"]}
    marked = {i for i, r in rows.items() if r["params"].get("pareto_front") is True}
    assert marked == front and 0 < len(front) < 25
    assert "pareto_front" not in rows[25]["params"]  # failed: neither on nor off the front
    props = {p["name"]: p["value"] for p in snapshot["properties"]}
    assert props["objectives"] == "values_0 (maximize), values_1 (minimize)"
    assert props["pareto_front_size"] == len(front)
    for trial in study.trials[:25]:
        assert rows[trial.number]["metrics"] == {"values_0": trial.values[0],
                                                 "values_1": trial.values[1]}  # fmt: skip

    # A new trial that dominates others moves them off the front: their rows change.
    source = view.source
    cursor = max(r.seq for r in source.children(0))
    study.enqueue_trial({"x": 1.0, "noise": 0.0})  # values (1.0, 0.0): dominates every point
    study.optimize(two_objectives, n_trials=1)
    changed = source.children(cursor)
    assert {r.properties["iteration"] for r in changed} == front | {26}
    assert {r.properties["iteration"] for r in changed if r.properties["pareto_front"]} == {26}


def test_pareto_front_of_points() -> None:
    points = [(0, (1.0, 1.0)), (1, (2.0, 2.0)), (2, (2.0, 1.0)), (3, (0.5, 0.0)), (4, (2.0, 1.0))]
    assert pareto_front(points, ["maximize", "maximize"]) == {1}
    assert pareto_front(points, ["minimize", "minimize"]) == {3}
    assert pareto_front(points, ["maximize", "minimize"]) == {2, 3, 4}  # equal points both stay
    assert pareto_front([(0, (float("nan"), 1.0))], ["maximize", "maximize"]) == set()


def test_parameters_become_plain_properties() -> None:
    import numpy as np

    from runwidget.sources.optuna import parameter_properties

    assert parameter_properties(
        {"depth": np.int64(3), "iteration": 2, "choice": None, "pair": (1, 2), "lr": 0.1}
    ) == {"depth": 3, "param iteration": 2, "choice": None, "pair": "(1, 2)", "lr": 0.1}


def test_curves_are_kept_for_at_most_max_curves_trials() -> None:
    study = study_of(None)
    study.optimize(lambda t: [t.report(s, s) for s in range(2)] and 1.0, n_trials=5)
    view = RunView(OptunaSource(study, max_curves=2))
    view.refresh()
    curves = next(c for c in view.snapshot()["charts"] if c["name"] == CURVES)
    assert [s["label"] for s in curves["series"]] == ["trial 0", "trial 1"]
    points = view.source.child_metrics(f"{view.source.run_id}-trial-4")
    assert [p.kind for p in points] == [MetricKind.SCALAR] * 3  # still on the trial itself


def test_an_unreachable_storage_is_a_notice_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    study = study_of(None)
    study.optimize(lambda t: 1.0, n_trials=1)
    view = RunView(OptunaSource(study))
    view.refresh()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT", {}, Exception("could not connect to server"))

    monkeypatch.setattr(study, "get_trials", broken)
    with pytest.raises(StoreUnavailableError, match="cannot be reached"):
        view.source.record()
    view.refresh()
    assert [n["key"] for n in view.snapshot()["notices"]] == ["unreachable"]


@pytest.fixture
def widgets() -> Iterator[list[RunDetails]]:
    made: list[RunDetails] = []
    yield made
    for widget in made:
        widget.close()
    assert [t for t in threading.enumerate() if t.name.startswith("runwidget-poll-")] == []


def test_run_details_of_a_study_follows_it_live(tmp_path: Path, widgets: list[RunDetails]) -> None:
    url = f"sqlite:///{tmp_path}/optuna.db"
    study = study_of(url, study_name="followed")
    # The widget reads its own handle on the study, as another process would.
    watched = optuna.load_study(study_name="followed", storage=url)
    widget = RunDetails(watched, interval=0.2)
    widget.send = lambda content, buffers=None: None  # type: ignore[method-assign]
    widgets.append(widget)
    assert widget.get_widget_data()["header"]["status"] == st.NOT_STARTED

    def optimize() -> None:
        def slow(trial: optuna.Trial) -> float:
            time.sleep(0.1)
            return trial.suggest_float("x", 0, 1)

        study.optimize(slow, n_trials=10)

    worker = threading.Thread(target=optimize)
    worker.start()
    seen: set[int] = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = widget.get_widget_data()["children"]["rows"]
        seen.add(len(rows))
        if len(rows) == 10 and all(r["status"] == st.COMPLETED for r in rows):
            break
        time.sleep(0.1)
    worker.join()
    assert max(seen) == 10 and len(seen) > 2  # the rows arrived while the study ran
    assert widget.polling  # still within the idle time: a next trial may come
    widget.stop()
    assert not widget.polling
