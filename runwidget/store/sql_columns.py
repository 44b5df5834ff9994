"""Reading a run's numeric metric points and block summaries as numpy columns (SqlStore).

SQLite's Python driver lets go of the GIL around every row it steps to. While another thread
of the process runs Python (a training loop in the notebook's kernel), each row then waits
for that thread to hand the GIL back: 10,000 rows took 7 s instead of 0.02 s. So on SQLite
the database packs each metric's numbers into a few long strings (one row per metric) and
numpy parses them; ``%!.20g`` writes a double with enough digits to read back the same
double. PostgreSQL's driver converts rows without letting go of the GIL; there the rows come
as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import Connection

from runwidget.store.blocks import MetricBlocks, decode_blocks
from runwidget.store.records import MetricColumns, MetricPoint
from runwidget.store.sql_rows import decode_metric

logger = logging.getLogger("runwidget")


@dataclass(frozen=True)
class StoredBlocks:
    """A metric's block summaries as stored, with the seqs a reader needs."""

    blocks: MetricBlocks
    first_seq: int  # of the metric's first point
    last_seq: int  # of the last point the blocks cover


_EXACT_TEXT = "CASE WHEN {0} IS NULL THEN 'nan' ELSE printf('%!.20g', {0}) END"


def read_numbers(
    conn: Connection,
    sqlite: bool,
    names: Sequence[str],
    bounds: tuple[int, int, int],
    after: Mapping[int, int],
) -> dict[int, np.ndarray]:
    """``{name index: array of (seq, step, value) rows in seq order}`` of the numeric points
    of run ``bounds[0]`` with ``bounds[1] < seq <= bounds[2]``; for the names in ``after``,
    only the points after that seq (those before are in blocks). A missing step and a NaN
    (stored as NULL) are NaN."""
    if not names:
        return {}
    mark = "?" if sqlite else "%s"
    # The name comes back as its index, so that no string is made per point.
    case = "CASE name " + " ".join(f"WHEN {mark} THEN {i}" for i in range(len(names))) + " END"
    # A number has no text; an int keeps its exact value in data beside the float.
    where = (
        f"run_key = {mark} AND seq > {mark} AND seq <= {mark} AND text IS NULL "
        "AND (data IS NULL OR value IS NOT NULL)"
    )
    params: list[Any] = [*names, *bounds]
    if after:
        skip = " ".join(f"WHEN {mark} THEN {mark}" for _ in after)
        where += f" AND seq > CASE name {skip} ELSE 0 END"
        for i, last_seq in after.items():
            params += [names[i], last_seq]
    if sqlite:
        step, value = _EXACT_TEXT.format("step"), _EXACT_TEXT.format("value")
        sql = (
            "SELECT i, group_concat(seq), group_concat(s), group_concat(v) FROM ("
            f"SELECT {case} AS i, seq, {step} AS s, {value} AS v FROM rw_metrics WHERE {where}"
            ") GROUP BY i"
        )
        out = {}
        for i, seqs, steps, values in _fetch(conn, sql, params):
            seq = np.array(seqs.split(","), dtype=np.int64)
            order = np.argsort(seq, kind="stable")  # group_concat keeps no promised order
            table = np.empty((len(seq), 3))
            table[:, 0] = seq[order]
            table[:, 1] = np.array(steps.split(","), dtype=float)[order]
            table[:, 2] = np.array(values.split(","), dtype=float)[order]
            out[int(i)] = table
        return out
    nan = "'NaN'::double precision"
    sql = (
        f"SELECT {case}, seq, COALESCE(step, {nan}), COALESCE(value, {nan}) "
        f"FROM rw_metrics WHERE {where} ORDER BY seq"
    )
    rows = _fetch(conn, sql, params)
    if not rows:
        return {}
    flat = np.fromiter(chain.from_iterable(rows), dtype=float, count=4 * len(rows))
    table = flat.reshape(len(rows), 4)
    which = table[:, 0].astype(np.int64)
    order = np.argsort(which, kind="stable")
    table, which = table[order], which[order]
    starts = np.r_[0, np.flatnonzero(np.diff(which)) + 1]
    ends = np.r_[starts[1:], len(which)]
    return {int(which[a]): table[a:b, 1:] for a, b in zip(starts, ends, strict=True)}


def read_blocks(
    conn: Connection, sqlite: bool, key: int, top: int
) -> dict[str, StoredBlocks | None]:
    """The block summaries of run ``key`` up to seq ``top``, by metric; None for a metric
    whose blocks are not numbered 0, 1, 2, ... in seq order (two writers made them)."""
    if sqlite:
        sql = (
            "SELECT name, group_concat(block), MIN(first_seq), group_concat(last_seq), "
            "group_concat(hex(summary), '') FROM rw_metric_blocks "
            "WHERE run_key = ? AND last_seq <= ? GROUP BY name"
        )
        groups = [
            (name, _ints(numbers), first_seq, _ints(last_seqs), bytes.fromhex(summaries))
            for name, numbers, first_seq, last_seqs, summaries in _fetch(conn, sql, [key, top])
        ]
    else:
        sql = (
            "SELECT name, block, first_seq, last_seq, summary FROM rw_metric_blocks "
            "WHERE run_key = %s AND last_seq <= %s"
        )
        rows: dict[str, list[Any]] = {}
        for row in _fetch(conn, sql, [key, top]):
            rows.setdefault(row[0], []).append(row)
        groups = [
            (
                name,
                np.array([r[1] for r in group], dtype=np.int64),
                min(r[2] for r in group),
                np.array([r[3] for r in group], dtype=np.int64),
                b"".join(bytes(r[4]) for r in group),
            )
            for name, group in rows.items()
        ]
    out: dict[str, StoredBlocks | None] = {}
    for name, numbers, first_seq, last_seqs, summaries in groups:
        order = np.argsort(numbers, kind="stable")
        numbers, last_seqs = numbers[order], last_seqs[order]
        whole = np.array_equal(numbers, np.arange(len(numbers))) and bool(
            np.all(np.diff(last_seqs) > 0)
        )
        if not whole:
            out[name] = None
            continue
        size = len(summaries) // len(order)
        table = np.frombuffer(summaries, dtype=np.uint8).reshape(len(order), size)[order]
        blocks = decode_blocks(table.tobytes(), len(order))
        out[name] = StoredBlocks(blocks, int(first_seq), int(last_seqs[-1]))
    return out


def _ints(text: str) -> np.ndarray:
    return np.array(text.split(","), dtype=np.int64)


def _fetch(conn: Connection, sql: str, params: list[Any]) -> list[Any]:
    driver = conn.connection.driver_connection
    assert driver is not None  # a connection checked out of the pool
    cursor = driver.cursor()
    try:
        cursor.execute(sql, params)
        rows: list[Any] = cursor.fetchall()
        return rows
    finally:
        cursor.close()


class ColumnReader:
    """Reads a run's metric points as columns: numbers straight into numpy, and a long
    metric's first points as its block summaries (``RunStore.read_metric_columns``).

    Args:
        conn: an open connection, used for the reads of one call.
        sqlite: whether the store is SQLite (see this module's docstring).
        q: the store's ``?``-placeholder SQL translator.
    """

    def __init__(self, conn: Connection, sqlite: bool, q: Callable[[str, str], str]) -> None:
        self._conn = conn
        self._sqlite = sqlite
        self._q = q

    def read(
        self, key: int, since: int, blocks_from: int | None
    ) -> tuple[list[MetricColumns], int]:
        """The points of run ``key`` after ``since``, grouped by metric in the order of
        their first point, and the new cursor."""
        # Every query is bounded by the largest seq found first: a run's points commit in seq
        # order (one writer per run), so all of them up to that seq are there, and later ones
        # are left for the next call. Numbers go into numpy with no record per point
        # (see above), and a long metric's first points come as block summaries.
        top = self._conn.exec_driver_sql(
            self._q("mc:top", "SELECT MAX(seq) FROM rw_metrics WHERE run_key = ? AND seq > ?"),
            (key, since),
        ).scalar()
        if top is None:
            return [], since
        bounds = (key, since, top)
        # Scans that return a few rows each (the database scans without the GIL).
        found = self._conn.exec_driver_sql(
            self._q(
                "mc:names",
                "SELECT DISTINCT name, kind FROM rw_metrics "
                "WHERE run_key = ? AND seq > ? AND seq <= ?",
            ),
            bounds,
        ).all()
        kinds: dict[str, str] = {}
        for name, kind in found:
            kinds.setdefault(name, kind)
        others: dict[str, list[MetricPoint]] = {}
        rows = self._conn.exec_driver_sql(
            self._q(
                "mc:others",
                "SELECT seq, name, kind, step, value, text, data, time FROM rw_metrics "
                "WHERE run_key = ? AND seq > ? AND seq <= ? "
                "AND (text IS NOT NULL OR (data IS NOT NULL AND value IS NULL)) "
                "ORDER BY seq",
            ),
            bounds,
        ).all()
        for row in rows:
            point = decode_metric(row)
            others.setdefault(point.name, []).append(point)
        blocks: dict[str, StoredBlocks] = {}
        if blocks_from is not None and since == 0:
            for n, found_blocks in read_blocks(self._conn, self._sqlite, key, top).items():
                if found_blocks is None:
                    logger.info("metric %r has blocks of two writers; reading points", n)
                elif n in kinds and n not in others and len(found_blocks.blocks) >= blocks_from:
                    blocks[n] = found_blocks
        # Only the points after the blocks are read: when every metric has blocks, the
        # scan starts at the first of those points.
        names = list(kinds)
        after = {names.index(n): b.last_seq for n, b in blocks.items()}
        start = min(b.last_seq for b in blocks.values()) if len(blocks) == len(names) else 0
        bounds = (key, max(since, start), top)
        numbers = read_numbers(self._conn, self._sqlite, names, bounds, after)
        # Metrics in the order of their first point, as read_metrics gives them.
        first = {name: blocks[name].first_seq for name in blocks}
        for i, table in numbers.items():
            first.setdefault(names[i], int(table[0, 0]))
        for name, points in others.items():
            first[name] = min(first.get(name, points[0].seq), points[0].seq)
        order = sorted(range(len(names)), key=lambda i: first[names[i]])
        out = []
        for i in order:
            name = names[i]
            table = numbers.get(i, np.empty((0, 3)))
            summary = blocks.get(name)
            out.append(
                MetricColumns(
                    name, kinds[name], table[:, 0].astype(np.int64), table[:, 1], table[:, 2],
                    others.get(name, []), summary.blocks if summary else None,
                )
            )  # fmt: skip
        return out, int(top)
