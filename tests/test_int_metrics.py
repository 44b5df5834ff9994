"""Integer metrics read back as ints; they count as numbers for blocks and charts."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from runwidget import Experiment, Workspace
from runwidget.errors import InvalidValueError
from runwidget.store import Batch, SqlStore
from runwidget.store.blocks import BLOCK_SIZE
from runwidget.tracking._validate import to_metric_value, to_number
from runwidget.view.charts import ChartSet

MAX_POINTS = 2000
BLOCKS_FROM = MAX_POINTS // 8 + 1


def test_checks_keep_ints() -> None:
    assert type(to_metric_value(10, "m")) is int
    assert type(to_metric_value(np.int64(7), "m")) is int
    assert type(to_metric_value(np.uint8(7), "m")) is int
    assert to_metric_value(True, "m") == 1.0 and type(to_metric_value(True, "m")) is float
    assert type(to_metric_value(2.5, "m")) is float
    assert type(to_metric_value(np.float32(2.5), "m")) is float
    assert type(to_number(3, "x")) is int
    with pytest.raises(InvalidValueError, match="too large"):
        to_metric_value(10**400, "m")
    with pytest.raises(InvalidValueError, match="too large"):
        to_number(-(10**400), "x")


def test_run_gives_back_ints(store_uri: str) -> None:
    run = Experiment(Workspace(store_uri), "ints").start_logging()
    run.log("epochs", 10)
    run.log("flag", True)
    run.log("big", 2**60 + 1)  # beyond a float's exact integers
    run.log("numpy", np.int32(-4))
    run.log_list("Fibonacci", [0, 1, 1, 2, 3])
    run.log_list("mixed", [1, 2.5, np.int16(3), math.nan])
    with pytest.raises(InvalidValueError, match="must be a number"):
        run.log_list("bools", [True])
    run.log("steps", 5, step=2)
    run.complete()
    metrics = run.get_metrics()
    assert metrics["epochs"] == 10 and type(metrics["epochs"]) is int
    assert metrics["flag"] == 1.0 and type(metrics["flag"]) is float
    assert metrics["big"] == 2**60 + 1
    assert metrics["numpy"] == -4 and type(metrics["numpy"]) is int
    assert metrics["Fibonacci"] == [0, 1, 1, 2, 3]
    assert [type(v) for v in metrics["Fibonacci"]] == [int] * 5
    mixed = metrics["mixed"]
    assert [type(v) for v in mixed] == [int, float, int, float]
    assert mixed[:3] == [1, 2.5, 3] and math.isnan(mixed[3])
    (point,) = run._store.read_metrics(run.id, name="steps")
    assert point.step == 2.0 and type(point.step) is float


def test_rows_and_tables_give_back_ints(store_uri: str) -> None:
    run = Experiment(Workspace(store_uri), "ints").start_logging()
    for epoch in range(1, 3):
        run.log_row("fit", epoch=epoch, loss=1 / epoch, converged=epoch == 2)
    run.log_table("Alpha vs MSE", {"alpha": [1, 2, np.int64(3)], "mse": [0.5, 0.25, 0.125]})
    with pytest.raises(InvalidValueError, match="too large"):
        run.log_row("big", n=10**400)
    run.complete()
    metrics = run.get_metrics()
    assert metrics["fit"] == {"epoch": [1, 2], "loss": [1.0, 0.5], "converged": [0.0, 1.0]}
    assert [type(v) for v in metrics["fit"]["epoch"]] == [int, int]
    assert [type(v) for v in metrics["fit"]["converged"]] == [float, float]
    assert metrics["Alpha vs MSE"]["alpha"] == [1, 2, 3]
    assert [type(v) for v in metrics["Alpha vs MSE"]["alpha"]] == [int] * 3


def test_rows_written_before_read_as_before(sqlite_uri: str) -> None:
    store = SqlStore(sqlite_uri)
    try:
        run = store.create_run("old")
        store.write({run.id: Batch(metrics=[("m", "scalar", None, 3.0, 0.0)])})
        (point,) = store.read_metrics(run.id)
        assert point.value == 3.0 and type(point.value) is float
    finally:
        store.close()


def test_int_series_get_blocks_and_charts(store_uri: str) -> None:
    rng = random.Random(3)
    store = SqlStore(store_uri)
    try:
        run = store.create_run("ints")
        n = BLOCK_SIZE * (BLOCKS_FROM + 10) + 17
        values = [rng.randint(-1000, 1000) for _ in range(n)]
        for i in range(0, n, 5000):
            rows = [("count", "scalar", None, v, 0.0) for v in values[i : i + 5000]]
            store.write({run.id: Batch(metrics=rows)})
        # A metric with both ints and floats, and a string metric, beside it.
        mixed = [("mixed", "scalar", None, v, 0.0) for v in [1, 0.5, 2, math.nan, 3]]
        store.write({run.id: Batch(metrics=[*mixed, ("note", "scalar", None, "hi", 0.0)])})

        fast, cursor = store.read_metric_columns(run.id, blocks_from=BLOCKS_FROM)
        slow, slow_cursor = store.read_metric_columns(run.id)
        assert cursor == slow_cursor
        by_name = {c.name: c for c in fast}
        count = by_name["count"]
        assert count.blocks is not None and len(count.blocks) == n // BLOCK_SIZE
        assert count.others == []
        assert len(count) == n
        first_block = values[:BLOCK_SIZE]
        assert count.blocks.value[0].tolist() == [
            first_block[0], min(first_block), max(first_block), first_block[-1]
        ]  # fmt: skip
        assert count.value.tolist() == values[len(count.blocks) * BLOCK_SIZE :]

        (all_count,) = [c for c in slow if c.name == "count"]
        assert all_count.value.tolist() == values and all_count.others == []
        mixed_col = {c.name: c for c in slow}["mixed"]
        assert mixed_col.others == [] and len(mixed_col.value) == 5
        np.testing.assert_array_equal(mixed_col.value, [1.0, 0.5, 2.0, math.nan, 3.0])
        assert np.all(np.diff(mixed_col.seq) > 0)
        assert [p.value for p in {c.name: c for c in slow}["note"].others] == ["hi"]

        charts_fast, charts_slow = ChartSet(MAX_POINTS), ChartSet(MAX_POINTS)
        charts_fast.add_columns(fast)
        charts_slow.add_columns(slow)
        assert charts_fast.snapshot() == charts_slow.snapshot()

        # Points after the first read, ints among them.
        store.write({run.id: Batch(metrics=[("count", "scalar", None, 5, 0.0)] * 3)})
        later, _ = store.read_metric_columns(run.id, since=cursor, blocks_from=BLOCKS_FROM)
        assert [c.value.tolist() for c in later if c.name == "count"] == [[5.0, 5.0, 5.0]]
    finally:
        store.close()
