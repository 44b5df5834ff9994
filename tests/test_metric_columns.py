"""RunStore.read_metric_columns: the points of read_metrics, as columns, on every backend."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from runwidget.store import Batch, MetricColumns, RunStore, SqlStore
from runwidget.store.base import RunStore as BaseStore


def _write(store: RunStore, run_id: str) -> None:
    now = time.time()
    metrics = [
        ("loss", "scalar", None, 1.0, now),
        ("model", "scalar", None, "rf", now),
        ("loss", "scalar", 5.0, math.nan, now),
        ("fib", "list", 0.0, 0.0, now),
        ("loss", "scalar", 7.0, math.inf, now),
        ("curve", "row", None, {"x": 1, "y": 2.5}, now),
        ("fib", "list", 1.0, 1.0, now),
        ("loss", "scalar", None, -2.0, now),
    ]
    store.write({run_id: Batch(metrics=metrics)})


def _plain(columns: list[MetricColumns]) -> list[tuple]:
    return [
        (c.name, c.kind, c.seq.tolist(), np.nan_to_num(c.step, nan=-99).tolist(),
         np.nan_to_num(c.value, nan=-99, posinf=99).tolist(),
         [(p.seq, p.value) for p in c.others])
        for c in columns
    ]  # fmt: skip


def test_columns_match_the_points(store_uri: str) -> None:
    store = SqlStore(store_uri)
    try:
        run = store.create_run("columns")
        _write(store, run.id)
        fast, cursor = store.read_metric_columns(run.id)
        slow, slow_cursor = BaseStore.read_metric_columns(store, run.id)
        assert _plain(fast) == _plain(slow)
        assert cursor == slow_cursor == store.read_metrics(run.id)[-1].seq
        loss = fast[0]
        assert loss.name == "loss" and loss.kind == "scalar" and len(loss) == 4
        assert np.isnan(loss.step[0]) and loss.step[1] == 5.0
        assert np.isnan(loss.value[1]) and loss.value[2] == math.inf
        assert [c.name for c in fast] == ["loss", "model", "fib", "curve"]
        assert fast[1].others[0].value == "rf" and fast[3].others[0].value == {"x": 1, "y": 2.5}
        # From a cursor: only what came after it.
        _write(store, run.id)
        later, later_cursor = store.read_metric_columns(run.id, since=cursor)
        assert sum(len(c) for c in later) == 8 and later_cursor > cursor
        assert store.read_metric_columns(run.id, since=later_cursor) == ([], later_cursor)
    finally:
        store.close()


@pytest.mark.slow
def test_a_million_points_read_as_columns(sqlite_uri: str) -> None:
    store = SqlStore(sqlite_uri)
    try:
        run = store.create_run("columns")
        now = time.time()
        for name in ("a", "b", "c", "d", "e"):
            rows = [(name, "scalar", float(i), float(i % 97), now) for i in range(200_000)]
            store.write({run.id: Batch(metrics=rows)})
        # How fast: bench/bench_store.py ("every point, as columns").
        columns, _ = store.read_metric_columns(run.id)
        assert [len(c) for c in columns] == [200_000] * 5
        assert columns[2].step[-1] == 199_999 and columns[2].value[96] == 96
    finally:
        store.close()
