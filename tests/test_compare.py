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


def test_a_chart_of_runs_offers_what_every_run_offers(experiment):
    runs = _three(experiment)
    other = experiment.start_logging(display_name="has a zero")
    other.log("loss", 0.0, step=0)
    other.log("loss", 1.0, step=1)
    other.complete()
    view = CompareView([source_for(r) for r in runs])
    view.refresh()
    snap = view.snapshot()
    assert snap["charts"][0]["controls"] == {
        "log_y": True,
        "x_axes": ["data", "relative", "wall"],
        "csv": True,
    }
    assert {s["id"] for s in snap["charts"][0]["series"]} == {"value"}
    view = CompareView([source_for(r) for r in [*runs, other]])
    view.refresh()
    assert view.snapshot()["charts"][0]["controls"]["log_y"] is False  # a 0 has no log


def test_a_compare_chart_reads_every_run_again_on_request(experiment):
    runs = _three(experiment)
    only_lr = experiment.start_logging(display_name="no loss")
    only_lr.log("lr", 0.5)
    only_lr.complete()
    widget = RunComparison([*runs, only_lr], max_points=16)
    sent = []
    widget.send = lambda content, buffers=None: sent.append((content, buffers))
    try:
        # A zoomed range at full resolution, each run's series named with its run.
        msg = {"type": "metric_range", "name": "loss", "from": 70, "to": 80, "request": 3}
        widget._on_frontend_msg(widget, msg, [])
        answer, _ = sent.pop()
        assert answer["request"] == 3 and answer["type"] == "metric_range"
        assert [s["run"] for s in answer["series"]] == [r.id for r in runs]
        assert all(s["x"] == list(range(70, 81)) for s in answer["series"])
        assert max(answer["series"][0]["y"]) > 5  # the spike at step 77, not downsampled away
        # Relative time: each run from its own start.
        widget._on_frontend_msg(
            widget, {"type": "metric_range", "name": "loss", "axis": "relative"}, []
        )
        answer, _ = sent.pop()
        assert all(0 <= s["x"][0] < 5 for s in answer["series"])
        # Every point of every run as one CSV, the run first.
        widget._on_frontend_msg(widget, {"type": "metric_csv", "name": "loss", "request": 4}, [])
        answer, buffers = sent.pop()
        lines = buffers[0].decode().splitlines()
        assert lines[0] == "run,index,step,value,time"
        assert len(lines) == 1 + 3 * 200
        assert {line.split(",")[0] for line in lines[1:]} == {r.id for r in runs}
        # A metric no run has, and a bad request: an error the browser shows, no raise.
        widget._on_frontend_msg(widget, {"type": "metric_csv", "name": "nope", "request": 5}, [])
        answer, _ = sent.pop()
        assert answer == {"type": "error", "request": 5, "text": answer["text"]}
        assert "none of these runs has a metric 'nope'" in answer["text"]
        widget._on_frontend_msg(widget, {"type": "metric_range", "name": "loss", "to": "x"}, [])
        assert "from and to must be numbers" in sent.pop()[0]["text"]
        widget._on_frontend_msg(widget, {"type": "open"}, [])  # not a chart's: ignored
        assert sent == []
    finally:
        widget.close()
