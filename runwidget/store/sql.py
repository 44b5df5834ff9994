"""The SQL run store: one implementation for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import (
    Connection,
    create_engine,
    event,
    exc,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from runwidget._settings import connect_timeout
from runwidget.errors import (
    ExperimentNotFoundError,
    InvalidValueError,
    RunNotFoundError,
    SchemaVersionError,
    StoreError,
    StoreReadOnlyError,
    StoreUnavailableError,
)
from runwidget.store import schema as s
from runwidget.store.base import _UNSET, RunStore
from runwidget.store.blocks import BlockState, NewBlock, add_points
from runwidget.store.derived import SUMMARISED_KINDS, Summary, search_text, summarise, tag_rows
from runwidget.store.records import (
    Batch,
    ExperimentRecord,
    FileInfo,
    LogLine,
    MetricColumns,
    MetricPoint,
    RunRecord,
    TargetRecord,
)
from runwidget.store.sql_alerts import SqlAlerts
from runwidget.store.sql_columns import (
    StoredBlocks,
    read_blocks,
    read_numbers,
)
from runwidget.store.sql_lists import DataVersionGate, SqlRunLists, run_record, select_runs
from runwidget.store.sql_models import SqlModels

logger = logging.getLogger("runwidget")

_RUN_COUNTER = "runs"
# Rows per INSERT statement: 8 columns x 128 rows stays far below SQLite's variable limit.
_ROWS_PER_INSERT = 128
# Any constant: serialises schema creation between processes opening a new PostgreSQL store.
_PG_SCHEMA_LOCK = 0x52554E57


class SqlStore(SqlAlerts, SqlModels, SqlRunLists, RunStore):
    """A run store in SQLite (WAL mode, many processes may write one file) or PostgreSQL.

    Args:
        uri: an SQLAlchemy URL, ``sqlite:///path/runs.db`` or
            ``postgresql://user:password@host:port/database``.

    Raises:
        StoreError: the file is not a database, or the store's schema is unknown.
        SchemaVersionError: the store was written by a newer runwidget.
        StoreUnavailableError: the server cannot be reached.
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        url = make_url(uri)
        self._sqlite = url.get_backend_name() == "sqlite"
        self._display = url.render_as_string(hide_password=True)
        if self._sqlite:
            self._engine = self._sqlite_engine(url)
            self._mark = "?"
        else:
            if url.drivername in ("postgresql", "postgres"):
                url = url.set(drivername="postgresql+psycopg")
            # libpq counts whole seconds and takes at least 2.
            timeout = max(2, round(connect_timeout()))
            self._engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=4,
                max_overflow=8,
                connect_args={"connect_timeout": timeout},
            )
            self._mark = "%s"
        self._run_keys: dict[str, int] = {}
        self._sql: dict[str, str] = {}
        # Block summaries this process writes, per (run key, metric); None for a metric that
        # had points before this process wrote to it (it gets no blocks).
        self._blocks: dict[tuple[int, str], BlockState | None] = {}
        self._write_lock = threading.Lock()
        self._open()
        self._probed = {}
        file = None if not self._sqlite or url.database in (None, "", ":memory:") else url.database
        self._gate = DataVersionGate(file)

    # -- connection handling ---------------------------------------------------------------
    def _sqlite_engine(self, url: Any) -> Any:
        database = url.database or ""
        in_memory = database in ("", ":memory:")
        if not in_memory:
            path = Path(database)
            if path.is_dir():
                raise StoreError(f"run store path {database!r} is a directory; give a file path")
            _create_private(path)
        # Driver-level autocommit: this class issues BEGIN IMMEDIATE itself for writes, so
        # that two writers queue on the busy timeout instead of failing to upgrade a lock.
        engine = create_engine(
            url,
            isolation_level="AUTOCOMMIT",
            connect_args={"timeout": 30, "check_same_thread": False},
            **({"poolclass": StaticPool} if in_memory else {}),
        )

        @event.listens_for(engine, "connect")
        def _configure(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout = 30000")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                # WAL + NORMAL survives a crash of the application; only power loss may
                # drop the last transactions.
                cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        return engine

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn driver errors into runwidget's, naming the store."""
        try:
            yield
        except exc.OperationalError as e:
            if "readonly database" in str(e.orig):
                raise StoreReadOnlyError(
                    f"run store {self._display} is read-only ({_first_line(e.orig)}): make the "
                    "file and its directory writable by this user, or pass another store"
                ) from e
            raise StoreUnavailableError(
                f"run store {self._display} is unreachable: {_first_line(e.orig)}"
            ) from e
        except exc.DatabaseError as e:
            raise StoreError(f"run store {self._display} failed: {_first_line(e.orig)}") from e

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._errors(), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        with self._errors(), self._engine.connect() as conn:
            if self._sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.exec_driver_sql("ROLLBACK")
                    raise
                conn.exec_driver_sql("COMMIT")
            else:
                with conn.begin():
                    yield conn

    def _q(self, key: str, sql: str) -> str:
        """SQL written with ``?`` placeholders, in the driver's own style (cached)."""
        text = self._sql.get(key)
        if text is None:
            text = self._sql[key] = sql.replace("?", self._mark)
        return text

    def close(self) -> None:
        self._gate.close()
        self._engine.dispose()

    # -- schema ----------------------------------------------------------------------------
    def _open(self) -> None:
        try:
            with self._writing() as conn:
                if not self._sqlite:
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_SCHEMA_LOCK})")
                tables = set(inspect(conn).get_table_names())
                if s.meta.name not in tables:
                    self._create_schema(conn, tables)
                else:
                    self._check_version(conn)
                if not self._sqlite:
                    self._index_search(conn)
        except StoreUnavailableError:
            raise
        except StoreError as e:
            if self._sqlite and "not a database" in str(e):
                raise StoreError(
                    f"{self._display} is not a runwidget store (the file is not an SQLite "
                    "database). Pass another path, or move the file away."
                ) from e
            raise

    def _index_search(self, conn: Connection) -> None:
        """PostgreSQL: a trigram index makes a run list's search (``LIKE '%text%'``) an
        index read. pg_trgm ships with PostgreSQL and any database owner may enable it;
        where that is refused, search scans the runs (slower on a large store, as correct).
        """
        found = conn.exec_driver_sql(
            "SELECT 1 FROM pg_indexes WHERE tablename = 'rw_runs' "
            "AND indexname = 'rw_runs_search_trgm'"
        ).first()
        if found:
            return
        try:
            with conn.begin_nested():
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                conn.exec_driver_sql(
                    "CREATE INDEX IF NOT EXISTS rw_runs_search_trgm "
                    "ON rw_runs USING gin (search gin_trgm_ops)"
                )
        except exc.DBAPIError as e:
            logger.info("run store %s: no trigram index for search (%s)", self._display, e.orig)

    def _create_schema(self, conn: Connection, tables: set[str]) -> None:
        ours = {t.name for t in s.metadata.sorted_tables}
        if tables & ours:
            raise StoreError(
                f"{self._display} has some runwidget tables but no {s.meta.name} table; "
                "it is not a complete runwidget store"
            )
        s.metadata.create_all(conn)
        conn.execute(s.meta.insert().values(key="schema_version", value=str(s.SCHEMA_VERSION)))
        conn.execute(s.counters.insert().values(name=_RUN_COUNTER, value=0))
        logger.info("created run store %s (schema %d)", self._display, s.SCHEMA_VERSION)

    def _check_version(self, conn: Connection) -> None:
        row = conn.execute(
            select(s.meta.c.value).where(s.meta.c.key == "schema_version")
        ).scalar_one_or_none()
        version = int(row) if row is not None else 0
        if version > s.SCHEMA_VERSION:
            raise SchemaVersionError(
                f"run store {self._display} has schema version {version}, written by a newer "
                f"runwidget; this one reads versions up to {s.SCHEMA_VERSION}. "
                "Upgrade runwidget (pip install -U runwidget)."
            )
        while version < s.SCHEMA_VERSION:
            step = s.MIGRATIONS.get(version)
            if step is None:
                raise StoreError(
                    f"run store {self._display} has schema version {version}, which this "
                    f"runwidget cannot migrate (it knows versions {sorted(s.MIGRATIONS)})"
                )
            step(conn)
            version += 1
            conn.execute(
                update(s.meta).where(s.meta.c.key == "schema_version").values(value=str(version))
            )
            logger.info("migrated run store %s to schema %d", self._display, version)

    # -- experiments -----------------------------------------------------------------------
    def get_or_create_experiment(self, name: str) -> ExperimentRecord:
        with self._reading() as conn:
            row = conn.execute(select(s.experiments).where(s.experiments.c.name == name)).first()
        if row is not None:
            return ExperimentRecord(row.id, row.name, row.created)
        with self._writing() as conn:
            self._experiment_id(conn, name)
            row = conn.execute(select(s.experiments).where(s.experiments.c.name == name)).one()
        return ExperimentRecord(row.id, row.name, row.created)

    def list_experiments(self) -> list[ExperimentRecord]:
        with self._reading() as conn:
            rows = conn.execute(select(s.experiments).order_by(s.experiments.c.id)).all()
        return [ExperimentRecord(r.id, r.name, r.created) for r in rows]

    def _experiment_id(self, conn: Connection, name: str) -> int:
        """The experiment's id, creating it. Call inside a write transaction."""
        found = conn.execute(
            select(s.experiments.c.id).where(s.experiments.c.name == name)
        ).scalar_one_or_none()
        if found is not None:
            return found
        return conn.execute(
            s.experiments.insert().values(name=name, created=time.time())
        ).inserted_primary_key[0]

    # -- runs ------------------------------------------------------------------------------
    def _next_seq(self, conn: Connection) -> int:
        # The UPDATE row-locks the counter until commit (PostgreSQL), so run changes get
        # cursors in commit order and a reader never skips one.
        conn.execute(
            update(s.counters)
            .where(s.counters.c.name == _RUN_COUNTER)
            .values(value=s.counters.c.value + 1)
        )
        return conn.execute(
            select(s.counters.c.value).where(s.counters.c.name == _RUN_COUNTER)
        ).scalar_one()

    def create_run(
        self,
        experiment: str,
        *,
        run_id: str | None = None,
        parent_id: str | None = None,
        display_name: str | None = None,
        run_type: str = "interactive",
        status: str = "NotStarted",
        started: float | None = None,
        properties: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        target: str = "local",
        arguments: list[Any] | None = None,
    ) -> RunRecord:
        now = time.time()
        run_id = run_id or new_run_id(experiment, now)
        try:
            with self._writing() as conn:
                experiment_id = self._experiment_id(conn, experiment)
                if parent_id is not None:
                    parent = conn.execute(
                        select(s.runs.c.key).where(s.runs.c.id == parent_id)
                    ).first()
                    if parent is None:
                        raise RunNotFoundError(f"parent run {parent_id!r} not found")
                seq = self._next_seq(conn)
                number = conn.execute(
                    select(func.coalesce(func.max(s.runs.c.number), 0) + 1).where(
                        s.runs.c.experiment_id == experiment_id
                    )
                ).scalar_one()
                shown_name = display_name or run_id
                tags = dict(tags or {})
                key = conn.execute(
                    s.runs.insert().values(
                        id=run_id,
                        experiment_id=experiment_id,
                        parent_id=parent_id,
                        number=number,
                        display_name=shown_name,
                        run_type=run_type,
                        status=status,
                        created=now,
                        started=started,
                        heartbeat=started,
                        properties=_dumps(dict(properties or {})),
                        tags=_dumps(tags),
                        target=target,
                        arguments=_dumps(list(arguments or [])),
                        seq=seq,
                        search=search_text(shown_name, run_id, experiment, run_type, tags),
                    )
                ).inserted_primary_key[0]
                if tags:
                    conn.execute(s.run_tags.insert(), tag_rows(key, tags))
        except StoreError as e:
            if isinstance(e.__cause__, exc.IntegrityError):
                raise InvalidValueError(f"run id {run_id!r} already exists") from e
            raise
        return self.get_run(run_id)

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        started: float | None = None,
        ended: float | None = None,
        error: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        display_name: str | None = None,
        only_if_status: Collection[str] | None = None,
        remove_tags: Collection[str] | None = None,
    ) -> bool:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = status
        if started is not None:
            values["started"] = started
            values["heartbeat"] = started
        if ended is not None:
            values["ended"] = ended
        if error is not None:
            values["error_message"] = str(error.get("message", ""))
            values["error_traceback"] = error.get("traceback")
        if display_name is not None:
            values["display_name"] = display_name
        with self._writing() as conn:
            c = s.runs.c
            row = conn.execute(
                select(c.key, c.status, c.properties, c.tags, c.display_name, c.run_type)
                .add_columns(s.experiments.c.name.label("experiment"))
                .join(s.experiments, s.experiments.c.id == c.experiment_id)
                .where(c.id == run_id)
            ).first()
            if row is None:
                raise RunNotFoundError(f"run {run_id!r} not found in {self._display}")
            if only_if_status is not None and row.status not in only_if_status:
                return False
            if properties:
                values["properties"] = _dumps({**json.loads(row.properties), **properties})
            new_tags = json.loads(row.tags)
            if tags or remove_tags:
                removed = set(remove_tags or ())
                kept = {k: v for k, v in new_tags.items() if k not in removed}
                new_tags = {**kept, **(tags or {})}
                values["tags"] = _dumps(new_tags)
                conn.execute(s.run_tags.delete().where(s.run_tags.c.run_key == row.key))
                if new_tags:
                    conn.execute(s.run_tags.insert(), tag_rows(row.key, new_tags))
            if "tags" in values or display_name is not None:
                values["search"] = search_text(
                    display_name or row.display_name, run_id, row.experiment, row.run_type, new_tags
                )
            values["seq"] = self._next_seq(conn)
            conn.execute(update(s.runs).where(s.runs.c.id == run_id).values(**values))
        return True

    def beat(self, run_ids: Collection[str], now: float) -> None:
        if not run_ids:
            return
        with self._writing() as conn:
            conn.execute(update(s.runs).where(s.runs.c.id.in_(list(run_ids))).values(heartbeat=now))

    def get_run(self, run_id: str) -> RunRecord:
        with self._reading() as conn:
            row = conn.execute(select_runs().where(s.runs.c.id == run_id)).first()
        if row is None:
            raise RunNotFoundError(f"run {run_id!r} not found in {self._display}")
        return run_record(row)

    def list_runs(
        self,
        *,
        experiment: str | None = None,
        parent_id: str | None = _UNSET,
        status: Collection[str] | None = None,
        since: int = 0,
        limit: int | None = None,
    ) -> list[RunRecord]:
        query = select_runs().where(s.runs.c.seq > since)
        if experiment is not None:
            query = query.where(s.experiments.c.name == experiment)
        if parent_id is None:
            query = query.where(s.runs.c.parent_id.is_(None))
        elif parent_id is not _UNSET:
            query = query.where(s.runs.c.parent_id == parent_id)
        if status is not None:
            query = query.where(s.runs.c.status.in_(list(status)))
        query = query.order_by(s.runs.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self._reading() as conn:
            rows = conn.execute(query).all()
        if experiment is not None and not rows and since == 0:
            self._require_experiment(experiment)
        return [run_record(r) for r in rows]

    def _require_experiment(self, name: str) -> None:
        with self._reading() as conn:
            found = conn.execute(
                select(s.experiments.c.id).where(s.experiments.c.name == name)
            ).first()
        if found is None:
            raise ExperimentNotFoundError(f"experiment {name!r} not found in {self._display}")

    def _run_key(self, conn: Connection, run_id: str) -> int:
        key = self._run_keys.get(run_id)
        if key is None:
            key = conn.execute(
                select(s.runs.c.key).where(s.runs.c.id == run_id)
            ).scalar_one_or_none()
            if key is None:
                raise RunNotFoundError(f"run {run_id!r} not found in {self._display}")
            self._run_keys[run_id] = key
        return key

    # -- data ------------------------------------------------------------------------------
    def _insert_many(
        self, conn: Connection, table: str, columns: str, rows: list[tuple], returning: bool = False
    ) -> Sequence[int]:
        """Insert rows in statements of ``_ROWS_PER_INSERT`` rows each; with ``returning``,
        the new rows' ``seq``, in order.

        One statement per row would release and re-take the GIL per row inside the
        driver; while the training loop holds the GIL, each re-take can wait a thread
        switch interval. Multi-row statements make that cost per chunk instead.
        """
        if returning and not self._sqlite:
            return self._insert_returning(conn, table, columns, rows)
        width = len(rows[0])
        one = "(" + ", ".join("?" * width) + ")"
        full = len(rows) - len(rows) % _ROWS_PER_INSERT
        if full:
            sql = self._q(
                f"{table}:{_ROWS_PER_INSERT}",
                f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([one] * _ROWS_PER_INSERT),
            )
            chunks = [
                tuple(chain.from_iterable(rows[i : i + _ROWS_PER_INSERT]))
                for i in range(0, full, _ROWS_PER_INSERT)
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

    def _insert_returning(
        self, conn: Connection, table: str, columns: str, rows: list[tuple]
    ) -> list[int]:
        # PostgreSQL: writers of other runs take sequence numbers at the same time, so the
        # new rows' seqs are asked for.
        width = len(rows[0])
        one = "(" + ", ".join("?" * width) + ")"
        cursor = conn.connection.driver_connection.cursor()
        seqs: list[int] = []
        try:
            for i in range(0, len(rows), _ROWS_PER_INSERT):
                chunk = rows[i : i + _ROWS_PER_INSERT]
                sql = self._q(
                    f"{table}:{len(chunk)}:returning",
                    f"INSERT INTO {table} ({columns}) VALUES "
                    + ", ".join([one] * len(chunk))
                    + " RETURNING seq",
                )
                cursor.execute(sql, tuple(chain.from_iterable(chunk)))
                seqs += sorted(row[0] for row in cursor.fetchall())
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
        self, conn: Connection, key: int, metrics: list[tuple]
    ) -> dict[tuple[int, str], BlockState | None]:
        """Insert a run's metric points and the blocks they complete; the new block states."""
        rows = [_encode_metric(key, m) for m in metrics]
        numeric: dict[str, list[int]] = {}  # positions of the numbers, by metric
        for position, row in enumerate(rows):
            # A number: no text, and no data unless it is an int's (then value is set too).
            if row[5] is None and (row[6] is None or row[4] is not None):
                numeric.setdefault(row[1], []).append(position)
        summed = [n for n, where in numeric.items() if rows[where[0]][2] in SUMMARISED_KINDS]
        states: dict[tuple[int, str], BlockState | None] = {}
        done: dict[str, list[NewBlock]] = {}
        for name, where in numeric.items():
            state = self._block_state(conn, key, name)
            if state is None:
                states[(key, name)] = None
                continue
            # numpy reads None (no step; NaN stored as NULL) as NaN.
            steps = np.array([rows[i][3] for i in where], dtype=float)
            values = np.array([rows[i][4] for i in where], dtype=float)
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
            states[(key, name)].first_seq = seqs[numeric[name][0]]  # type: ignore[union-attr]
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
        rows: list[tuple],
        seqs: Sequence[int],
    ) -> None:
        """Fold the new points into the metrics' summaries, in the points' transaction.

        One statement per metric that merges in the database: two processes that log one
        metric of a run at once both count, and ``last`` is the point with the larger seq.
        """
        found = []
        for name in names:
            where = [i for i in numeric[name] if rows[i][2] in SUMMARISED_KINDS]
            total = summarise(
                (seqs[i], math.nan if rows[i][4] is None else rows[i][4]) for i in where
            )
            if total is not None:
                found.append(
                    (key, name, total.count, *_nulls(total), total.first_seq, total.last_seq)
                )
        if found:
            conn.exec_driver_sql(self._q("summaries", _UPSERT_SUMMARY), found)

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
        return [_decode_metric(r) for r in rows]

    def read_metric_columns(
        self, run_id: str, *, since: int = 0, blocks_from: int | None = None
    ) -> tuple[list[MetricColumns], int]:
        if blocks_from is not None and (
            not isinstance(blocks_from, int) or isinstance(blocks_from, bool) or blocks_from < 1
        ):
            raise InvalidValueError(f"blocks_from must be an integer >= 1, got {blocks_from!r}")
        # Every query is bounded by the largest seq found first: a run's points commit in seq
        # order (one writer per run), so all of them up to that seq are there, and later ones
        # are left for the next call. Numbers go into numpy with no record per point
        # (sql_columns.py), and a long metric's first points come as block summaries.
        with self._reading() as conn:
            key = self._run_key(conn, run_id)
            top = conn.exec_driver_sql(
                self._q("mc:top", "SELECT MAX(seq) FROM rw_metrics WHERE run_key = ? AND seq > ?"),
                (key, since),
            ).scalar()
            if top is None:
                return [], since
            bounds = (key, since, top)
            # Scans that return a few rows each (the database scans without the GIL).
            found = conn.exec_driver_sql(
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
            rows = conn.exec_driver_sql(
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
                point = _decode_metric(row)
                others.setdefault(point.name, []).append(point)
            blocks: dict[str, StoredBlocks] = {}
            if blocks_from is not None and since == 0:
                for n, found_blocks in read_blocks(conn, self._sqlite, key, top).items():
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
            numbers = read_numbers(conn, self._sqlite, names, bounds, after)
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

    # -- compute targets -------------------------------------------------------------------
    def put_target(self, name: str, kind: str, config: Mapping[str, Any]) -> None:
        table = s.compute_targets
        with self._writing() as conn:
            conn.execute(table.delete().where(table.c.name == name))
            conn.execute(
                table.insert().values(
                    name=name, kind=kind, config=_dumps(dict(config)), created=time.time()
                )
            )

    def list_targets(self) -> list[TargetRecord]:
        table = s.compute_targets
        with self._reading() as conn:
            rows = conn.execute(select(table).order_by(table.c.name)).all()
        return [TargetRecord(r.name, r.kind, json.loads(r.config), r.created) for r in rows]

    def delete_target(self, name: str) -> bool:
        table = s.compute_targets
        with self._writing() as conn:
            return conn.execute(table.delete().where(table.c.name == name)).rowcount > 0


def new_run_id(experiment: str, now: float | None = None) -> str:
    """``<experiment>_<unix time>_<8 hex>``, with the experiment name made URL-safe."""
    slug = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in experiment
    )
    slug = slug.strip("-")[:40] or "run"
    return f"{slug}_{int(now if now is not None else time.time())}_{uuid.uuid4().hex[:8]}"


def _create_private(path: Path) -> None:
    """Create the store's directory (0700) and file (0600) when missing: runs hold secrets
    such as tags and logs. SQLite gives its -wal and -shm files the database file's mode."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    except OSError as e:
        raise StoreError(f"cannot create the run store file {str(path)!r}: {e}") from e


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


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def _first_line(error: BaseException | None) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _encode_metric(key: int, m: tuple[str, str, float | None, Any, float]) -> tuple[Any, ...]:
    name, kind, step, value, at = m
    if value.__class__ is float:
        # SQLite turns NaN into NULL anyway; doing it for both backends keeps one rule.
        return (key, name, kind, step, None if value != value else value, None, None, at)
    if isinstance(value, str):
        return (key, name, kind, step, None, value, None, at)
    if isinstance(value, dict):
        return (key, name, kind, step, None, None, json.dumps(value), at)
    if value.__class__ is int:
        # The float for charts and blocks; the exact int, as JSON, to give back.
        return (key, name, kind, step, float(value), None, str(value), at)
    return (key, name, kind, step, float(value), None, None, at)


def _decode_metric(row: Any) -> MetricPoint:
    seq, name, kind, step, value, text, data, at = row
    if value is None:
        if text is not None:
            value = text
        elif data is not None:
            value = json.loads(data)
        else:
            value = math.nan
    elif data is not None:
        value = int(data)  # an int point: both columns are set
    return MetricPoint(seq, name, kind, step, value, at)
