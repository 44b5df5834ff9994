"""Random sequences of tracking calls, checked against a plain in-memory model."""

from __future__ import annotations

import math
import shutil
import tempfile

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from runwidget import Experiment, InvalidValueError, RunFinishedError, Workspace
from runwidget.store import SqlStore

names = st.sampled_from(["loss", "acc", "<b>x</b>", "lr"])
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**53), 2**53)
# Text a store can hold: no NUL, no lone surrogate (those are refused where they are logged).
storable = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
values = numbers | st.text(storable, max_size=20)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


class TrackingModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp()
        self.store = SqlStore(f"sqlite:///{self.dir}/runs.db")
        self.exp = Experiment(Workspace(self.store), "model")
        self.runs: list = []
        self.points: dict[str, list[tuple]] = {}
        self.tags: dict[str, dict] = {}
        self.ended: set[str] = set()

    def teardown(self) -> None:
        for run in self.runs:
            run._flusher.flush(5)
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule()
    def start(self) -> None:
        run = self.exp.start_logging()
        self.runs.append(run)
        self.points[run.id] = []
        self.tags[run.id] = {}

    def _pick(self, data):
        return data.draw(st.sampled_from(self.runs))

    @precondition(lambda self: self.runs)
    @rule(data=st.data(), name=names, value=values, step=st.none() | st.integers(0, 1000))
    def log(self, data, name, value, step) -> None:
        run = self._pick(data)
        if run.id in self.ended:
            try:
                run.log(name, value, step=step)
            except RunFinishedError:
                return
            raise AssertionError("logging to an ended run was accepted")
        run.log(name, value, step=step)
        stored = value if isinstance(value, str) else float(value)
        self.points[run.id].append((name, "scalar", None if step is None else float(step), stored))

    @precondition(lambda self: self.runs)
    @rule(data=st.data(), name=names, items=st.lists(numbers, max_size=5))
    def log_list(self, data, name, items) -> None:
        run = self._pick(data)
        if run.id in self.ended:
            return
        run.log_list(name, items)
        for i, v in enumerate(items):
            self.points[run.id].append((name, "list", float(i), float(v)))

    @precondition(lambda self: self.runs)
    @rule(data=st.data(), name=names, x=numbers, y=values)
    def log_row(self, data, name, x, y) -> None:
        run = self._pick(data)
        if run.id in self.ended:
            return
        run.log_row(name, x=x, y=y)
        row = {"x": float(x), "y": y if isinstance(y, str) else float(y)}
        self.points[run.id].append((name, "row", None, row))

    @precondition(lambda self: self.runs)
    @rule(data=st.data(), bad=st.sampled_from([None, "", "x" * 300, 5]))
    def bad_name(self, data, bad) -> None:
        run = self._pick(data)
        try:
            run.log(bad, 1.0)
        except (InvalidValueError, RunFinishedError):
            return
        raise AssertionError(f"bad name {bad!r} was accepted")

    @precondition(lambda self: self.runs)
    @rule(data=st.data(), key=names, value=st.text(storable, max_size=10))
    def tag(self, data, key, value) -> None:
        run = self._pick(data)
        run.set_tags({key: value})
        self.tags[run.id][key] = value

    @precondition(lambda self: self.runs)
    @rule(data=st.data())
    def complete(self, data) -> None:
        run = self._pick(data)
        run.complete()
        self.ended.add(run.id)

    @precondition(lambda self: self.runs)
    @rule(data=st.data(), chunk=st.integers(1, 7))
    def read_with_cursor(self, data, chunk) -> None:
        """Reading in chunks through the cursor gives exactly the logged points, in order."""
        run = self._pick(data)
        run.flush()
        got, cursor = [], 0
        while True:
            page = self.store.read_metrics(run.id, since=cursor, limit=chunk)
            if not page:
                break
            got += [(p.name, p.kind, p.step, p.value) for p in page]
            cursor = page[-1].seq
        expected = self.points[run.id]
        assert len(got) == len(expected)
        assert all(
            _same(a, b)
            for g, e in zip(got, expected, strict=True)
            for a, b in zip(g, e, strict=True)
        )

    @invariant()
    def statuses_and_tags_match(self) -> None:
        for run in self.runs:
            record = self.store.get_run(run.id)
            assert record.status == ("Completed" if run.id in self.ended else "Running")
            assert record.tags == self.tags[run.id]


TrackingModel.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_tracking_model = TrackingModel.TestCase
