"""RunDetails: its polling thread starts, stops and never outlives the widget."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import traitlets

from runwidget import Experiment, RunDetails, Workspace
from runwidget.errors import InvalidValueError, RunNotFoundError
from runwidget.tracking import Run

XSS = "<img src=x onerror=alert(1)>"


def _pollers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("runwidget-poll-")]


def _wait(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


class Sent(list):
    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m, _ in self if m.get("type") == kind]


@pytest.fixture
def experiment(sqlite_uri: str) -> Experiment:
    return Experiment(Workspace(sqlite_uri), "widget-tests")


@pytest.fixture
def widgets() -> Iterator[list[RunDetails]]:
    """Widgets made by a test, closed after it; no polling thread may be left."""
    made: list[RunDetails] = []
    yield made
    for widget in made:
        widget.close()
    assert _pollers() == []


class _Recording(RunDetails):
    """A RunDetails whose messages to the browser are kept (from the first one on)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sent = Sent()
        super().__init__(*args, **kwargs)

    def send(self, content: Any, buffers: Any = None) -> None:
        self.sent.append((content, buffers))

    def send_state(self, key: Any = None) -> None:
        self.sent.append(({"type": "state", "key": key}, None))
        super().send_state(key)


def _view_state(widget: RunDetails) -> dict[str, Any]:
    """The ``_snapshot`` state a page loading the widget now gets."""
    return widget.get_state("_snapshot")["_snapshot"]


def _widget(made: list[RunDetails], run: Run, **kwargs: Any) -> tuple[RunDetails, Sent]:
    widget = _Recording(run, **{"interval": 0.2, **kwargs})
    made.append(widget)
    return widget, widget.sent


def test_polls_while_running_and_stops_after_one_last_refresh(
    experiment: Experiment, widgets: list[RunDetails]
) -> None:
    run = experiment.start_logging(display_name="live")
    run.log("loss", 1.0)
    run.flush()
    widget, sent = _widget(widgets, run)
    assert widget.polling and len(_pollers()) == 1
    assert widget.get_widget_data()["header"]["status"] == "Running"
    for i in range(5):
        run.log("loss", 1.0 / (i + 2))
    run.flush()

    def last_value() -> float | None:
        tails = [d["delta"].get("charts", {}).get("data", []) for d in sent.of("delta")]
        values = [t["y"][-1] for data in tails for t in data if t["y"]]
        return values[-1] if values else None

    _wait(lambda: last_value() == pytest.approx(1 / 6))
    run.complete()
    _wait(lambda: not widget.polling)
    _wait(lambda: _pollers() == [])
    assert widget.get_widget_data()["header"]["status"] == "Completed"
    assert widget.get_widget_data()["terminal"] is True
    # The final view was sent whole, its series points as binary buffers (the browser
    # draws them into the lines; the kernel's lines stay empty).
    assert "_snapshot" in [m["key"] for m in sent.of("state")]
    [chart] = [c for c in _view_state(widget)["charts"] if c["id"] == "m:loss"]
    y = np.frombuffer(chart["series"][0]["y"], "<f8")
    assert list(y) == pytest.approx([1.0, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6])
    assert len(widget._figures.lines["m:loss"]["value"].y) == 0


def test_an_ended_run_is_read_once_more_then_not_polled(
    experiment: Experiment, widgets: list[RunDetails]
) -> None:
    run = experiment.start_logging()
    run.complete()
    widget, sent = _widget(widgets, run)
    _wait(lambda: not widget.polling and _pollers() == [])
    assert widget.get_widget_data()["header"]["status"] == "Completed"


def test_stop_and_close_leave_no_thread(experiment: Experiment, widgets: list[RunDetails]) -> None:
    run = experiment.start_logging()
    a, _ = _widget(widgets, run)
    b, _ = _widget(widgets, run)
    assert len(_pollers()) == 2
    a.stop()
    assert not a.polling and len(_pollers()) == 1
    b.close()
    assert _pollers() == []
    run.log("x", 1)
    run.log("x", 2)
    run.flush()
    time.sleep(0.5)
    assert _pollers() == []


def test_closing_from_the_front_end_stops_polling(
    experiment: Experiment, widgets: list[RunDetails]
) -> None:
    run = experiment.start_logging()
    widget, _ = _widget(widgets, run)
    widget.comm.handle_close({"content": {"data": {}}})
    _wait(lambda: _pollers() == [])


def test_idle_polls_send_nothing(experiment: Experiment, widgets: list[RunDetails]) -> None:
    run = experiment.start_logging()
    run.log("loss", 1.0)
    run.log("loss", 2.0)
    run.flush()
    widget, sent = _widget(widgets, run, interval=0.2)
    _wait(lambda: widget._loop.first_read.is_set())
    assert [m["delta"]["charts"]["data"][0]["y"] for m in sent.of("delta")] == [[1.0, 2.0]]
    before, count = widget.bytes_sent, len(sent)
    time.sleep(1.0)
    assert len(sent) == count and widget.bytes_sent == before


def test_drill_down_and_back_keep_one_thread(
    experiment: Experiment, widgets: list[RunDetails]
) -> None:
    parent = experiment.start_logging(display_name="parent")
    child = parent.child_run("child")
    child.log("acc", 0.1)
    child.log("acc", 0.2)
    parent.flush()
    widget, sent = _widget(widgets, parent)
    _wait(lambda: widget._loop.first_read.is_set())
    assert [r["name"] for r in widget.get_widget_data()["children"]["rows"]] == ["child"]
    widget._handle_custom_msg({"type": "open", "run_id": child.id}, [])
    assert widget.run_id == child.id and len(_pollers()) == 1
    assert widget._trail == [{"run_id": parent.id, "name": "parent"}]
    assert widget.get_widget_data()["header"]["display_name"] == "child"
    _wait(lambda: widget._loop.first_read.is_set())
    assert "m:acc" in widget._charts
    assert widget.get_widget_data()["charts"][0]["series"][0]["y"] == [0.1, 0.2]
    widget._handle_custom_msg({"type": "back", "levels": 1}, [])
    assert widget.run_id == parent.id and widget._trail == [] and len(_pollers()) == 1
    with pytest.raises(RunNotFoundError, match="has no child run"):
        widget.open_child(parent.id)
    # A bad request from the browser is answered, not raised in the kernel.
    widget._handle_custom_msg({"type": "open", "run_id": "nope"}, [])
    assert "open failed: run 'nope' not found" in sent.of("error")[-1]["text"]


def test_full_log_and_resync_on_request(experiment: Experiment, widgets: list[RunDetails]) -> None:
    from runwidget.store import Batch

    run = experiment.start_logging()
    run._store.write({run.id: Batch(logs=[("stdout", f"line {i}", 0.0) for i in range(3000)])})
    widget, sent = _widget(widgets, run, max_log_lines=100)
    assert len(widget.get_widget_data()["log"]["lines"]) == 100
    widget._handle_custom_msg({"type": "full_log"}, [])
    [(message, buffers)] = [(m, b) for m, b in sent if m["type"] == "full_log"]
    text = buffers[0].decode()
    assert text.startswith("line 0\n") and text.endswith("line 2999\n")
    version = widget.get_widget_data()["version"]
    del sent[:]
    widget._handle_custom_msg({"type": "resync"}, [])
    assert [m["key"] for m in sent.of("state")] == ["_snapshot"]
    assert _view_state(widget)["version"] == version


def test_output_carries_an_escaped_html_summary(
    experiment: Experiment, widgets: list[RunDetails]
) -> None:
    run = experiment.start_logging(display_name=XSS)
    run.log("accuracy", 0.93)
    run.flush()
    widget, _ = _widget(widgets, run)
    bundle = widget._mimebundle()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == widget.model_id
    html = bundle["text/html"]
    assert XSS not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "accuracy" in html and "0.93" in html and "(Running)" in html


def test_bad_arguments_are_refused(experiment: Experiment, widgets: list[RunDetails]) -> None:
    run = experiment.start_logging()
    with pytest.raises(InvalidValueError, match="cannot show a builtins.str"):
        RunDetails("run-id")
    with pytest.raises(InvalidValueError, match="max_points must be an integer >= 8"):
        RunDetails(run, max_points=2)
    widget, _ = _widget(widgets, run)
    with pytest.raises(traitlets.TraitError, match="interval must be at least 0.2 seconds"):
        widget.interval = 0
    widget.interval = 5
    assert widget._loop.interval == 5


def test_get_widget_data_is_the_view_model(
    experiment: Experiment, widgets: list[RunDetails]
) -> None:
    run = experiment.start_logging()
    run.log_row("curve", x=1, y=2)
    run.flush()
    widget, _ = _widget(widgets, run)
    data = widget.get_widget_data()
    assert data["header"]["run_id"] == run.id
    assert data["charts"][0]["kind"] == "xy" and data["charts"][0]["series"][0]["y"] == [2]


def test_a_store_down_at_show_time_gives_a_notice_then_recovers(
    experiment: Experiment, widgets: list[RunDetails], monkeypatch: pytest.MonkeyPatch
) -> None:
    from runwidget.errors import StoreUnavailableError

    run = experiment.start_logging(display_name="outage")
    run.log("loss", 1.0)
    run.log("loss", 0.5)
    run.flush()
    store = run._store
    down = {"on": True}

    def failing(method):  # noqa: ANN001, ANN202
        def call(*args: Any, **kwargs: Any) -> Any:
            if down["on"]:
                raise StoreUnavailableError("run store postgresql://db is unreachable: refused")
            return method(*args, **kwargs)

        return call

    for name in ("get_run", "list_runs", "read_metric_columns", "read_logs", "list_files"):
        monkeypatch.setattr(store, name, failing(getattr(store, name)))
    widget, _ = _widget(widgets, run)
    notices = widget.get_widget_data()["notices"]
    assert [n["key"] for n in notices] == ["unreachable"] and "cannot be reached" in notices[0][
        "text"
    ]
    assert widget.get_widget_data()["header"]["display_name"] == "outage" and widget.polling
    down["on"] = False
    widget.interval = 0.2  # wakes the poller out of its backoff
    _wait(lambda: widget.get_widget_data()["notices"] == [])
    _wait(lambda: widget.get_widget_data()["charts"] != [])


def test_long_series_tails_travel_as_binary() -> None:
    from runwidget.widgets._transport import BINARY_FROM, pack_series

    long = {"chart": "m:a", "series": "value", "start": 3, "count": 99, "skipped": 0,
            "x": [float(i) for i in range(BINARY_FROM)], "y": [0.5] * BINARY_FROM}  # fmt: skip
    short = {**long, "chart": "m:b", "x": [1.0], "y": [2.0]}
    message = {"type": "delta", "delta": {"version": 2, "base": 1, "charts": {"specs": [],
               "data": [long, short]}}}  # fmt: skip
    content, buffers = pack_series(message)
    packed, kept = content["delta"]["charts"]["data"]
    assert packed["x"] == {"buffer": 0} and packed["y"] == {"buffer": 1} and kept == short
    assert np.frombuffer(buffers[0], "<f8").tolist() == long["x"]
    assert np.frombuffer(buffers[1], "<f8").tolist() == long["y"]
    assert message["delta"]["charts"]["data"][0]["x"][1] == 1.0  # the view's delta is untouched


def test_change_probe_reads_a_change_at_once_and_an_idle_run_not_at_all(
    experiment: Experiment, widgets: list[RunDetails], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = experiment.start_logging()
    run.log("loss", 1.0)
    run.flush()
    widget, sent = _widget(widgets, run, interval=60.0)
    _wait(lambda: widget._loop.first_read.is_set())
    reads = []
    original = type(widget._view).refresh
    monkeypatch.setattr(
        type(widget._view), "refresh", lambda view, **kw: reads.append(1) or original(view, **kw)
    )
    time.sleep(1.6)  # about three probes of an idle run
    assert reads == []
    run.log("loss", 0.5)
    run.flush()
    written = time.monotonic()

    def drawn() -> bool:
        tails = [d["delta"].get("charts", {}).get("data", []) for d in sent.of("delta")]
        return any(t["y"] and t["y"][-1] == 0.5 for data in tails for t in data)

    _wait(drawn, timeout=5.0)
    # Within about one probe interval, not the 60 s interval.
    assert time.monotonic() - written < 3.0
    assert len(reads) >= 1


def test_without_probes_a_change_waits_for_the_interval(
    experiment: Experiment, widgets: list[RunDetails], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RunDetails, "probe_changes", False)
    run = experiment.start_logging()
    run.flush()
    widget, sent = _widget(widgets, run, interval=60.0)
    _wait(lambda: widget._loop.first_read.is_set())
    run.log("loss", 0.5)
    run.flush()
    time.sleep(1.5)
    assert not [d for d in sent.of("delta") if d["delta"].get("charts")]


def test_with_probes_an_ended_run_gets_its_last_refresh_and_polling_stops(
    experiment: Experiment, widgets: list[RunDetails]
) -> None:
    # Nothing changes after the end: the last refresh must not wait for a change.
    run = experiment.start_logging()
    run.log("loss", 1.0)
    run.flush()
    widget, _ = _widget(widgets, run, interval=60.0)
    _wait(lambda: widget._loop.first_read.is_set())
    run.complete()
    _wait(lambda: not widget.polling, timeout=10.0)
    assert widget.get_widget_data()["header"]["status"] == "Completed"
