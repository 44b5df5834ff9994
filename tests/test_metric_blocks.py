"""Block summaries of long metrics: written with the points, read instead of them, and the
chart drawn from them is the chart drawn from every point."""

from __future__ import annotations

import math
import random
import sqlite3
from collections.abc import Iterator

import numpy as np
import pytest

from runwidget.errors import InvalidValueError
from runwidget.store import Batch, NewFile, RunStore, SqlStore
from runwidget.store.blocks import BLOCK_SIZE
from runwidget.view.charts import ChartSet

MAX_POINTS = 2000
BLOCKS_FROM = MAX_POINTS // 8 + 1  # what RunView asks for


@pytest.fixture
def store(sqlite_uri: str) -> Iterator[SqlStore]:
    store = SqlStore(sqlite_uri)
    yield store
    store.close()


def _values(n: int, rng: random.Random) -> list[float]:
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.03:
            out.append(math.nan)
        elif r < 0.04:
            out.append(rng.choice([math.inf, -math.inf]))
        else:
            out.append(math.sin(i / 300) + rng.random() * 0.2 + (5 if r > 0.999 else 0))
    return out


def _log(store: RunStore, run_id: str, name: str, values: list[float], rng: random.Random,
         steps: bool = False, first_step: int = 0) -> None:  # fmt: skip
    i = 0
    while i < len(values):
        n = rng.randint(1, 3000)
        rows = [
            (name, "scalar", float(first_step + i + k) if steps else None, v, 0.0)
            for k, v in enumerate(values[i : i + n])
        ]
        store.write({run_id: Batch(metrics=rows)})
        i += n


def _chart(columns) -> list[dict]:
    charts = ChartSet(MAX_POINTS)
    charts.add_columns(columns)
    return charts.snapshot()


def _check_blocks_against_points(store: SqlStore, run_id: str, name: str) -> None:
    """Every block's first, lowest, highest and last points, found again from the points."""
    (col,) = [c for c in store.read_metric_columns(run_id, blocks_from=1)[0] if c.name == name]
    points = [p for p in store.read_metrics(run_id, name=name)]
    values = np.array([p.value for p in points], dtype=float)
    steps = np.array([math.nan if p.step is None else p.step for p in points])
    finite = np.flatnonzero(np.isfinite(values))
    blocks = col.blocks
    assert blocks is not None and len(blocks) == len(finite) // BLOCK_SIZE
    assert blocks.points == finite[len(blocks) * BLOCK_SIZE - 1] + 1
    assert len(col.seq) == len(points) - blocks.points  # the points after the blocks
    for b in range(len(blocks)):
        ranks = np.arange(b * BLOCK_SIZE, (b + 1) * BLOCK_SIZE)
        block_values = values[finite[ranks]]
        roles = [0, int(block_values.argmin()), int(block_values.argmax()), BLOCK_SIZE - 1]
        expected_rank = ranks[roles]
        assert blocks.rank[b].tolist() == expected_rank.tolist()
        assert blocks.index[b].tolist() == finite[expected_rank].tolist()
        assert blocks.value[b].tolist() == values[finite[expected_rank]].tolist()
        np.testing.assert_array_equal(blocks.step[b], steps[finite[expected_rank]])


@pytest.mark.parametrize("steps", [False, True], ids=["index", "step"])
def test_chart_from_blocks_is_the_chart_from_points(store_uri: str, steps: bool) -> None:
    rng = random.Random(7)
    store = SqlStore(store_uri)
    try:
        run = store.create_run("blocks")
        _log(store, run.id, "loss", _values(40_000, rng), rng, steps=steps)
        store.write({run.id: Batch(metrics=[("lr", "scalar", None, 0.1, 0.0)] * 3)})
        _check_blocks_against_points(store, run.id, "loss")

        fast, cursor = store.read_metric_columns(run.id, blocks_from=BLOCKS_FROM)
        slow, slow_cursor = store.read_metric_columns(run.id)
        assert cursor == slow_cursor
        assert [c.name for c in fast] == ["loss", "lr"]
        assert fast[0].blocks is not None and len(fast[0].blocks) >= BLOCKS_FROM
        assert fast[1].blocks is None  # a short metric comes as points
        assert len(fast[0]) == len(slow[0]) == 40_000
        assert _chart(fast) == _chart(slow)

        # Points that come later extend the chart the same way.
        charts_fast, charts_slow = ChartSet(MAX_POINTS), ChartSet(MAX_POINTS)
        charts_fast.add_columns(fast)
        charts_slow.add_columns(slow)
        _log(store, run.id, "loss", _values(5_000, rng), rng, steps=steps, first_step=40_000)
        later, _ = store.read_metric_columns(run.id, since=cursor, blocks_from=BLOCKS_FROM)
        assert later[0].blocks is None  # blocks only start a read
        charts_fast.add_columns(later)
        charts_slow.add_columns(later)
        assert charts_fast.snapshot() == charts_slow.snapshot()
        assert charts_fast.snapshot()[0]["series"][0]["count"] == 45_000
    finally:
        store.close()


def test_short_metrics_and_metrics_with_strings_come_as_points(store: SqlStore) -> None:
    rng = random.Random(1)
    run = store.create_run("blocks")
    _log(store, run.id, "acc", _values(20_000, rng), rng)
    store.write({run.id: Batch(metrics=[("acc", "scalar", None, "diverged", 0.0)])})
    _log(store, run.id, "short", [0.5] * (BLOCK_SIZE * 10), rng)
    columns, _ = store.read_metric_columns(run.id, blocks_from=11)
    assert [(c.name, c.blocks) for c in columns] == [("acc", None), ("short", None)]
    assert len(columns[0].seq) == 20_000 and columns[0].others[0].value == "diverged"
    assert len(store.read_metric_columns(run.id, blocks_from=10)[0][1].blocks) == 10
    for bad in (0, 2.5, "10", True):
        with pytest.raises(InvalidValueError, match="blocks_from must be an integer"):
            store.read_metric_columns(run.id, blocks_from=bad)


def test_a_failed_write_leaves_the_blocks_right(store: SqlStore) -> None:
    rng = random.Random(3)
    run = store.create_run("blocks")
    taken = NewFile(path="a.txt", data=b"x")
    store.write({run.id: Batch(files=[taken])})
    _log(store, run.id, "loss", _values(1_000, rng), rng)
    rows = [("loss", "scalar", None, v, 0.0) for v in _values(1_000, rng)]
    # Points and a file path already taken: the whole write is refused...
    with pytest.raises(InvalidValueError, match="already taken"):
        store.write({run.id: Batch(metrics=rows, files=[taken])})
    # ...and written again without the file, the blocks go on from the stored points.
    store.write({run.id: Batch(metrics=rows)})
    _log(store, run.id, "loss", _values(1_000, rng), rng)
    _check_blocks_against_points(store, run.id, "loss")


def test_a_second_writer_of_a_metric_writes_no_blocks(sqlite_uri: str) -> None:
    rng = random.Random(5)
    first, second = SqlStore(sqlite_uri), SqlStore(sqlite_uri)
    try:
        run = first.create_run("blocks")
        _log(first, run.id, "loss", _values(20_000, rng), rng)
        # Another process resumes the run: its points of "loss" come after the blocks.
        _log(second, run.id, "loss", _values(20_000, rng), rng)
        _log(first, run.id, "loss", _values(1_000, rng), rng)
        fast, _ = first.read_metric_columns(run.id, blocks_from=BLOCKS_FROM)
        slow, _ = first.read_metric_columns(run.id)
        assert fast[0].blocks is not None and len(fast[0]) == 41_000
        assert _chart(fast) == _chart(slow)
    finally:
        first.close()
        second.close()


def test_blocks_of_two_writers_at_once_are_not_used(tmp_path) -> None:
    # Two processes that start one metric of one run at the same moment (possible on
    # PostgreSQL) both number their blocks from 0; a reader then reads the points.
    rng = random.Random(9)
    path = tmp_path / "runs.db"
    store = SqlStore(f"sqlite:///{path}")
    try:
        run = store.create_run("blocks")
        _log(store, run.id, "loss", _values(20_000, rng), rng)
        with sqlite3.connect(path) as conn:
            conn.execute(
                "INSERT INTO rw_metric_blocks (run_key, name, block, first_seq, last_seq, summary) "
                "SELECT run_key, name, block, first_seq, last_seq + 1, summary "
                "FROM rw_metric_blocks WHERE block = 3"
            )
        fast, _ = store.read_metric_columns(run.id, blocks_from=1)
        slow, _ = store.read_metric_columns(run.id)
        assert fast[0].blocks is None and len(fast[0]) == 20_000
        assert _chart(fast) == _chart(slow)
    finally:
        store.close()
