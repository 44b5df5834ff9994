"""Fuzzing of what users pass to the tracking API, against both stores.

Each call either raises ``InvalidValueError`` in the caller's thread or its value reads back
equal, and another run's data is never touched. ``RUNWIDGET_FUZZ_EXAMPLES`` sets how many
examples a store gets (the test command's default keeps it short; 2,000 was run by hand).
"""

from __future__ import annotations

import math
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from runwidget import Experiment, Workspace
from runwidget.errors import InvalidValueError

EXAMPLES = int(os.environ.get("RUNWIDGET_FUZZ_EXAMPLES", "150"))

texts = hs.text(hs.characters(codec=None, exclude_categories=()), max_size=40)
keys = hs.one_of(texts, hs.integers(), hs.none())  # dict keys must be hashable
names = hs.one_of(keys, hs.lists(hs.integers(), max_size=2))
numbers = hs.one_of(
    hs.floats(allow_nan=True, allow_infinity=True),
    hs.integers(min_value=-(2**70), max_value=2**70),
    hs.booleans(),
)
values = hs.one_of(numbers, texts, hs.none(), hs.lists(hs.integers(), max_size=2))
steps = hs.one_of(hs.none(), numbers)

calls = hs.one_of(
    hs.tuples(hs.just("log"), names, values, steps),
    hs.tuples(hs.just("log_row"), names, texts, values),
    hs.tuples(hs.just("log_table"), names, texts, hs.lists(values, max_size=3)),
    hs.tuples(hs.just("set_tags"), keys, values),
    hs.tuples(hs.just("add_properties"), keys, values),
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _call(run, call) -> tuple[str, Any, Any] | None:
    """Make ``call`` on ``run``; what should read back, or None when it was refused."""
    kind, name, *rest = call
    try:
        if kind == "log":
            value, step = rest
            run.log(name, value, step=step)
            return ("metric", name, value)
        if kind == "log_row":
            column, value = rest
            run.log_row(name, **{column: value})
            return ("row", name, {column: value})
        if kind == "log_table":
            column, cells = rest
            run.log_table(name, {column: cells})
            return ("table", name, {column: cells})
        getattr(run, kind)({name: rest[0]})
        return (kind, name, rest[0])
    except InvalidValueError:
        return None


def _check(run, expected) -> None:
    kind, name, value = expected
    if kind == "set_tags":
        assert _same(run.get_tags()[name], value)
        return
    if kind == "add_properties":
        assert _same(run.get_properties()[name], value)
        return
    points = run._store.read_metrics(run.id, name=name)
    if kind == "table":
        ((column, cells),) = value.items()
        want = [float(c) if isinstance(c, (bool, int)) else c for c in cells]
        got = [p.value[column] for p in points]
        assert len(got) == len(want) and all(map(_same, got, want)), (got, want)
        return
    assert len(points) == 1, f"{kind} {name!r}: {points}"
    last = points[-1].value
    if kind == "metric":
        # A bool reads back as 1.0 or 0.0, an int as an int.
        want = float(value) if isinstance(value, bool) else value
        assert _same(last, want) and type(last) is type(want), (last, want)
    elif kind == "row":
        ((column, cell),) = value.items()
        want = float(cell) if isinstance(cell, (bool, int)) else cell
        assert _same(last[column], want)


def _fuzz(store_uri: str) -> None:
    exp = Experiment(Workspace(store_uri), "fuzz")
    witness = exp.start_logging(display_name="witness")
    witness.set_tags({"kept": "yes"})
    logged = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(hs.lists(calls, min_size=1, max_size=4))
    def one_example(batch):
        nonlocal logged
        run = exp.start_logging()
        made = [e for e in (_call(run, c) for c in batch) if e is not None]
        # A name used by several calls holds all their points; check names used once.
        where = [("metric" if k in ("metric", "row", "table") else k, n) for k, n, _ in made]
        expected = [e for e, w in zip(made, where, strict=True) if where.count(w) == 1]
        witness.log("i", float(logged))
        logged += 1
        run.flush(30)
        for item in expected:
            _check(run, item)
        run.complete()

    one_example()
    witness.complete()
    assert witness.get_metrics()["i"] == [float(i) for i in range(logged)] or logged == 1
    assert witness.get_tags() == {"kept": "yes"}
    assert witness.get_status() == "Completed"


@pytest.mark.slow
def test_fuzz_values(store_uri):
    _fuzz(store_uri)
