"""The SQL schema shared by SQLite and PostgreSQL, and its version history.

Table names carry an ``rw_`` prefix so a PostgreSQL database can be shared with other
applications. Times are seconds since the epoch (float). File bytes live in the
database (``rw_files.data``) so that a PostgreSQL store read from another machine
holds everything a reader needs.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
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
)

# Bump when the schema changes, and add the step from the previous version to MIGRATIONS.
SCHEMA_VERSION = 3

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
    Index("rw_runs_seq", "seq"),
    Index("rw_runs_experiment_seq", "experiment_id", "seq"),
    Index("rw_runs_parent_seq", "parent_id", "seq"),
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


# MIGRATIONS[n] upgrades a store of schema version n to n + 1, inside one transaction.
def _add_metric_blocks(conn: Connection) -> None:
    # Runs logged before have no blocks; their readers read every point, as before.
    metric_blocks.create(conn)


def _add_compute_targets(conn: Connection) -> None:
    compute_targets.create(conn, checkfirst=True)


MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _add_metric_blocks,
    2: _add_compute_targets,
}
