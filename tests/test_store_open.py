"""Choosing and opening a store: URIs, bad files, schema versions."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine

from runwidget import status as st
from runwidget.errors import SchemaVersionError, StoreError, StoreUnavailableError
from runwidget.store import Batch, SqlStore, default_store_uri, open_store, resolve_store_uri
from runwidget.store import schema as schema_module


def test_uri_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("RUNWIDGET_STORE", f"sqlite:///{tmp_path}/env.db")
    assert resolve_store_uri(f"sqlite:///{tmp_path}/arg.db").endswith("arg.db")
    assert resolve_store_uri().endswith("env.db")
    monkeypatch.delenv("RUNWIDGET_STORE")
    assert resolve_store_uri() == default_store_uri()
    assert default_store_uri() == f"sqlite:///{tmp_path}/.runwidget/runs.db"


def test_default_store_is_created_on_first_use(monkeypatch, tmp_path):
    monkeypatch.delenv("RUNWIDGET_STORE")
    store = open_store()
    assert (tmp_path / ".runwidget" / "runs.db").is_file()
    assert open_store() is store


@pytest.mark.parametrize("uri", ["mysql://x/y", "runs.db", "http://host/db"])
def test_unknown_scheme_lists_valid_ones(uri):
    with pytest.raises(
        StoreError, match=r"accepted schemes: postgres://, postgresql://, sqlite://"
    ):
        open_store(uri)


def test_uri_must_be_a_string():
    with pytest.raises(StoreError, match="must be a string, got int"):
        open_store(42)


def test_not_a_database_file(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    with pytest.raises(StoreError, match="is not a runwidget store"):
        SqlStore(f"sqlite:///{path}")
    assert path.read_text().startswith("these are my notes")  # left untouched


def test_corrupt_database_file(tmp_path):
    path = tmp_path / "runs.db"
    SqlStore(f"sqlite:///{path}").close()
    data = bytearray(path.read_bytes())
    data[:100] = b"\x13" * 100  # destroy the header
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError):
        SqlStore(f"sqlite:///{path}")


def test_directory_as_path(tmp_path):
    with pytest.raises(StoreError, match="is a directory"):
        SqlStore(f"sqlite:///{tmp_path}")


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "runs.db"
    SqlStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE rw_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(
        SchemaVersionError,
        match=f"schema version 99.*reads versions up to {schema_module.SCHEMA_VERSION}",
    ):
        SqlStore(f"sqlite:///{path}")


def test_older_schema_is_migrated(tmp_path, monkeypatch):
    path = tmp_path / "runs.db"
    SqlStore(f"sqlite:///{path}").close()

    def add_column(conn):
        conn.exec_driver_sql("ALTER TABLE rw_runs ADD COLUMN note TEXT")

    current = schema_module.SCHEMA_VERSION
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", current + 1)
    monkeypatch.setitem(schema_module.MIGRATIONS, current, add_column)
    SqlStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        version = conn.execute("SELECT value FROM rw_meta WHERE key='schema_version'").fetchone()
        columns = [row[1] for row in conn.execute("PRAGMA table_info(rw_runs)")]
    assert version == (str(current + 1),)
    assert "note" in columns


def test_version_1_store_gets_metric_blocks(tmp_path):
    # A store written before block summaries existed: its runs read point by point.
    path = tmp_path / "runs.db"
    store = SqlStore(f"sqlite:///{path}")
    run = store.create_run("old")
    store.write(
        {run.id: Batch(metrics=[("loss", "scalar", None, float(i), 0.0) for i in range(300)])}
    )
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE rw_metric_blocks")
        conn.execute("UPDATE rw_meta SET value = '1' WHERE key = 'schema_version'")
    store = SqlStore(f"sqlite:///{path}")
    try:
        columns, _ = store.read_metric_columns(run.id, blocks_from=1)
        assert columns[0].blocks is None and columns[0].value.tolist() == [
            float(i) for i in range(300)
        ]
        store.write({run.id: Batch(metrics=[("acc", "scalar", None, 0.5, 0.0)] * 64)})
        columns, _ = store.read_metric_columns(run.id, blocks_from=1)
        assert [len(c.blocks or ()) for c in columns] == [0, 1]
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        version = conn.execute("SELECT value FROM rw_meta WHERE key='schema_version'").fetchone()
    assert version == (str(schema_module.SCHEMA_VERSION),)


def test_version_2_store_gets_compute_targets(tmp_path):
    path = tmp_path / "runs.db"
    SqlStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE rw_compute_targets")
        conn.execute("UPDATE rw_meta SET value = '2' WHERE key = 'schema_version'")
    store = SqlStore(f"sqlite:///{path}")
    try:
        store.put_target("ray", "ray", {"address": "http://head:8265"})
        assert [(t.name, t.config) for t in store.list_targets()] == [
            ("ray", {"address": "http://head:8265"})
        ]
    finally:
        store.close()


def test_version_4_store_gets_experiment_and_target_counts(tmp_path):
    path = tmp_path / "runs.db"
    store = SqlStore(f"sqlite:///{path}")
    parent = store.create_run("old")
    store.create_run("old", parent_id=parent.id)
    last = store.create_run("old")
    store.get_or_create_experiment("empty")
    store.close()
    with sqlite3.connect(path) as conn:
        for column in ("runs", "last_created"):
            conn.execute(f"ALTER TABLE rw_experiments DROP COLUMN {column}")
        conn.execute("DROP TABLE rw_target_runs")
        conn.execute("DROP INDEX rw_runs_status_target")
        conn.execute("UPDATE rw_meta SET value = '4' WHERE key = 'schema_version'")
    store = SqlStore(f"sqlite:///{path}")
    try:
        made = {e.name: e.created for e in store.list_experiments()}
        assert store.experiment_summaries() == {
            "old": {"created": made["old"], "runs": 2, "active": 3, "last_created": last.created},
            "empty": {"created": made["empty"], "runs": 0, "active": 0, "last_created": None},
        }
        assert store.target_summaries() == {"local": {"runs": 3, "active": {st.NOT_STARTED: 3}}}
        store.create_run("old")
        assert store.experiment_summaries()["old"]["runs"] == 3
        assert store.target_summaries()["local"]["runs"] == 4
    finally:
        store.close()


def test_version_5_postgresql_store_gets_run_summaries(postgres_uri):
    store = SqlStore(postgres_uri)
    run = store.create_run("old")
    store.write({run.id: Batch(metrics=[("loss", "scalar", None, v, 0.0) for v in (3.0, 1.0)])})
    store.close()
    engine = create_engine(postgres_uri)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE rw_run_summaries")
        conn.exec_driver_sql("UPDATE rw_meta SET value = '5' WHERE key = 'schema_version'")
    engine.dispose()
    store = SqlStore(postgres_uri)
    try:
        page = store.find_runs(summaries=["loss"])
        assert page.summaries == {
            run.id: {"loss": {"last": 1.0, "min": 1.0, "max": 3.0, "count": 2}}
        }
        store.write({run.id: Batch(metrics=[("loss", "scalar", None, 5.0, 0.0)])})
        assert store.find_runs(summaries=["loss"]).summaries[run.id]["loss"]["max"] == 5.0
    finally:
        store.close()


def test_unmigratable_schema(tmp_path, monkeypatch):
    path = tmp_path / "runs.db"
    SqlStore(f"sqlite:///{path}").close()
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", schema_module.SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="cannot migrate"):
        SqlStore(f"sqlite:///{path}")


def test_foreign_sqlite_database_is_left_alone(tmp_path):
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE rw_runs (x INTEGER)")
    with pytest.raises(StoreError, match="not a complete runwidget store"):
        SqlStore(f"sqlite:///{path}")


def test_postgres_down_is_unavailable():
    # Port 9 on loopback: nothing listens there.
    with pytest.raises(StoreUnavailableError, match="unreachable"):
        SqlStore("postgresql://nobody:secret@127.0.0.1:9/none")


def test_password_is_not_shown():
    with pytest.raises(StoreUnavailableError) as info:
        SqlStore("postgresql://nobody:secret@127.0.0.1:9/none")
    assert "secret" not in str(info.value)
