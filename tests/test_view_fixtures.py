"""Golden files of the view JSON, written from the view model, read by both test suites.

Each file in ``tests/fixtures/view/`` holds a snapshot (``before``), the delta of the next
refresh and the snapshot after it (``after``), from a fixed run read through an in-memory
source at fixed times. The Python tests check that the committed files are what the view
model produces now and that ``apply_delta(before, delta) == after``; the JS tests
(``js/test/fixtures.test.js``) check that ``js/state.js`` gives the same ``after`` and that
the components draw what is sent (status kinds, best so far, iteration series, colours).

After a deliberate change of the view JSON, write the files again with::

    .venv/bin/python tests/test_view_fixtures.py
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runwidget.sources import RunSource
from runwidget.store import FileInfo, LogLine, MetricPoint, RunRecord
from runwidget.view import RunView, apply_delta
from runwidget.view import model as view_model

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "view"
T0 = 1_700_000_000.0


class _Clock:
    """``time`` as the view model sees it: ``time()`` is whatever the scenario sets."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


class _MemorySource(RunSource):
    """A run and its children in memory; every item gets the next ``seq``."""

    def __init__(self, record: RunRecord) -> None:
        self._seq = 0
        self.records: dict[str, RunRecord] = {}
        self.points: dict[str, list[MetricPoint]] = {}
        self.lines: list[LogLine] = []
        self._id = record.id
        self.put(record)

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def put(self, record: RunRecord, **changes: Any) -> RunRecord:
        record = dataclasses.replace(record, seq=self._next(), **changes)
        self.records[record.id] = record
        self.points.setdefault(record.id, [])
        return record

    def update(self, run_id: str, **changes: Any) -> RunRecord:
        return self.put(self.records[run_id], **changes)

    def log(self, run_id: str, name: str, value: Any, t: float, step: float | None = None) -> None:
        kind = "row" if isinstance(value, dict) else "scalar"
        point = MetricPoint(self._next(), name, kind, step, value, t)
        self.points[run_id].append(point)

    def write(self, stream: str, text: str, t: float) -> None:
        self.lines.append(LogLine(self._next(), stream, text, t))

    # -- RunSource -----------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self._id

    def record(self) -> RunRecord:
        return self.records[self._id]

    def children(self, since: int = 0) -> list[RunRecord]:
        found = [r for r in self.records.values() if r.parent_id == self._id and r.seq > since]
        return sorted(found, key=lambda r: r.seq)

    def metrics(self, since: int = 0, limit: int | None = None) -> list[MetricPoint]:
        return [p for p in self.points[self._id] if p.seq > since][:limit]

    def child_metrics(self, run_id: str, since: int = 0) -> list[MetricPoint]:
        return [p for p in self.points[run_id] if p.seq > since]

    def logs(self, since: int = 0, limit: int | None = None) -> list[LogLine]:
        return [line for line in self.lines if line.seq > since][:limit]

    def images(self, since: int = 0) -> list[FileInfo]:
        return []

    def image_bytes(self, image: FileInfo) -> bytes:
        raise AssertionError("no images here")

    def child(self, run_id: str) -> RunSource:
        raise AssertionError("no drill-down here")

    def portal_url(self) -> str | None:
        return f"http://127.0.0.1:8777/runwidget/runs/{self._id}"


def _record(run_id: str, number: int, **fields: Any) -> RunRecord:
    base: dict[str, Any] = {
        "experiment": "golden",
        "parent_id": None,
        "display_name": run_id,
        "run_type": "interactive",
        "status": "Running",
        "created": T0,
        "started": T0,
    }
    return RunRecord(id=run_id, number=number, **(base | fields))


# -- scenarios: each makes a source, refreshes once, changes it, and refreshes again -------
Step = Callable[[_MemorySource, float], None]


def _script_run() -> tuple[_MemorySource, Step]:
    src = _MemorySource(_record("script-1", 1, run_type="script", display_name="<b>train</b>"))
    src.log("script-1", "alpha", 0.1, T0 + 1)
    for i, loss in enumerate([1.0, 0.5, 1 / 3]):
        src.log("script-1", "loss", loss, T0 + 2 + i)
    src.log("script-1", "Cosine Wave", {"angle": 0.0, "cos": 1.0, "sin": 0.0}, T0 + 5)
    src.write("stdout", "epoch 0", T0 + 2)
    src.write("stderr", "warning: <script>", T0 + 3)

    def step(src: _MemorySource, now: float) -> None:
        src.log("script-1", "loss", 0.25, now - 3)
        src.log("script-1", "loss", float("nan"), now - 2)
        src.log("script-1", "acc", 0.9, now - 2, step=10)
        src.log("script-1", "acc", 0.95, now - 1, step=20)
        src.log("script-1", "Cosine Wave", {"angle": 0.5, "cos": 0.8776, "sin": 0.4794}, now - 1)
        src.write("stdout", "epoch 1", now - 1)
        src.update("script-1", status="Completed", ended=now - 0.5)

    return src, step


def _iteration_parent(run_id: str, run_type: str, goal: str) -> _MemorySource:
    props = {"primary_metric": "AUC", "goal": goal}
    return _MemorySource(_record(run_id, 1, run_type=run_type, properties=props))


def _child(src: _MemorySource, number: int, status: str, **props: Any) -> str:
    child_id = f"{src.run_id}-it{number - 2}"
    record = _record(
        child_id, number, parent_id=src.run_id, run_type="child", status=status, properties=props
    )
    if status == "NotStarted":
        record = dataclasses.replace(record, started=None)
    src.put(record)
    return child_id


def _automl() -> tuple[_MemorySource, Step]:
    src = _iteration_parent("automl-1", "automl", "maximize")
    first = _child(src, 2, "Completed", iteration=0, preprocessor="Scaler", algorithm="LGBM")
    src.log(first, "AUC", 0.7, T0 + 5)
    src.log(first, "AUC", 0.72, T0 + 6)  # the best value of a run counts
    src.log(first, "log_loss", 0.5, T0 + 6)
    src.update(first, ended=T0 + 7)
    second = _child(src, 3, "Running", iteration=1, pipeline="Scaler + <i>SVM</i>")
    src.log(second, "AUC", 0.6, T0 + 8)
    _child(src, 4, "NotStarted", iteration=2, algorithm="RF")

    def step(src: _MemorySource, now: float) -> None:
        src.log(second, "AUC", 0.8, now - 3)
        src.log(second, "log_loss", 0.4, now - 3)
        src.update(second, status="Completed", ended=now - 2)
        src.update("automl-1-it2", status="Failed", started=now - 4, ended=now - 1)
        src.log("automl-1-it2", "AUC", 0.99, now - 1)  # a failed iteration is never the best
        src.update("automl-1-it2", error={"message": "diverged"})
        third = _child(src, 5, "Running", iteration=3, algorithm="XGB")
        src.log(third, "AUC", 0.85, now - 1)

    return src, step


def _sweep_minimize() -> tuple[_MemorySource, Step]:
    src = _iteration_parent("sweep-1", "sweep", "minimize")
    a = _child(src, 2, "Completed", iteration=0, learning_rate=0.1, booster="gbtree")
    src.log(a, "AUC", 0.4, T0 + 5)
    src.log(a, "accuracy", 0.8, T0 + 5)

    def step(src: _MemorySource, now: float) -> None:
        b = _child(src, 3, "Completed", iteration=1, learning_rate=0.2, booster="dart")
        src.log(b, "AUC", 0.3, now - 2)
        src.log(b, "accuracy", 0.7, now - 2)
        c = _child(src, 4, "Canceled", iteration=2, learning_rate=0.3, booster="<gbtree>")
        src.log(c, "AUC", 0.5, now - 1)
        # A heartbeat lost long ago: the parent reads NotResponding.
        src.update("sweep-1", heartbeat=now - 3600)

    return src, step


def _failed() -> tuple[_MemorySource, Step]:
    src = _MemorySource(_record("failed-1", 7, run_type="script", status="Queued", started=None))

    def step(src: _MemorySource, now: float) -> None:
        src.write("stderr", "Traceback (most recent call last):", now - 1)
        error = {"message": "ValueError: <bad>", "traceback": "Traceback ...\nValueError: <bad>"}
        src.update("failed-1", status="Failed", started=now - 2, ended=now - 1, error=error)

    return src, step


SCENARIOS: dict[str, tuple[str, Callable[[], tuple[_MemorySource, Step]]]] = {
    "script_run": ("a script run logs more points and ends", _script_run),
    "automl": ("AutoML iterations end, fail and start; the best so far moves", _automl),
    "sweep_minimize": ("a sweep that minimises; the parent stops beating", _sweep_minimize),
    "failed_run": ("a queued script run fails with an error", _failed),
}


def build(name: str) -> dict[str, Any]:
    """The golden file of scenario ``name``, as the view model makes it now."""
    description, make = SCENARIOS[name]
    src, step = make()
    clock = _Clock(T0 + 10)
    patch = pytest.MonkeyPatch()
    patch.setattr(view_model, "time", clock)
    try:
        view = RunView(src)
        view.refresh()
        before = view.snapshot()
        clock.now = T0 + 20
        step(src, clock.now)
        delta = view.refresh()
        after = view.snapshot()
    finally:
        patch.undo()
    # Through JSON, as every front end receives it.
    return json.loads(
        json.dumps(
            {"description": description, "before": before, "delta": delta, "after": after},
            allow_nan=False,
        )
    )


def _text(fixture: dict[str, Any]) -> str:
    return json.dumps(fixture, indent=1, sort_keys=True, allow_nan=False) + "\n"


def write_all() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name in SCENARIOS:
        (FIXTURES / f"{name}.json").write_text(_text(build(name)), encoding="utf-8")


# -- tests -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_committed_fixture_is_what_the_view_model_makes_now(name: str) -> None:
    path = FIXTURES / f"{name}.json"
    assert path.exists(), f"{path} is missing: run .venv/bin/python tests/test_view_fixtures.py"
    committed = json.loads(path.read_text(encoding="utf-8"))
    assert committed == build(name), (
        f"{path.name} differs from what the view model makes now; if the change is meant, "
        "write the files again with .venv/bin/python tests/test_view_fixtures.py"
    )


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_delta_turns_before_into_after(name: str) -> None:
    fixture = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    assert fixture["delta"]["base"] == fixture["before"]["version"]
    assert apply_delta(fixture["before"], fixture["delta"]) == fixture["after"]


def test_the_fixtures_cover_what_front_ends_must_draw_as_sent() -> None:
    automl = build("automl")["after"]
    kinds = {r["status"]: r["status_kind"] for r in automl["children"]["rows"]}
    assert kinds == {"Completed": "completed", "Failed": "failed", "Running": "running"}
    meta = automl["iterations"]
    assert meta["best"] == {"id": "automl-1-it3", "iteration": 3, "value": 0.85}
    assert meta["series"]["AUC"]["best_y"] == [0.72, 0.8, 0.8, 0.85]
    assert meta["series"]["log_loss"]["best_y"] == [0.5, 0.4]  # lower is better, by name
    sweep = build("sweep_minimize")["after"]
    assert sweep["header"]["status_kind"] == "warning"
    assert sweep["iterations"]["series"]["AUC"]["best_y"] == [0.4, 0.3, 0.3]
    script = build("script_run")["after"]
    cosine = next(c for c in script["charts"] if c["name"] == "Cosine Wave")
    assert [s["colour"] for s in cosine["series"]] == ["#1f77b4", "#ff7f0e"]


def test_js_reads_the_same_palette() -> None:
    from runwidget.view.palette import SERIES

    root = Path(__file__).resolve().parent.parent
    palette_js = (root / "js" / "components" / "palette.js").read_text(encoding="utf-8")
    assert "runwidget/view/palette.json" in palette_js
    assert len(SERIES) == len(set(SERIES)) == 10


if __name__ == "__main__":
    write_all()
    print(f"wrote {len(SCENARIOS)} files to {FIXTURES}", file=sys.stderr)
