"""The SQL schema shared by SQLite and PostgreSQL, and its version history.

Table names carry an ``rw_`` prefix so a PostgreSQL database can be shared with other
applications. Times are seconds since the epoch (float). File bytes live in the
database (``rw_files.data``) so that a PostgreSQL store read from another machine
holds everything a reader needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    Connection,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
    update,
)

from runwidget.store.derived import NUMERIC_POINT, search_text, tag_rows

# Bump when the schema changes, and add the step from the previous version to MIGRATIONS.
SCHEMA_VERSION = 6

# SQLite only makes a rowid alias (cheap appends, no extra index) of "INTEGER PRIMARY KEY".
SeqKey = BigInteger().with_variant(Integer, "sqlite")

metadata = MetaData()

meta = Table(
    "rw_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# One row per named counter. Updating the row takes a row lock in PostgreSQL, which makes
# the run change cursor grow in commit order.
counters = Table(
    "rw_counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

experiments = Table(
    "rw_experiments",
    metadata,
    Column("id", SeqKey, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("created", Double, nullable=False),
    # Kept by create_run (runs are never moved or deleted), so that the list of
    # experiments reads this table, not every run: its top-level runs, and its newest
    # run's creation (children included).
    Column("runs", BigInteger, nullable=False, server_default="0"),
    Column("last_created", Double),
)

runs = Table(
    "rw_runs",
    metadata,
    Column("key", SeqKey, primary_key=True, autoincrement=True),
    Column("id", String(255), nullable=False, unique=True),
    Column("experiment_id", ForeignKey("rw_experiments.id"), nullable=False),
    Column("parent_id", String(255)),
    Column("number", Integer, nullable=False),
    Column("display_name", String(255), nullable=False),
    Column("run_type", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("created", Double, nullable=False),
    Column("started", Double),
    Column("ended", Double),
    Column("heartbeat", Double),
    Column("properties", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("error_message", Text),
    Column("error_traceback", Text),
    Column("target", String(255), nullable=False),
    Column("arguments", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
    # Lower-case text that a list's search looks in: name, id, experiment, type and tags.
    Column("search", Text, nullable=False, server_default=""),
    # Grows with every write of the run's metrics, logs and files: with ``seq``, what a
    # reader compares to learn that a run changed (one read by primary key).
    Column("data_version", BigInteger, nullable=False, server_default="0"),
    Index("rw_runs_seq", "seq"),
    Index("rw_runs_experiment_seq", "experiment_id", "seq"),
    Index("rw_runs_parent_seq", "parent_id", "seq"),
    # Newest-first pages (keyset on created, key), whole store and by each filter.
    Index("rw_runs_created", "created", "key"),
    Index("rw_runs_experiment_created", "experiment_id", "created", "key"),
    Index("rw_runs_parent_created", "parent_id", "created", "key"),
    Index("rw_runs_status_created", "status", "created", "key"),
    Index("rw_runs_target_created", "target", "created", "key"),
    Index("rw_runs_name_created", "display_name", "created", "key"),
    # Which alive runs stopped beating (NotResponding) without reading the others.
    Index("rw_runs_status_heartbeat", "status", "heartbeat"),
    # Each experiment's and each target's active runs, counted from an index alone.
    Index("rw_runs_status_experiment", "status", "experiment_id"),
    Index("rw_runs_status_target", "status", "target"),
)

# Each compute target's runs (children included), kept by create_run: the compute page
# counts a target's ended runs from it, not from every run.
target_runs = Table(
    "rw_target_runs",
    metadata,
    Column("target", String(255), primary_key=True),
    Column("runs", BigInteger, nullable=False),
)

# Each run's tags, one row per tag, for filters by tag (the run row keeps them as JSON).
run_tags = Table(
    "rw_run_tags",
    metadata,
    Column("run_key", BigInteger, nullable=False),
    Column("name", String(255), nullable=False),
    Column("value", Text, nullable=False),  # as the JSON of the value
    UniqueConstraint("run_key", "name", name="rw_run_tags_run_name"),
    Index("rw_run_tags_name", "name", "run_key"),
)

# value: the float (NULL with text and data NULL means NaN); text: a string metric;
# data: JSON of a row's columns.
metrics = Table(
    "rw_metrics",
    metadata,
    Column("seq", SeqKey, primary_key=True, autoincrement=True),
    Column("run_key", BigInteger, nullable=False),
    Column("name", String(255), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("step", Double),
    Column("value", Double),
    Column("text", Text),
    Column("data", Text),
    Column("time", Double, nullable=False),
    Index("rw_metrics_run_seq", "run_key", "seq"),
)

# Per run and metric, one row per ``BLOCK_SIZE`` finite values: their first, lowest,
# highest and last points (runwidget/store/blocks.py), for readers of long histories.
# first_seq is the seq of the metric's first point, last_seq that of the block's last
# point. Not unique: two processes that log one
# metric of one run at once both write blocks, and readers then ignore that metric's.
metric_blocks = Table(
    "rw_metric_blocks",
    metadata,
    Column("run_key", BigInteger, nullable=False),
    Column("name", String(255), nullable=False),
    Column("block", BigInteger, nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("summary", LargeBinary, nullable=False),
    Index("rw_metric_blocks_run", "run_key", "name", "block"),
)

# Per run and numeric metric (``run.log`` and ``run.log_list`` numbers), kept by the writer
# in the transaction of the points: lists and tables read last / min / max from here.
# NULL in last means NaN; low and high leave NaN out (NULL when every value was NaN).
metric_summaries = Table(
    "rw_metric_summaries",
    metadata,
    Column("run_key", BigInteger, primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("last", Double),
    Column("low", Double),
    Column("high", Double),
    Column("first_seq", BigInteger, nullable=False),  # metrics are listed in logging order
    Column("last_seq", BigInteger, nullable=False),
)

# PostgreSQL only: per run, its numeric metrics' summaries (as rw_metric_summaries holds
# them) in logging order, as arrays, which the writer makes again from rw_metric_summaries
# in the points' transaction. A runs table reads them with its page, one row per run, in
# one statement: a page of 100 runs and 3 metrics' last/min/max at 1M runs, 2.6 -> 1.9 ms
# of CPU, client and server. SQLite, read in its caller's process, reads rw_metric_summaries.
pg_metadata = MetaData()
run_summaries = Table(
    "rw_run_summaries",
    pg_metadata,
    Column("run_key", BigInteger, primary_key=True),
    Column("names", ARRAY(String(255)), nullable=False),
    Column("counts", ARRAY(BigInteger), nullable=False),
    Column("lasts", ARRAY(Double), nullable=False),
    Column("lows", ARRAY(Double), nullable=False),
    Column("highs", ARRAY(Double), nullable=False),
)
# rw_run_summaries made again from rw_metric_summaries, for the runs the condition names.
_ORDERED = "ORDER BY first_seq"
RUN_SUMMARIES_FROM = (
    "INSERT INTO rw_run_summaries (run_key, names, counts, lasts, lows, highs) "
    f"SELECT run_key, array_agg(name {_ORDERED}), array_agg(count {_ORDERED}), "
    f"array_agg(last {_ORDERED}), array_agg(low {_ORDERED}), array_agg(high {_ORDERED}) "
    "FROM rw_metric_summaries WHERE {condition} GROUP BY run_key "
    "ON CONFLICT (run_key) DO UPDATE SET names = excluded.names, counts = excluded.counts, "
    "lasts = excluded.lasts, lows = excluded.lows, highs = excluded.highs"
)

logs = Table(
    "rw_logs",
    metadata,
    Column("seq", SeqKey, primary_key=True, autoincrement=True),
    Column("run_key", BigInteger, nullable=False),
    Column("stream", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("time", Double, nullable=False),
    Index("rw_logs_run_seq", "run_key", "seq"),
)

files = Table(
    "rw_files",
    metadata,
    Column("seq", SeqKey, primary_key=True, autoincrement=True),
    Column("run_key", BigInteger, nullable=False),
    Column("path", String(1024), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", String(255)),
    Column("step", Double),
    Column("size", BigInteger, nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("time", Double, nullable=False),
    UniqueConstraint("run_key", "path", name="rw_files_run_path"),
    Index("rw_files_run_seq", "run_key", "seq"),
)


# Attached compute targets, by name: shared by everyone who uses the store.
compute_targets = Table(
    "rw_compute_targets",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("config", Text, nullable=False),  # JSON, what the kind needs to reach it
    Column("created", Double, nullable=False),
)


# A run's alerts: raised by the user (run.alert) or by runwidget (failed, not responding,
# a metric gone NaN). ``once_key``: a run has at most one alert of each key (an automatic
# alert is raised once however many processes notice it); NULL for user alerts.
alerts = Table(
    "rw_alerts",
    metadata,
    Column("seq", SeqKey, primary_key=True, autoincrement=True),
    Column("run_key", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("level", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("time", Double, nullable=False),
    Column("once_key", String(255)),
    Index("rw_alerts_run_seq", "run_key", "seq"),
    UniqueConstraint("run_key", "once_key", name="rw_alerts_once"),
)

# Registered models: a name, versions counting up from 1, files kept as the run's files.
models = Table(
    "rw_models",
    metadata,
    Column("key", SeqKey, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_key", BigInteger),
    Column("path", String(1024), nullable=False),
    Column("tags", Text, nullable=False),
    Column("properties", Text, nullable=False),
    Column("description", Text),
    Column("created", Double, nullable=False),
    UniqueConstraint("name", "version", name="rw_models_name_version"),
)


# MIGRATIONS[n] upgrades a store of schema version n to n + 1, inside one transaction.
def _add_metric_blocks(conn: Connection) -> None:
    # Runs logged before have no blocks; their readers read every point, as before.
    metric_blocks.create(conn)


def _add_compute_targets(conn: Connection) -> None:
    compute_targets.create(conn, checkfirst=True)


def _add_columns(conn: Connection, table: str, columns: tuple[str, ...]) -> None:
    """Columns (``"name TYPE ..."``) the table lacks; those it has are left as they are (a
    store given back an older version number may have some)."""
    have = {c["name"] for c in inspect(conn).get_columns(table)}
    for column in columns:
        if column.split()[0] not in have:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column}")


def _add_lists_and_summaries(conn: Connection) -> None:
    _add_columns(
        conn, "rw_runs",
        ("search TEXT NOT NULL DEFAULT ''", "data_version BIGINT NOT NULL DEFAULT 0"),
    )  # fmt: skip
    for table in (run_tags, metric_summaries, alerts, models):
        table.create(conn, checkfirst=True)
    for index in runs.indexes:
        if index.name not in ("rw_runs_seq", "rw_runs_experiment_seq", "rw_runs_parent_seq"):
            index.create(conn, checkfirst=True)
    # Search text and tag rows of the runs there are, then their metrics' summaries (made
    # afresh: a store given back an older version number may have some).
    conn.execute(run_tags.delete())
    conn.execute(metric_summaries.delete())
    rows = conn.execute(
        select(runs.c.key, runs.c.id, runs.c.display_name, runs.c.run_type, runs.c.tags,
               experiments.c.name).join(experiments, experiments.c.id == runs.c.experiment_id)
    ).all()  # fmt: skip
    for key, run_id, name, run_type, tags_json, experiment in rows:
        tags = json.loads(tags_json)
        conn.execute(
            update(runs)
            .where(runs.c.key == key)
            .values(search=search_text(name, run_id, experiment, run_type, tags))
        )
        if tags:
            conn.execute(run_tags.insert(), tag_rows(key, tags))
    conn.exec_driver_sql(
        "INSERT INTO rw_metric_summaries "
        "(run_key, name, count, last, low, high, first_seq, last_seq) "
        "SELECT g.run_key, g.name, g.n, l.value, g.low, g.high, g.bottom, g.top FROM ("
        "SELECT m.run_key, m.name, COUNT(*) AS n, MIN(m.value) AS low, MAX(m.value) AS high, "
        f"MIN(m.seq) AS bottom, MAX(m.seq) AS top FROM rw_metrics m WHERE {NUMERIC_POINT} "
        "GROUP BY m.run_key, m.name"
        ") g JOIN rw_metrics l ON l.seq = g.top"
    )


# What create_run keeps in rw_experiments and rw_target_runs, counted from the runs there are.
COUNT_EXPERIMENT_RUNS = (
    "UPDATE rw_experiments SET "
    "runs = (SELECT COUNT(*) FROM rw_runs r "
    "WHERE r.experiment_id = rw_experiments.id AND r.parent_id IS NULL), "
    "last_created = (SELECT MAX(r.created) FROM rw_runs r "
    "WHERE r.experiment_id = rw_experiments.id)"
)
COUNT_TARGET_RUNS = (
    "INSERT INTO rw_target_runs (target, runs) SELECT target, COUNT(*) FROM rw_runs GROUP BY target"
)


def _add_list_counts(conn: Connection) -> None:
    _add_columns(
        conn, "rw_experiments", ("runs BIGINT NOT NULL DEFAULT 0", "last_created DOUBLE PRECISION")
    )
    conn.exec_driver_sql(COUNT_EXPERIMENT_RUNS)
    target_runs.create(conn, checkfirst=True)
    conn.execute(target_runs.delete())
    conn.exec_driver_sql(COUNT_TARGET_RUNS)
    for index in runs.indexes:
        if index.name in ("rw_runs_status_experiment", "rw_runs_status_target",
                          "rw_runs_name_created"):  # fmt: skip
            index.create(conn, checkfirst=True)


def _add_run_summaries(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        run_summaries.create(conn, checkfirst=True)
        conn.exec_driver_sql(RUN_SUMMARIES_FROM.format(condition="true"))


MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _add_metric_blocks,
    2: _add_compute_targets,
    3: _add_lists_and_summaries,
    4: _add_list_counts,
    5: _add_run_summaries,
}
