"""Metric points, log lines and files in the SQL store: the part of ``SqlStore`` that
writes them (with block summaries and metric summaries, in one transaction) and reads them
back through cursors. A mixin: ``SqlStore`` gives it its connections and run keys.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection, exc, select

from runwidget.errors import (
    InvalidValueError,
    StoreError,
)
from runwidget.store import schema as s
from runwidget.store.blocks import BlockState, NewBlock, add_points
from runwidget.store.derived import SUMMARISED_KINDS, Summary, summarise
from runwidget.store.records import (
    Batch,
    FileInfo,
    LogLine,
    MetricColumns,
    MetricPoint,
)
from runwidget.store.sql_columns import ColumnReader
from runwidget.store.sql_driver import driver_errors
from runwidget.store.sql_rows import MetricRow, decode_metric, encode_metric

logger = logging.getLogger("runwidget")

# Rows per INSERT statement: 8 columns x 128 rows stays far below SQLite's variable limit.
ROWS_PER_INSERT = 128


class SqlData:
    """``RunStore``'s write and data-reading methods for SQLite and PostgreSQL."""

    _sqlite: bool
    _display: str
    _blocks: dict[tuple[int, str], BlockState | None]
    _write_lock: threading.Lock

    if TYPE_CHECKING:

        def _reading(self) -> AbstractContextManager[Connection]: ...
        def _writing(self) -> AbstractContextManager[Connection]: ...
        def _q(self, key: str, sql: str) -> str: ...
        def _run_key(self, conn: Connection, run_id: str) -> int: ...

    # -- data ------------------------------------------------------------------------------
    def _insert_many(
        self,
        conn: Connection,
        table: str,
        columns: str,
        rows: Sequence[tuple[Any, ...]],
        returning: bool = False,
    ) -> Sequence[int]:
        """Insert rows (SQLite: in statements of ``ROWS_PER_INSERT`` rows each; PostgreSQL:
        by ``COPY``); with ``returning``, the new rows' ``seq``, in order.

        One statement per row would release and re-take the GIL per row inside the
        driver; while the training loop holds the GIL, each re-take can wait a thread
        switch interval. Multi-row statements make that cost per chunk instead.
        """
        if not self._sqlite:
            return self._copy_rows(conn, table, columns, rows, returning)
        width = len(rows[0])
        one = "(" + ", ".join("?" * width) + ")"
        full = len(rows) - len(rows) % ROWS_PER_INSERT
        if full:
            sql = self._q(
                f"{table}:{ROWS_PER_INSERT}",
                f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([one] * ROWS_PER_INSERT),
            )
            chunks = [
                tuple(chain.from_iterable(rows[i : i + ROWS_PER_INSERT]))
                for i in range(0, full, ROWS_PER_INSERT)
            ]
            conn.exec_driver_sql(sql, chunks)
        if full < len(rows):
            sql = self._q(f"{table}:1", f"INSERT INTO {table} ({columns}) VALUES {one}")
            conn.exec_driver_sql(sql, rows[full:])
        if not returning:
            return []
        # SQLite: this transaction holds the write lock, and a new row's rowid is one more
        # than the largest (SQLite's documented rule), so the new rows have the largest seqs.
        top = conn.exec_driver_sql(f"SELECT MAX(seq) FROM {table}").scalar_one()
        return range(top - len(rows) + 1, top + 1)

    def _copy_rows(
        self,
        conn: Connection,
        table: str,
        columns: str,
        rows: Sequence[tuple[Any, ...]],
        returning: bool,
    ) -> list[int]:
        """PostgreSQL: the rows in one ``COPY`` (no statement to parse, one stream of
        rows); with ``returning``, their seqs are taken from the table's sequence first and
        written with them, in order.

        Writers of other runs take seqs at the same time, so a batch's seqs need not be
        consecutive; each run's grow, as its writer's batches commit in order.
        """
        driver = conn.connection.driver_connection
        assert driver is not None  # a connection checked out of the pool
        seqs: list[int] = []
        with driver_errors(conn, f"COPY {table}"):
            cursor = driver.cursor()
            try:
                if returning:
                    cursor.execute(
                        "SELECT nextval(pg_get_serial_sequence(%s, 'seq')) "
                        "FROM generate_series(1, %s)",
                        (table, len(rows)),
                    )
                    seqs = sorted(row[0] for row in cursor.fetchall())
                    columns = f"seq, {columns}"
                    rows = [(seq, *row) for seq, row in zip(seqs, rows, strict=True)]
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            finally:
                cursor.close()
        return seqs

    def write(self, batches: Mapping[str, Batch]) -> None:
        with self._write_lock:
            self._write(batches)

    def _write(self, batches: Mapping[str, Batch]) -> None:
        block_states: dict[tuple[int, str], BlockState | None] = {}
        try:
            with self._writing() as conn:
                for run_id, batch in batches.items():
                    key = self._run_key(conn, run_id)
                    if batch.metrics or batch.logs or batch.files:
                        conn.exec_driver_sql(
                            self._q(
                                "data_version",
                                "UPDATE rw_runs SET data_version = data_version + 1 WHERE key = ?",
                            ),
                            (key,),
                        )
                    if batch.metrics:
                        block_states.update(self._write_metrics(conn, key, batch.metrics))
                    if batch.logs:
                        self._insert_many(
                            conn,
                            "rw_logs",
                            "run_key, stream, text, time",
                            [(key, *line) for line in batch.logs],
                        )
                    for f in batch.files:
                        conn.execute(
                            s.files.insert().values(
                                run_key=key,
                                path=f.path,
                                kind=f.kind,
                                name=f.name,
                                step=f.step,
                                size=len(f.data),
                                content_type=f.content_type,
                                data=f.data,
                                time=f.time or time.time(),
                            )
                        )
        except StoreError as e:
            if isinstance(e.__cause__, exc.IntegrityError):
                raise InvalidValueError(f"a file path is already taken: {e}") from e
            raise
        self._blocks.update(block_states)  # only once the points are committed

    def _write_metrics(
        self, conn: Connection, key: int, metrics: list[tuple[str, str, float | None, Any, float]]
    ) -> dict[tuple[int, str], BlockState | None]:
        """Insert a run's metric points and the blocks they complete; the new block states."""
        rows = [encode_metric(key, m) for m in metrics]
        numeric: dict[str, list[int]] = {}  # positions of the numbers, by metric
        for position, row in enumerate(rows):
            if row.is_number:
                numeric.setdefault(row.name, []).append(position)
        summed = [n for n, where in numeric.items() if rows[where[0]].kind in SUMMARISED_KINDS]
        states: dict[tuple[int, str], BlockState | None] = {}
        done: dict[str, list[NewBlock]] = {}
        for name, where in numeric.items():
            state = self._block_state(conn, key, name)
            if state is None:
                states[(key, name)] = None
                continue
            # numpy reads None (no step; NaN stored as NULL) as NaN.
            steps = np.array([rows[i].step for i in where], dtype=float)
            values = np.array([rows[i].value for i in where], dtype=float)
            states[(key, name)], blocks = add_points(state, where, steps, values)
            if blocks:
                done[name] = blocks
        # The new rows' seqs are needed for the blocks, and for a metric's first point.
        starting = [n for (_, n), state in states.items() if state and state.first_seq is None]
        columns = "run_key, name, kind, step, value, text, data, time"
        returning = bool(done or starting or summed)
        seqs = self._insert_many(conn, "rw_metrics", columns, rows, returning=returning)
        if summed:
            self._add_to_summaries(conn, key, summed, numeric, rows, seqs)
        for name in starting:
            started = states[(key, name)]
            assert started is not None  # ``starting`` has only metrics with a state
            started.first_seq = seqs[numeric[name][0]]
        new_rows = []
        for name, blocks in done.items():
            state = states[(key, name)]
            assert state is not None and state.first_seq is not None
            before = self._blocks.get((key, name))
            since = (before.last_seq if before else None) or state.first_seq - 1
            last_seq = seqs[blocks[-1].last_position]
            counted = blocks[-1].covered - (before.covered if before else 0)
            if not self._only_writer(conn, key, name, since, last_seq, counted):
                logger.info("another process logs metric %r of this run too: no blocks", name)
                states[(key, name)] = None
                continue
            state.last_seq = last_seq
            new_rows += [
                (key, name, b.number, state.first_seq, seqs[b.last_position], b.summary)
                for b in blocks
            ]
        if new_rows:
            self._insert_many(
                conn,
                "rw_metric_blocks",
                "run_key, name, block, first_seq, last_seq, summary",
                new_rows,
            )
        return states

    def _add_to_summaries(
        self,
        conn: Connection,
        key: int,
        names: list[str],
        numeric: dict[str, list[int]],
        rows: list[MetricRow],
        seqs: Sequence[int],
    ) -> None:
        """Fold the new points into the metrics' summaries, in the points' transaction.

        One statement per metric that merges in the database: two processes that log one
        metric of a run at once both count, and ``last`` is the point with the larger seq.
        """
        found = []
        for name in names:
            where = [i for i in numeric[name] if rows[i].kind in SUMMARISED_KINDS]
            total = summarise(
                (seqs[i], math.nan if (value := rows[i].value) is None else value) for i in where
            )
            if total is not None:
                found.append(
                    (key, name, total.count, *_nulls(total), total.first_seq, total.last_seq)
                )
        if found:
            conn.exec_driver_sql(self._q("summaries", _UPSERT_SUMMARY), found)
            if not self._sqlite:
                # No other writer of this run is between its summaries and this: each
                # holds the run's row (its data_version) until it commits.
                conn.exec_driver_sql(
                    self._q("run summaries", s.RUN_SUMMARIES_FROM.format(condition="run_key = ?")),
                    (key,),
                )

    def _only_writer(
        self, conn: Connection, key: int, name: str, since: int, last_seq: int, counted: int
    ) -> bool:
        """Whether the metric's numeric points after ``since`` up to ``last_seq`` are the
        ``counted`` ones this process wrote (else another process logs the metric too, and
        blocks numbered by this one would leave its points out)."""
        count = conn.exec_driver_sql(
            self._q(
                "blocks:count",
                "SELECT COUNT(*) FROM rw_metrics WHERE run_key = ? AND seq > ? AND seq <= ? "
                "AND name = ? AND text IS NULL AND (data IS NULL OR value IS NOT NULL)",
            ),
            (key, since, last_seq, name),
        ).scalar()
        return count == counted

    def _block_state(self, conn: Connection, key: int, name: str) -> BlockState | None:
        if (key, name) in self._blocks:
            return self._blocks[(key, name)]
        # Blocks start with a metric's first point: one that has points already (a run
        # resumed by another process) is read point by point.
        earlier = conn.exec_driver_sql(
            self._q(
                "blocks:any", "SELECT 1 FROM rw_metrics WHERE run_key = ? AND name = ? LIMIT 1"
            ),
            (key, name),
        ).first()
        return None if earlier else BlockState()

    def read_metrics(
        self,
        run_id: str,
        *,
        since: int = 0,
        name: str | None = None,
        limit: int | None = None,
    ) -> list[MetricPoint]:
        sql = "SELECT seq, name, kind, step, value, text, data, time FROM rw_metrics"
        sql += " WHERE run_key = ? AND seq > ?"
        params: list[Any] = [since]
        if name is not None:
            sql += " AND name = ?"
            params.append(name)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        text = self._q(f"metrics:{name is not None}:{limit is not None}", sql)
        with self._reading() as conn:
            key = self._run_key(conn, run_id)
            rows = conn.exec_driver_sql(text, (key, *params)).all()
        return [decode_metric(r) for r in rows]

    def read_metric_columns(
        self, run_id: str, *, since: int = 0, blocks_from: int | None = None
    ) -> tuple[list[MetricColumns], int]:
        if blocks_from is not None and (
            not isinstance(blocks_from, int) or isinstance(blocks_from, bool) or blocks_from < 1
        ):
            raise InvalidValueError(f"blocks_from must be an integer >= 1, got {blocks_from!r}")
        with self._reading() as conn:
            key = self._run_key(conn, run_id)
            return ColumnReader(conn, self._sqlite, self._q).read(key, since, blocks_from)

    def read_logs(self, run_id: str, *, since: int = 0, limit: int | None = None) -> list[LogLine]:
        sql = "SELECT seq, stream, text, time FROM rw_logs WHERE run_key = ? AND seq > ?"
        sql += " ORDER BY seq"
        params: list[Any] = [since]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        text = self._q(f"logs:{limit is not None}", sql)
        with self._reading() as conn:
            key = self._run_key(conn, run_id)
            rows = conn.exec_driver_sql(text, (key, *params)).all()
        return [LogLine(*r) for r in rows]

    def list_files(self, run_id: str, *, kind: str | None = None, since: int = 0) -> list[FileInfo]:
        c = s.files.c
        with self._reading() as conn:
            key = self._run_key(conn, run_id)
            query = select(
                c.seq, c.path, c.kind, c.size, c.content_type, c.time, c.name, c.step
            ).where(c.run_key == key, c.seq > since)
            if kind is not None:
                query = query.where(c.kind == kind)
            rows = conn.execute(query.order_by(c.seq)).all()
        return [FileInfo(*r) for r in rows]

    def read_file(self, run_id: str, path: str) -> bytes:
        c = s.files.c
        with self._reading() as conn:
            key = self._run_key(conn, run_id)
            data = conn.execute(
                select(c.data).where(c.run_key == key, c.path == path)
            ).scalar_one_or_none()
        if data is None:
            raise FileNotFoundError(f"run {run_id!r} has no file {path!r}")
        return bytes(data)


# Merges a batch's summary of a metric (``excluded``) into the stored one. NULL low/high
# mean "only NaN so far"; NULL last means the last value was NaN.
_UPSERT_SUMMARY = """
INSERT INTO rw_metric_summaries (run_key, name, count, last, low, high, first_seq, last_seq)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_key, name) DO UPDATE SET
  count = rw_metric_summaries.count + excluded.count,
  last = CASE WHEN excluded.last_seq > rw_metric_summaries.last_seq
    THEN excluded.last ELSE rw_metric_summaries.last END,
  low = CASE WHEN rw_metric_summaries.low IS NULL THEN excluded.low
    WHEN excluded.low IS NULL OR rw_metric_summaries.low <= excluded.low
    THEN rw_metric_summaries.low ELSE excluded.low END,
  high = CASE WHEN rw_metric_summaries.high IS NULL THEN excluded.high
    WHEN excluded.high IS NULL OR rw_metric_summaries.high >= excluded.high
    THEN rw_metric_summaries.high ELSE excluded.high END,
  first_seq = CASE WHEN excluded.first_seq < rw_metric_summaries.first_seq
    THEN excluded.first_seq ELSE rw_metric_summaries.first_seq END,
  last_seq = CASE WHEN excluded.last_seq > rw_metric_summaries.last_seq
    THEN excluded.last_seq ELSE rw_metric_summaries.last_seq END
"""


def _nulls(total: Summary) -> tuple[float | None, float | None, float | None]:
    """last, low and high with NaN as NULL (SQLite stores NaN as NULL anyway)."""
    return tuple(None if v != v else v for v in (total.last, total.low, total.high))  # type: ignore[return-value]
