"""Runs side by side: the comparison's view model, and RunDetails([...]) in a kernel-less
process (its polling thread, its errors)."""

from __future__ import annotations

import copy
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


def _one_live(experiment, steps=5):
    done = _three(experiment)
    live = experiment.start_logging(display_name="live")
    for step in range(steps):
        live.log("loss", 1.0 / (step + 1), step=step)
    live.flush()
    return done, live


def test_a_refresh_gives_only_what_changed_and_merges_into_the_whole(experiment):
    from runwidget.view.compare import apply_compare_delta

    done, live = _one_live(experiment)
    view = CompareView([source_for(r) for r in [*done, live]], max_points=64)
    view.refresh()
    before = copy.deepcopy(view.snapshot())
    assert view.refresh() is None  # nothing new: nothing to send
    live.log("loss", 0.1, step=5)
    live.log("loss", 0.05, step=6)
    live.flush()
    delta = view.refresh()
    assert delta is not None
    assert (delta["version"], delta["base"]) == (before["version"] + 1, before["version"])
    # The live run's two new points and its stats row; nothing of the ended runs' lines.
    assert [(t["chart"], t["index"], t["start"]) for t in delta["series"]] == [("loss", 3, 5)]
    assert delta["series"][0]["x"] == [5, 6] and delta["series"][0]["y"] == [0.1, 0.05]
    assert [(s["index"], s["row"]["count"], s["row"]["last"]) for s in delta["stats"]] == [
        (3, 7, 0.05)
    ]
    assert not {"charts", "order", "runs", "terminal"} & set(delta)
    assert apply_compare_delta(before, delta) == view.snapshot()
    # The run ends: its status, and the comparison is terminal.
    before = copy.deepcopy(view.snapshot())
    live.complete()
    delta = view.refresh()
    assert [r["id"] for r in delta["runs"]] == [live.id] and delta["terminal"] is True
    assert apply_compare_delta(before, delta) == view.snapshot()


def test_a_line_downsampled_again_comes_whole_and_a_new_metric_as_a_chart(experiment):
    from runwidget.view.compare import apply_compare_delta

    done, live = _one_live(experiment, steps=16)
    view = CompareView([source_for(r) for r in [*done, live]], max_points=16)
    view.refresh()
    before = copy.deepcopy(view.snapshot())
    for step in range(16, 40):  # past 16 points: the buckets merge, the line changes whole
        live.log("loss", 1.0 / (step + 1), step=step)
    live.log("acc", 0.5, step=0)
    live.log("acc", 0.6, step=1)
    live.flush()
    delta = view.refresh()
    (tail,) = [t for t in delta["series"] if t["chart"] == "loss"]
    line = view.snapshot()["charts"][1]["series"][3]
    assert tail["start"] < 16 and len(tail["x"]) == len(line["x"]) - tail["start"]
    assert [c["name"] for c in delta["charts"]] == ["acc"] and delta["order"] == ["acc", "loss"]
    (acc,) = [t for t in delta["series"] if t["chart"] == "acc"]  # the new chart's one line
    assert (acc["index"], acc["start"], acc["x"], acc["y"]) == (0, 0, [0, 1], [0.5, 0.6])
    assert apply_compare_delta(before, delta) == view.snapshot()
    with pytest.raises(ValueError, match="cannot apply"):
        apply_compare_delta(before, {**delta, "base": 99})


def test_a_runs_first_line_in_a_chart_sends_that_line_not_the_others(experiment):
    from runwidget.view.compare import apply_compare_delta

    done = _three(experiment)
    live = experiment.start_logging(display_name="live")
    live.log("lr", 0.5)
    live.flush()
    view = CompareView([source_for(r) for r in [*done, live]], max_points=64)
    view.refresh()
    before = copy.deepcopy(view.snapshot())
    live.log("loss", 2.0, step=0)
    live.log("loss", 1.5, step=1)
    live.flush()
    delta = view.refresh()
    # The chart's lines and stats change (one more): the chart without its points, and
    # only the new line's point.
    (spec,) = delta["charts"]
    assert spec["name"] == "loss" and len(spec["series"]) == 4 and len(spec["stats"]) == 4
    assert not any("x" in s or "y" in s for s in spec["series"])
    assert [(t["index"], t["start"], t["x"], t["y"]) for t in delta["series"]] == [
        (3, 0, [0, 1], [2.0, 1.5])
    ]
    assert "order" not in delta and "stats" not in delta
    assert apply_compare_delta(before, delta) == view.snapshot()


def test_the_widget_sends_a_live_runs_new_points_and_a_new_page_gets_everything(experiment):
    from runwidget.view.compare import apply_compare_delta

    done, live = _one_live(experiment)
    widget = RunDetails([*done, live], interval=60)
    sent = []
    widget.send = lambda content, buffers=None: sent.append((content, buffers))
    states = []
    original = widget._send
    widget._send = lambda msg, buffers=None: (states.append(msg), original(msg, buffers))
    try:
        first = copy.deepcopy(widget._compare)
        assert len(first["charts"][0]["series"]) == 4
        live.log("loss", 0.1, step=5)
        live.flush()
        deadline = time.monotonic() + 10
        while not sent and time.monotonic() < deadline:
            time.sleep(0.05)
        (content, buffers), *_ = sent
        assert content["type"] == "delta" and buffers == []
        delta = content["delta"]
        assert [(t["index"], t["x"], t["y"]) for t in delta["series"]] == [(3, [5], [0.1])]
        assert set(delta) <= {"version", "base", "series", "stats"}
        # Only the delta went: no state update carrying the whole comparison.
        assert not [m for m in states if m.get("method") == "update" and "_compare" in m["state"]]
        # The kernel's copy is whole (the notebook's summary, a page loading the widget).
        assert widget._compare == apply_compare_delta(first, delta)
        live_loss = widget._compare["charts"][0]["series"][3]
        assert live_loss["y"][-1] == 0.1 and live_loss["run"] == live.id
        state = widget.get_state()
        assert state["_compare"] == widget._compare
        assert "0.1" in widget._repr_mimebundle_()[0]["text/html"]
        # A page that missed a delta asks for the whole comparison again.
        widget._on_frontend_msg(widget, {"type": "resync"}, [])
        (update,) = [m for m in states if m.get("method") == "update"]
        assert update["state"]["_compare"]["version"] == widget._compare["version"]
        assert widget.bytes_sent > 0
    finally:
        widget.close()


def test_a_long_line_in_a_delta_goes_as_binary_buffers():
    import numpy as np

    from runwidget.widgets.compare import pack_lines

    long = {"chart": "loss", "index": 0, "start": 0, "x": list(range(100)), "y": [0.5] * 100}
    short = {"chart": "loss", "index": 1, "start": 9, "x": [9.0], "y": [1.0]}
    edge = {"chart": "acc", "index": 0, "start": 0, "x": list(range(64)), "y": [1.0] * 64}
    delta = {"version": 2, "base": 1, "series": [long, short, edge]}
    content, buffers = pack_lines(delta)
    assert content["series"][0]["x"] == {"buffer": 0} and content["series"][0]["y"] == {"buffer": 1}
    assert content["series"][1] == short
    assert content["series"][2]["x"] == {"buffer": 2}
    assert np.frombuffer(buffers[0], "<f8").tolist() == list(range(100))
    assert np.frombuffer(buffers[3], "<f8").tolist() == [1.0] * 64
    assert delta["series"][0]["x"] == list(range(100))  # the delta given is left as it is
