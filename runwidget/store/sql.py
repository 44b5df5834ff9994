"""The SQL run store: one implementation for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    create_engine,
    event,
    exc,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.expression import Executable

from runwidget._settings import connect_timeout
from runwidget.errors import (
    SchemaVersionError,
    StoreError,
    StoreReadOnlyError,
    StoreUnavailableError,
)
from runwidget.store import schema as s
from runwidget.store.base import RunStore
from runwidget.store.blocks import BlockState
from runwidget.store.sql_alerts import SqlAlerts
from runwidget.store.sql_compiled import CompiledStatements
from runwidget.store.sql_data import SqlData
from runwidget.store.sql_driver import fetch_all
from runwidget.store.sql_lists import DataVersionGate, SqlRunLists
from runwidget.store.sql_models import SqlModels
from runwidget.store.sql_runs import RUN_COUNTER, SqlRuns

logger = logging.getLogger("runwidget")

# Any constant: serialises schema creation between processes opening a new PostgreSQL store.
_PG_SCHEMA_LOCK = 0x52554E57


# A pooled PostgreSQL connection used this recently is taken as alive; one idle longer is
# pinged before use (a round trip), and replaced when the ping fails.
PING_IDLE_SECONDS = 5.0


def _ping_when_idle(engine: Any) -> None:
    """Ping a pooled connection only when it was idle ``PING_IDLE_SECONDS``: SQLAlchemy's
    ``pool_pre_ping`` pings at every checkout, a round trip more per read, which 20 busy
    clients pay in full. A server restarted while a connection was in use fails one
    statement (``StoreUnavailableError``), and the pool is then made again."""

    @event.listens_for(engine, "checkin")
    def _used(_dbapi_connection: Any, record: Any) -> None:
        record.info["used"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        used = record.info.get("used")
        if used is None or time.monotonic() - used < PING_IDLE_SECONDS:
            return  # new (just connected) or used moments ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            raise exc.DisconnectionError("the pooled connection did not answer a ping")


def _pg_engine(url: Any, **options: Any) -> Any:
    """An engine of PostgreSQL connections (``options``: SQLAlchemy's), pinged when idle."""
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    # libpq counts whole seconds and takes at least 2.
    timeout = max(2, round(connect_timeout()))
    engine = create_engine(
        url, pool_size=4, max_overflow=8, connect_args={"connect_timeout": timeout}, **options
    )
    _ping_when_idle(engine)
    return engine


def _read_binary(engine: Any) -> None:
    """Have the server send results in its binary format: floats, integers and arrays are
    copied, not printed as text by the server and parsed by the client (a page of 100 runs:
    0.78 -> 0.48 ms of client CPU; of 500: 2.4 -> 1.3 ms). Text reads the same either way.
    Lists (the ids of ``= ANY``) are sent so too: as text, each id is searched for
    characters to quote (500 ids: 1.75 -> 0.25 ms)."""
    import psycopg
    from psycopg.types.array import ListBinaryDumper

    class BinaryCursor(psycopg.Cursor[Any]):
        def __init__(self, connection: Any, **options: Any) -> None:
            super().__init__(connection, **options)
            self.format = psycopg.pq.Format.BINARY

    @event.listens_for(engine, "connect")
    def _binary(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.cursor_factory = BinaryCursor
        dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)


class SqlStore(SqlRuns, SqlData, SqlAlerts, SqlModels, SqlRunLists, RunStore):
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
        self._search_table = False  # SQLite: rw_runs_fts indexes the search text
        if self._sqlite:
            self._engine = self._sqlite_engine(url)
            self._mark = "?"
        else:
            self._engine = _pg_engine(url)
            self._mark = "%s"
        # Reads run outside a transaction on PostgreSQL, from a pool of their own whose
        # connections stay in autocommit: in READ COMMITTED each statement reads its own
        # snapshot anyway, and a read then costs one round trip instead of three (BEGIN, the
        # query, ROLLBACK). Switching a shared connection to autocommit and back at each
        # read costs as much again (0.45 -> 0.23 ms of client CPU, 1.1 -> 0.3 ms per read).
        # SQLite's driver is in autocommit.
        if self._sqlite:
            self._read_engine = self._engine
        else:
            self._read_engine = _pg_engine(
                url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None
            )
            _read_binary(self._read_engine)
        self._run_keys: dict[str, int] = {}
        self._sql: dict[str, str] = {}
        # The hot reads' statements, compiled with named parameters: SQLite's driver takes
        # them as ``:name``, psycopg (the engine's own style) as ``%(name)s``.
        self._statements = CompiledStatements(
            type(self._engine.dialect)(paramstyle="named") if self._sqlite
            else self._read_engine.dialect
        )  # fmt: skip
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
            if e.connection_invalidated and self._read_engine is not self._engine:
                # The server went away: SQLAlchemy makes this engine's pool again; the
                # other pool's connections are as dead, and would fail one statement more.
                self._engine.dispose()
                self._read_engine.dispose()
            raise StoreUnavailableError(
                f"run store {self._display} is unreachable: {_first_line(e.orig)}"
            ) from e
        except exc.DatabaseError as e:
            raise StoreError(f"run store {self._display} failed: {_first_line(e.orig)}") from e

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._errors(), self._read_engine.connect() as conn:
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

    def _rows(
        self, shape: Hashable, build: Callable[[], Executable], values: Mapping[str, Any]
    ) -> Sequence[Any]:
        """The rows (tuples) of a hot read: the statement ``build()`` makes, compiled once
        per ``shape`` (runwidget/store/sql_compiled.py), with ``values`` for its named
        parameters, read on the driver's cursor (runwidget/store/sql_driver.py)."""
        sql, added = self._statements.get(shape, build)
        with self._reading() as conn:
            return fetch_all(conn, sql, {**added, **values})

    def close(self) -> None:
        self._gate.close()
        self._engine.dispose()
        if self._read_engine is not self._engine:
            self._read_engine.dispose()

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
                if self._sqlite:
                    self._search_table = self._index_search_sqlite(conn)
                else:
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

    def _index_search_sqlite(self, conn: Connection) -> bool:
        """SQLite: an FTS5 table with the trigram tokenizer, kept by triggers, indexes the
        search text, so that ``LIKE '%text%'`` (3 characters or more) is an index read. Made
        (and filled) when a store without it is opened. Returns whether it is there: an
        SQLite built without FTS5 searches by scanning the runs (slower, as correct)."""
        if conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'rw_runs_fts'"
        ).first():
            return True
        try:
            with conn.begin_nested():
                for statement in _SQLITE_SEARCH_INDEX:
                    conn.exec_driver_sql(statement)
        except exc.DBAPIError as e:
            logger.info("run store %s: no FTS5 index for search (%s)", self._display, e.orig)
            return False
        return True

    def _create_schema(self, conn: Connection, tables: set[str]) -> None:
        ours = {t.name for t in s.metadata.sorted_tables}
        if tables & ours:
            raise StoreError(
                f"{self._display} has some runwidget tables but no {s.meta.name} table; "
                "it is not a complete runwidget store"
            )
        s.metadata.create_all(conn)
        if not self._sqlite:
            s.pg_metadata.create_all(conn)
        conn.execute(s.meta.insert().values(key="schema_version", value=str(s.SCHEMA_VERSION)))
        conn.execute(s.counters.insert().values(name=RUN_COUNTER, value=0))
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


def _first_line(error: BaseException | None) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# The search index of an SQLite store: an external-content FTS5 table over rw_runs.search
# (the trigram tokenizer answers substring LIKEs), and the triggers that keep it in step.
_SQLITE_SEARCH_INDEX = (
    "CREATE VIRTUAL TABLE rw_runs_fts USING fts5("
    "search, content='rw_runs', content_rowid='key', tokenize='trigram')",
    "CREATE TRIGGER rw_runs_fts_insert AFTER INSERT ON rw_runs BEGIN "
    "INSERT INTO rw_runs_fts(rowid, search) VALUES (new.key, new.search); END",
    "CREATE TRIGGER rw_runs_fts_delete AFTER DELETE ON rw_runs BEGIN "
    "INSERT INTO rw_runs_fts(rw_runs_fts, rowid, search) VALUES ('delete', old.key, old.search);"
    " END",
    "CREATE TRIGGER rw_runs_fts_update AFTER UPDATE OF search ON rw_runs BEGIN "
    "INSERT INTO rw_runs_fts(rw_runs_fts, rowid, search) VALUES ('delete', old.key, old.search);"
    " INSERT INTO rw_runs_fts(rowid, search) VALUES (new.key, new.search); END",
    "INSERT INTO rw_runs_fts(rw_runs_fts) VALUES ('rebuild')",
)
