"""The view model: what each run type and metric kind becomes, and the deltas between polls."""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any

import pytest

from runwidget import Experiment, Run, Workspace
from runwidget.errors import StoreUnavailableError
from runwidget.sources import RunSource, StoreSource, source_for
from runwidget.store import Batch, RunStore, open_store
from runwidget.view import RunView, apply_delta, summary_html
from runwidget.view.delta import DeltaMismatchError

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def store(sqlite_uri: str) -> RunStore:
    return open_store(sqlite_uri)


@pytest.fixture
def experiment(sqlite_uri: str) -> Experiment:
    return Experiment(Workspace(sqlite_uri), "view-tests")


def _refresh(view: RunView, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Refresh; check that the delta turns the previous snapshot into the new one."""
    before = previous if previous is not None else view.snapshot()
    delta = view.refresh()
    after = view.snapshot()
    if delta is None:
        assert after["version"] == before["version"]
    else:
        rebuilt = apply_delta(before, delta)
        rebuilt.pop("time"), after.pop("time")
        assert rebuilt == after
        after["time"] = delta["time"]
    return after


def _chart(snapshot: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in snapshot["charts"] if c["name"] == name)


def _props(snapshot: dict[str, Any], group: str) -> dict[str, Any]:
    return {p["name"]: p["value"] for p in snapshot["properties"] if p["group"] == group}


# -- metric kinds ----------------------------------------------------------------------------
def test_each_metric_kind_is_drawn_as_logged(experiment: Experiment, tmp_path: Path) -> None:
    run = experiment.start_logging(display_name="kinds")
    run.log("alpha", 0.1)
    run.log("model", "random forest")
    for i in range(5):
        run.log("loss", 1 / (i + 1))
    for i in range(3):
        run.log("lr", 0.1 * i, step=i * 10)
    run.log_list("Fibonacci", [0, 1, 1, 2, 3])
    for a in range(4):
        run.log_row("Cosine Wave", angle=a, cos=math.cos(a), sin=math.sin(a))
    run.log_table("Sine Wave", {"angle": [0, 1, 2], "sine": [0.0, 0.84, 0.91]})
    png = tmp_path / "pic.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 20)
    run.log_image("confusion", path=png)
    run.tag("team", "vision")
    run.add_properties({"seed": 7})
    run.flush()

    view = RunView(source_for(run))
    view.refresh()
    s = view.snapshot()

    assert _props(s, "metric") == {"alpha": 0.1, "model": "random forest"}
    assert _props(s, "tag") == {"team": "vision"}
    assert _props(s, "property") == {"seed": 7}
    assert [c["name"] for c in s["charts"]] == [
        "loss",
        "lr",
        "Fibonacci",
        "Cosine Wave",
        "Sine Wave",
    ]
    loss = _chart(s, "loss")
    assert loss["kind"] == "line" and loss["x_label"] == "index"
    assert loss["series"][0]["x"] == [0, 1, 2, 3, 4]
    assert loss["series"][0]["y"] == [1, 0.5, 1 / 3, 0.25, 0.2]
    lr = _chart(s, "lr")  # step is honoured
    assert lr["x_label"] == "step" and lr["series"][0]["x"] == [0, 10, 20]
    assert _chart(s, "Fibonacci")["series"][0]["y"] == [0, 1, 1, 2, 3]
    cosine = _chart(s, "Cosine Wave")  # two variables: x = the first column
    assert cosine["kind"] == "xy" and cosine["x_label"] == "angle"
    assert [series["id"] for series in cosine["series"]] == ["cos", "sin"]
    # Each series names its colour, from the one palette, in order.
    assert [series["colour"] for series in cosine["series"]] == ["#1f77b4", "#ff7f0e"]
    assert cosine["series"][0]["x"] == [0, 1, 2, 3]
    assert cosine["series"][0]["y"] == pytest.approx([math.cos(a) for a in range(4)])
    sine = _chart(s, "Sine Wave")
    assert sine["x_label"] == "angle" and sine["series"][0]["y"] == [0.0, 0.84, 0.91]
    [image] = s["images"]
    assert image["name"] == "confusion" and image["src"].startswith("data:image/png;base64,")


def test_a_single_value_becomes_a_chart_when_logged_again(experiment: Experiment) -> None:
    run = experiment.start_logging()
    run.log("acc", 0.5)
    run.flush()
    view = RunView(source_for(run))
    s = _refresh(view)
    assert _props(s, "metric") == {"acc": 0.5} and s["charts"] == []
    run.log("acc", 0.7)
    run.flush()
    s = _refresh(view, s)
    assert "acc" not in _props(s, "metric")
    assert _chart(s, "acc")["series"][0]["y"] == [0.5, 0.7]


def test_nan_and_infinity_are_counted_not_drawn(experiment: Experiment) -> None:
    run = experiment.start_logging()
    for value in (1.0, math.nan, 2.0, math.inf, -math.inf, 3.0):
        run.log("loss", value)
    run.log("single", math.nan)
    run.flush()
    view = RunView(source_for(run))
    s = _refresh(view)
    series = _chart(s, "loss")["series"][0]
    assert series["y"] == [1.0, 2.0, 3.0] and series["x"] == [0, 2, 5]
    assert series["count"] == 6 and series["skipped"] == 3
    assert _props(s, "metric") == {"single": "NaN"}
    assert any(n["key"] == "skipped" and "loss: 3" in n["text"] for n in s["notices"])


def test_long_series_are_downsampled_keeping_the_spike(experiment: Experiment) -> None:
    run = experiment.start_logging()
    for i in range(20_000):
        run.log("loss", 100.0 if i == 12_345 else 1.0 / (i + 1), step=i)
    run.flush()
    view = RunView(source_for(run), max_points=500)
    s = _refresh(view)
    series = _chart(s, "loss")["series"][0]
    assert len(series["x"]) <= 500 and series["count"] == 20_000
    assert max(series["y"]) == 100.0 and series["x"][series["y"].index(100.0)] == 12_345
    assert series["x"][-1] == 19_999


# -- deltas --------------------------------------------------------------------------------
def test_deltas_carry_only_what_changed(experiment: Experiment, store: RunStore) -> None:
    run = experiment.start_logging()
    for i in range(100):
        run.log("loss", float(i))
    run.flush()
    store.write({run.id: Batch(logs=[("stdout", f"line {i}", time.time()) for i in range(50)])})
    view = RunView(source_for(run))
    s = _refresh(view)
    assert view.refresh() is None  # nothing new: nothing to send

    run.log("loss", 100.0)
    run.flush()
    store.write({run.id: Batch(logs=[("stderr", "warning: slow", time.time())])})
    delta = view.refresh()
    assert delta is not None and delta["base"] == s["version"]
    assert set(delta) == {"version", "base", "time", "charts", "log"}
    assert delta["log"] == {
        "append": [
            {
                "seq": delta["log"]["append"][0]["seq"],
                "stream": "stderr",
                "text": "warning: slow",
                "time": delta["log"]["append"][0]["time"],
            }
        ],
        "total": 51,
    }
    [tail] = delta["charts"]["data"]
    assert tail["start"] == 100 and tail["y"] == [100.0] and tail["count"] == 101
    assert delta["charts"]["specs"] == []

    with pytest.raises(DeltaMismatchError, match="cannot apply to version"):
        apply_delta(s, {**delta, "base": 99})


def test_log_keeps_the_last_lines_and_counts_all(experiment: Experiment, store: RunStore) -> None:
    run = experiment.start_logging()
    store.write({run.id: Batch(logs=[("stdout", f"{i}", time.time()) for i in range(250)])})
    view = RunView(source_for(run), max_log_lines=100)
    s = _refresh(view)
    assert s["log"]["total"] == 250 and len(s["log"]["lines"]) == 100
    assert s["log"]["lines"][0]["text"] == "150" and s["log"]["limit"] == 100
    store.write({run.id: Batch(logs=[("stdout", "new", time.time())])})
    s = _refresh(view, s)
    assert s["log"]["lines"][-1]["text"] == "new" and s["log"]["lines"][0]["text"] == "151"


# -- run types -----------------------------------------------------------------------------
def test_script_run_log_failure_and_header(store: RunStore) -> None:
    record = store.create_run(
        "scripts",
        run_type="script",
        status="Running",
        started=time.time(),
        display_name=XSS,
        arguments=["--epochs", 3],
    )
    now = time.time()
    store.write({record.id: Batch(logs=[("stdout", "epoch 1", now), ("stderr", "Traceback", now)])})
    view = RunView(StoreSource(store, record.id))
    s = _refresh(view)
    assert s["header"]["display_name"] == XSS and s["header"]["status"] == "Running"
    assert s["header"]["status_kind"] == "running" and s["header"]["type"] == "script"
    assert s["header"]["portal_url"].endswith(record.id)
    assert _props(s, "argument") == {"Arguments": "--epochs 3"}
    assert [(line["stream"], line["text"]) for line in s["log"]["lines"]] == [
        ("stdout", "epoch 1"),
        ("stderr", "Traceback"),
    ]
    assert not view.terminal
    store.update_run(
        record.id,
        status="Failed",
        ended=time.time(),
        error={"message": "ValueError: bad", "traceback": "Traceback ..."},
    )
    s = _refresh(view, s)
    assert s["error"] == {"message": "ValueError: bad", "traceback": "Traceback ..."}
    assert s["header"]["status_kind"] == "failed" and s["terminal"] and view.terminal
    html = summary_html(s)
    assert XSS not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "ValueError: bad" in html and "(Failed)" in html


def test_children_rows_metrics_and_terminal(experiment: Experiment) -> None:
    parent = experiment.start_logging(display_name="parent")
    children = []
    for i in range(3):
        child = parent.child_run(f"child {i}")
        child.log("acc", 0.5 + i / 10)
        children.append(child)
    parent.flush()
    view = RunView(source_for(parent))
    s = _refresh(view)
    rows = s["children"]["rows"]
    assert [r["name"] for r in rows] == ["child 0", "child 1", "child 2"]
    assert [r["metrics"] for r in rows] == [{"acc": 0.5}, {"acc": 0.6}, {"acc": 0.7}]
    assert s["children"]["columns"] == [{"key": "acc", "label": "acc"}]
    assert s["iterations"] is None
    children[1].complete()
    s = _refresh(view, s)
    assert [r["status"] for r in s["children"]["rows"]] == ["Running", "Completed", "Running"]
    for child in (children[0], children[2]):
        child.complete()
    parent.complete()
    s = _refresh(view, s)
    assert s["terminal"] and view.terminal
    assert view.refresh() is None


def _iteration_run(store: RunStore, kind: str, goal: str, values: list[float | None]) -> str:
    parent = store.create_run(
        kind,
        run_type=kind,
        status="Running",
        started=time.time(),
        properties={"primary_metric": "AUC", "goal": goal},
    )
    for i, value in enumerate(values):
        props: dict[str, Any] = {"iteration": i}
        if kind == "automl":
            props |= {"preprocessor": "StandardScaler", "algorithm": ["LightGBM", "SVM"][i % 2]}
        else:
            props |= {"learning_rate": 0.1 * (i + 1), "booster": ["gbtree", "dart"][i % 2]}
        child = store.create_run(
            kind,
            parent_id=parent.id,
            run_type="child",
            status="Running",
            started=time.time(),
            properties=props,
        )
        if value is not None:
            store.write(
                {
                    child.id: Batch(
                        metrics=[
                            ("AUC", "scalar", None, value, time.time()),
                            ("loss", "scalar", None, 1 - value, time.time()),
                        ]
                    )
                }
            )
            store.update_run(child.id, status="Completed", ended=time.time())
        else:
            store.update_run(
                child.id, status="Failed", ended=time.time(), error={"message": "diverged"}
            )
    return parent.id


@pytest.mark.parametrize("goal", ["maximize", "minimize"])
def test_automl_iterations_best_so_far_by_goal(store: RunStore, goal: str) -> None:
    run_id = _iteration_run(store, "automl", goal, [0.7, 0.9, None, 0.8, 0.95])
    view = RunView(StoreSource(store, run_id))
    s = _refresh(view)
    meta = s["iterations"]
    assert meta["kind"] == "automl" and meta["primary_metric"] == "AUC" and meta["goal"] == goal
    assert meta["metrics"] == ["AUC", "loss"] and meta["params"] == []
    rows = sorted(s["children"]["rows"], key=lambda r: r["iteration"])
    assert [r["pipeline"] for r in rows[:2]] == [
        "StandardScaler + LightGBM",
        "StandardScaler + SVM",
    ]
    assert [r["metric"] for r in rows] == [0.7, 0.9, None, 0.8, 0.95]
    if goal == "maximize":
        assert [r["best"] for r in rows] == [0.7, 0.9, 0.9, 0.9, 0.95]
        assert meta["best"]["iteration"] == 4 and meta["best"]["value"] == 0.95
    else:
        assert [r["best"] for r in rows] == [0.7, 0.7, 0.7, 0.7, 0.7]
        assert meta["best"]["iteration"] == 0
    assert rows[2]["status"] == "Failed"
    assert [r["status_kind"] for r in rows] == ["completed"] * 2 + ["failed"] + ["completed"] * 2
    # The iteration charts come drawn: a point per iteration, the stepped best so far (a
    # failed iteration logs nothing), and "loss" guessed lower-is-better by its name.
    auc, loss = meta["series"]["AUC"], meta["series"]["loss"]
    assert auc["x"] == [0, 1, 3, 4] and auc["y"] == [0.7, 0.9, 0.8, 0.95]
    assert auc["best_x"] == [0, 1, 3, 4]
    assert auc["best_y"] == ([0.7, 0.9, 0.9, 0.95] if goal == "maximize" else [0.7] * 4)
    assert loss["best_y"] == pytest.approx([0.3, 0.1, 0.1, 0.05])
    assert meta["colours"] == {"points": "#1f77b4", "best": "#2ca02c"}


def test_iteration_series_skip_failed_runs_for_the_best_so_far() -> None:
    from runwidget.view.children import iteration_series

    rows = [
        {"iteration": 0, "status": "Failed", "metrics": {"AUC": 0.99}},
        {"iteration": 1, "status": "Completed", "metrics": {"AUC": 0.5}},
        {"iteration": 2, "status": "Running", "metrics": {}},
        {"iteration": 3, "status": "Completed", "metrics": {"AUC": 0.7}},
    ]
    assert iteration_series(rows, "AUC", "maximize") == {
        "x": [0, 1, 3],
        "y": [0.99, 0.5, 0.7],
        "best_x": [1, 3],
        "best_y": [0.5, 0.7],
    }
    assert iteration_series(rows, "AUC", "minimize")["best_y"] == [0.5, 0.5]


def test_sweep_iterations_have_hyperparameters(store: RunStore) -> None:
    run_id = _iteration_run(store, "sweep", "maximize", [0.6, 0.8])
    view = RunView(StoreSource(store, run_id))
    s = _refresh(view)
    assert s["iterations"]["kind"] == "sweep"
    assert s["iterations"]["params"] == ["learning_rate", "booster"]
    rows = sorted(s["children"]["rows"], key=lambda r: r["iteration"])
    assert rows[1]["params"] == {"learning_rate": 0.2, "booster": "dart"}
    assert rows[1]["pipeline"] is None


def test_a_new_better_iteration_updates_later_rows_in_the_delta(store: RunStore) -> None:
    run_id = _iteration_run(store, "automl", "maximize", [0.5, 0.6])
    view = RunView(StoreSource(store, run_id))
    s = _refresh(view)
    [_, late] = sorted(s["children"]["rows"], key=lambda r: r["iteration"])
    child = store.create_run(
        "automl",
        parent_id=run_id,
        run_type="child",
        status="Running",
        started=time.time(),
        properties={"iteration": 2},
    )
    s = _refresh(view, s)
    assert len(s["children"]["rows"]) == 3
    store.write({child.id: Batch(metrics=[("AUC", "scalar", None, 0.99, time.time())])})
    s = _refresh(view, s)
    assert s["iterations"]["best"]["value"] == 0.99
    assert late["best"] == 0.6


# -- outages -------------------------------------------------------------------------------
class _FlakySource(RunSource):
    """A store source that can be switched off, as a database server going away."""

    def __init__(self, inner: StoreSource) -> None:
        self.inner = inner
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailableError("run store postgresql://db is unreachable: refused")

    @property
    def run_id(self) -> str:
        return self.inner.run_id

    def record(self):  # type: ignore[no-untyped-def]
        self._check()
        return self.inner.record()

    def children(self, since: int = 0):  # type: ignore[no-untyped-def]
        self._check()
        return self.inner.children(since)

    def metrics(self, since: int = 0, limit: int | None = None):  # type: ignore[no-untyped-def]
        self._check()
        return self.inner.metrics(since, limit)

    def logs(self, since: int = 0, limit: int | None = None):  # type: ignore[no-untyped-def]
        self._check()
        return self.inner.logs(since, limit)

    def images(self, since: int = 0):  # type: ignore[no-untyped-def]
        self._check()
        return self.inner.images(since)

    def image_bytes(self, image):  # type: ignore[no-untyped-def]
        return self.inner.image_bytes(image)

    def child(self, run_id: str) -> RunSource:
        return self.inner.child(run_id)


def _flaky_run(experiment: Experiment) -> tuple[Run, _FlakySource]:
    """A run with two points of "loss", and a source of it that can be switched off."""
    run = experiment.start_logging()
    run.log("loss", 1.0)
    run.log("loss", 0.5)
    run.flush()
    return run, _FlakySource(StoreSource(run._store, run.id))


def test_an_unreachable_store_gives_a_notice_then_recovers(experiment: Experiment) -> None:
    run, source = _flaky_run(experiment)
    view = RunView(source)
    s = _refresh(view)
    source.down = True
    s = _refresh(view, s)
    [notice] = [n for n in s["notices"] if n["key"] == "unreachable"]
    assert "cannot be reached" in notice["text"] and not view.reachable
    assert _chart(s, "loss")["series"][0]["y"] == [1.0, 0.5]  # what was read stays
    source.down = False
    run.log("loss", 0.25)
    run.flush()
    s = _refresh(view, s)
    assert not [n for n in s["notices"] if n["key"] == "unreachable"] and view.reachable
    assert _chart(s, "loss")["series"][0]["y"] == [1.0, 0.5, 0.25]


def test_a_prefetched_first_read_is_the_first_read(experiment: Experiment) -> None:
    run = experiment.start_logging()
    for i in range(20_000):
        run.log("loss", math.sin(i / 100), step=i)
        run.log("note", "diverged" if i == 7 else i)
    run.flush()
    plain, early = RunView(StoreSource(run._store, run.id)), RunView(source_for(run))
    early.prefetch_metrics()
    assert early._prefetched is not None
    first, second = _refresh(plain), _refresh(early)
    first.pop("time"), second.pop("time")
    assert first == second and _chart(first, "loss")["series"][0]["count"] == 20_000


def test_a_failed_prefetch_is_read_again(experiment: Experiment) -> None:
    _, source = _flaky_run(experiment)
    source.concurrent_metric_reads = True
    view = RunView(source)
    source.down = True
    view.prefetch_metrics()
    assert isinstance(view._prefetched.exception(timeout=10), StoreUnavailableError)
    source.down = False  # back before the first refresh: the points are read again
    s = _refresh(view)
    assert view.reachable and _chart(s, "loss")["series"][0]["y"] == [1.0, 0.5]


def test_a_source_for_an_unknown_object_is_refused() -> None:
    from runwidget.errors import InvalidValueError

    with pytest.raises(InvalidValueError, match="cannot show a builtins.dict"):
        source_for({"run": 1})


def test_child_source_of_a_stranger_is_refused(experiment: Experiment) -> None:
    from runwidget.errors import RunNotFoundError

    a, b = experiment.start_logging(), experiment.start_logging()
    with pytest.raises(RunNotFoundError, match="has no child run"):
        source_for(a).child(b.id)


def test_snapshot_is_plain_json(experiment: Experiment) -> None:
    import json

    run = experiment.start_logging(display_name=XSS)
    run.log("inf", math.inf)
    run.log_row("r", a=1, b=math.nan)
    run.flush()
    view = RunView(source_for(run))
    view.refresh()
    text = json.dumps(view.snapshot(), allow_nan=False)
    assert copy.deepcopy(json.loads(text))["header"]["display_name"] == XSS


def test_summary_links_only_to_web_addresses(experiment: Experiment) -> None:
    run = experiment.start_logging()
    view = RunView(source_for(run))
    view.refresh()
    snapshot = view.snapshot()
    assert 'href="http://127.0.0.1:8777/runwidget/runs/' in summary_html(snapshot)
    snapshot["header"]["portal_url"] = "javascript:alert(1)"
    assert "javascript:" not in summary_html(snapshot)


def test_child_reads_can_be_bounded_per_refresh(experiment: Experiment) -> None:
    parent = experiment.start_logging()
    for i in range(3):
        with parent.child_run(f"c{i}") as child:
            child.log("acc", float(i))
    parent.flush()
    view = RunView(source_for(parent), child_read_budget=0.0)
    s = _refresh(view)
    assert view.behind  # one child read, two left for the next refreshes
    s = _refresh(view, s)
    s = _refresh(view, s)
    assert not view.behind
    assert [r["metrics"] for r in s["children"]["rows"]] == [
        {"acc": 0.0},
        {"acc": 1.0},
        {"acc": 2.0},
    ]


def test_an_iteration_chart_offers_a_log_axis_only_above_zero_and_no_smoothing():
    from runwidget.view.children import iteration_controls

    above = {"x": [0, 1], "y": [0.5, 2.0], "best_x": [0, 1], "best_y": [0.5, 0.5]}
    assert iteration_controls(above) == {
        "log_y": True,
        "x_axes": ["data"],
        "csv": True,
        "smoothing": False,
    }
    with_zero = {"x": [0, 1], "y": [0.0, 2.0], "best_x": [0, 1], "best_y": [0.0, 0.0]}
    assert iteration_controls(with_zero)["log_y"] is False
    assert iteration_controls({"x": [], "y": [], "best_x": [], "best_y": []})["log_y"] is False
