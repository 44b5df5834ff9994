"""Runs side by side: the comparison's view model, and RunDetails([...]) in a kernel-less
process (its polling thread, its errors)."""

from __future__ import annotations

import math
import time

import pytest

from runwidget import Experiment, RunDetails, Workspace
from runwidget.errors import InvalidValueError
from runwidget.sources import source_for
from runwidget.view.compare import MAX_RUNS, CompareView
from runwidget.widgets import RunComparison

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture
def experiment(store_uri):
    return Experiment(Workspace(store_uri), "compare")


def _three(experiment):
    runs = []
    for rate in (0.3, 0.1, 0.03):
        run = experiment.start_logging(display_name=f"lr {rate}")
        run.tag("optimizer", "adam" if rate > 0.05 else "sgd")
        run.add_properties({"batch": 32})
        for step in range(200):
            run.log("loss", math.exp(-rate * step) + (5.0 if step == 77 else 0.0), step=step)
        run.log("lr", rate)
        run.complete()
        runs.append(run)
    return runs


def test_one_chart_per_metric_a_line_per_run_and_exact_stats(experiment):
    runs = _three(experiment)
    view = CompareView([source_for(r) for r in runs], max_points=32)
    view.refresh()
    snap = view.snapshot()
    assert [r["name"] for r in snap["runs"]] == ["lr 0.3", "lr 0.1", "lr 0.03"]
    assert len({r["colour"] for r in snap["runs"]}) == 3
    assert [c["name"] for c in snap["charts"]] == ["loss"]
    loss = snap["charts"][0]
    assert [s["run"] for s in loss["series"]] == [r.id for r in runs]
    assert all(len(s["x"]) <= 32 for s in loss["series"])  # downsampled...
    for run, stat in zip(runs, loss["stats"], strict=True):
        values = [p.value for p in run._store.read_metrics(run.id) if p.name == "loss"]
        # ...but min, max (the spike at step 77) and last are those of every point.
        assert (stat["last"], stat["min"], stat["max"]) == (values[-1], min(values), max(values))
        assert stat["count"] == 200
    rows = {(r["group"], r["name"]): r for r in snap["table"]}
    assert rows[("tag", "optimizer")]["values"] == ["adam", "adam", "sgd"]
    assert rows[("tag", "optimizer")]["differs"] is True
    assert rows[("property", "batch")]["differs"] is False
    assert rows[("metric", "lr")]["values"] == ["0.3", "0.1", "0.03"]
    assert snap["terminal"] is True


def test_run_details_of_a_list_is_a_live_comparison(experiment):
    done = _three(experiment)[:2]
    live = experiment.start_logging(display_name=EVIL)
    live.log("loss", 1.0, step=0)
    live.flush()
    widget = RunDetails([*done, live], interval=60)
    try:
        assert isinstance(widget, RunComparison) and widget.polling
        names = [r["name"] for r in widget._compare["runs"]]
        assert names == ["lr 0.3", "lr 0.1", EVIL]  # as text: the front end draws text
        live.log("loss", 0.25, step=1)
        live.flush()

        def live_loss():
            series = widget._compare["charts"][0]["series"]
            return next((s["y"] for s in series if s["run"] == live.id), None)

        deadline = time.monotonic() + 10
        while live_loss() != [1.0, 0.25] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert live_loss() == [1.0, 0.25]  # read at the change, not at the 60 s interval
        live.complete()
        deadline = time.monotonic() + 10
        while widget.polling and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not widget.polling and widget._compare["terminal"] is True
    finally:
        widget.close()


def test_an_experiment_compares_its_runs(experiment):
    _three(experiment)
    widget = RunDetails(experiment)
    try:
        assert sorted(r["name"] for r in widget._compare["runs"]) == ["lr 0.03", "lr 0.1", "lr 0.3"]
    finally:
        widget.close()


def test_bad_comparisons(experiment):
    with pytest.raises(InvalidValueError, match="at least one run"):
        RunDetails([])
    with pytest.raises(InvalidValueError, match="at most"):
        RunComparison([experiment.start_logging() for _ in range(MAX_RUNS + 1)])
    with pytest.raises(InvalidValueError, match="cannot show"):
        RunDetails([experiment.start_logging(), 42])
    with pytest.raises(InvalidValueError, match="interval"):
        RunComparison([experiment.start_logging()], interval=0)
