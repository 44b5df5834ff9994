"""The store contract, run against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import math
import time

import pytest

from runwidget.errors import (
    ExperimentNotFoundError,
    InvalidValueError,
    RunNotFoundError,
)
from runwidget.store import Batch, MetricKind, NewFile, SqlStore


@pytest.fixture
def store(store_uri):
    s = SqlStore(store_uri)
    yield s
    s.close()


def _points(n, name="loss", start=0):
    return [(name, MetricKind.SCALAR, None, float(start + i), 1.0 + i) for i in range(n)]


class TestStore:
    def test_experiments_are_created_once(self, store):
        a = store.get_or_create_experiment("exp")
        b = store.get_or_create_experiment("exp")
        assert a == b
        assert [e.name for e in store.list_experiments()] == ["exp"]

    def test_create_and_get_run(self, store):
        run = store.create_run(
            "exp",
            display_name="<b>bold</b>",
            run_type="script",
            status="Queued",
            properties={"p": 1},
            tags={"t": "x"},
            arguments=["--alpha", 0.1],
        )
        got = store.get_run(run.id)
        assert got == run
        assert got.display_name == "<b>bold</b>"
        assert got.arguments == ["--alpha", 0.1]
        assert got.number == 1
        assert store.create_run("exp").number == 2

    def test_unknown_run(self, store):
        with pytest.raises(RunNotFoundError, match="'nope' not found"):
            store.get_run("nope")
        with pytest.raises(RunNotFoundError, match="'nope'"):
            store.read_metrics("nope")
        with pytest.raises(RunNotFoundError, match="parent run 'nope' not found"):
            store.create_run("exp", parent_id="nope")

    def test_duplicate_run_id(self, store):
        store.create_run("exp", run_id="r1")
        with pytest.raises(InvalidValueError, match="'r1' already exists"):
            store.create_run("exp", run_id="r1")

    def test_unknown_experiment_listing(self, store):
        with pytest.raises(ExperimentNotFoundError, match="'ghost'"):
            store.list_runs(experiment="ghost")

    def test_metric_values_round_trip(self, store):
        run = store.create_run("exp")
        rows = [
            ("a", MetricKind.SCALAR, None, 1.5, 1.0),
            ("nan", MetricKind.SCALAR, None, math.nan, 1.0),
            ("inf", MetricKind.SCALAR, 3.0, math.inf, 1.0),
            ("ninf", MetricKind.SCALAR, None, -math.inf, 1.0),
            ("huge", MetricKind.SCALAR, None, 1.7e308, 1.0),
            ("s", MetricKind.SCALAR, None, "<script>x</script>", 1.0),
            ("row", MetricKind.ROW, None, {"x": 1.0, "y": math.nan, "z": "t"}, 1.0),
        ]
        store.write({run.id: Batch(metrics=rows)})
        got = {p.name: p for p in store.read_metrics(run.id)}
        assert got["a"].value == 1.5
        assert math.isnan(got["nan"].value)
        assert got["inf"].value == math.inf and got["inf"].step == 3.0
        assert got["ninf"].value == -math.inf
        assert got["huge"].value == 1.7e308
        assert got["s"].value == "<script>x</script>"
        assert got["row"].value["x"] == 1.0 and math.isnan(got["row"].value["y"])
        assert got["row"].kind == MetricKind.ROW

    def test_cursors_return_only_new_items_in_order(self, store):
        run = store.create_run("exp")
        other = store.create_run("exp")
        store.write({run.id: Batch(metrics=_points(5)), other.id: Batch(metrics=_points(3))})
        first = store.read_metrics(run.id)
        assert [p.value for p in first] == [0.0, 1.0, 2.0, 3.0, 4.0]
        cursor = first[-1].seq
        assert store.read_metrics(run.id, since=cursor) == []
        store.write({run.id: Batch(metrics=_points(2, start=5))})
        new = store.read_metrics(run.id, since=cursor)
        assert [p.value for p in new] == [5.0, 6.0]
        assert [p.value for p in store.read_metrics(run.id, since=cursor, limit=1)] == [5.0]
        assert [p.value for p in store.read_metrics(other.id)] == [0.0, 1.0, 2.0]

    def test_read_metrics_by_name(self, store):
        run = store.create_run("exp")
        store.write({run.id: Batch(metrics=_points(3, "a") + _points(2, "b"))})
        assert [p.name for p in store.read_metrics(run.id, name="b")] == ["b", "b"]

    def test_logs(self, store):
        run = store.create_run("exp")
        lines = [("stdout", f"line {i} <i>", float(i)) for i in range(10)]
        store.write({run.id: Batch(logs=lines[:6])})
        store.write({run.id: Batch(logs=lines[6:])})
        got = store.read_logs(run.id)
        assert [line.text for line in got] == [f"line {i} <i>" for i in range(10)]
        assert store.read_logs(run.id, since=got[4].seq, limit=2)[0].text == "line 5 <i>"

    def test_files(self, store):
        run = store.create_run("exp")
        data = bytes(range(256)) * 10
        store.write(
            {
                run.id: Batch(
                    files=[
                        NewFile("outputs/a.bin", data),
                        NewFile("images/i.png", b"png", kind="image", name="i", step=0.0),
                    ]
                )
            }
        )
        assert store.read_file(run.id, "outputs/a.bin") == data
        images = store.list_files(run.id, kind="image")
        assert [(f.path, f.name, f.size) for f in images] == [("images/i.png", "i", 3)]
        assert len(store.list_files(run.id, since=images[0].seq)) == 0
        with pytest.raises(FileNotFoundError, match="no file 'missing'"):
            store.read_file(run.id, "missing")
        with pytest.raises(InvalidValueError, match="already taken"):
            store.write({run.id: Batch(files=[NewFile("outputs/a.bin", b"")])})

    def test_write_is_atomic(self, store):
        run = store.create_run("exp")
        batches = {run.id: Batch(metrics=_points(3)), "missing": Batch(metrics=_points(3))}
        with pytest.raises(RunNotFoundError):
            store.write(batches)
        assert store.read_metrics(run.id) == []

    def test_update_merges_and_moves_cursor(self, store):
        run = store.create_run("exp", tags={"a": "1"})
        assert store.update_run(run.id, status="Running", tags={"b": "2"}, properties={"p": 1})
        got = store.get_run(run.id)
        assert got.status == "Running"
        assert got.tags == {"a": "1", "b": "2"}
        assert got.properties == {"p": 1}
        assert got.seq > run.seq
        assert [r.id for r in store.list_runs(since=run.seq)] == [run.id]

    def test_compare_and_set(self, store):
        run = store.create_run("exp", status="Running")
        assert store.update_run(run.id, status="Canceled", only_if_status=["Running"])
        assert not store.update_run(run.id, status="Completed", only_if_status=["Running"])
        assert store.get_run(run.id).status == "Canceled"

    def test_error_recorded(self, store):
        run = store.create_run("exp")
        store.update_run(run.id, status="Failed", error={"message": "boom", "traceback": "tb"})
        assert store.get_run(run.id).error == {"message": "boom", "traceback": "tb"}

    def test_children_and_filters(self, store):
        parent = store.create_run("exp", run_type="automl")
        kids = [store.create_run("exp", parent_id=parent.id) for _ in range(3)]
        grandkid = store.create_run("exp", parent_id=kids[0].id)
        store.create_run("other")
        assert [r.id for r in store.get_children(parent.id)] == [k.id for k in kids]
        assert len(store.get_children(parent.id, recursive=True)) == 4
        assert {r.id for r in store.list_runs(parent_id=kids[0].id)} == {grandkid.id}
        top = store.list_runs(experiment="exp", parent_id=None)
        assert [r.id for r in top] == [parent.id]
        store.update_run(kids[1].id, status="Completed")
        done = store.list_runs(parent_id=parent.id, status=["Completed"])
        assert [r.id for r in done] == [kids[1].id]
        changed = store.list_runs(parent_id=parent.id, since=grandkid.seq)
        assert [r.id for r in changed] == [kids[1].id]

    def test_heartbeat_and_not_responding(self, store):
        run = store.create_run("exp", status="Running", started=time.time())
        assert store.get_run(run.id).current_status() == "Running"
        store.beat([run.id], time.time() - 3600)
        assert store.get_run(run.id).current_status() == "NotResponding"
        assert store.get_run(run.id).seq == run.seq  # heartbeats do not move the cursor

    def test_reopen_keeps_data(self, store_uri, store):
        run = store.create_run("exp")
        store.write({run.id: Batch(metrics=_points(3))})
        again = SqlStore(store_uri)
        try:
            assert len(again.read_metrics(run.id)) == 3
        finally:
            again.close()


def test_update_run_removes_tags_then_merges(store_uri):
    store = SqlStore(store_uri)
    try:
        run = store.create_run("tags", tags={"a": 1, "b": 2, "c": 3})
        assert store.update_run(run.id, remove_tags=["a", "missing"], tags={"c": 4})
        assert store.get_run(run.id).tags == {"b": 2, "c": 4}
        assert store.get_run(run.id).seq > run.seq  # readers see the change
    finally:
        store.close()


def test_postgresql_reads_take_one_round_trip_and_idle_connections_are_pinged(
    postgres_uri, postgres_server, monkeypatch
):
    import psycopg

    from runwidget.errors import StoreUnavailableError
    from runwidget.store import sql

    store = SqlStore(postgres_uri)
    try:
        run = store.create_run("exp")
        sent = []
        execute = psycopg.Cursor.execute

        def counted(cursor, query, *args, **kwargs):
            sent.append(query)
            return execute(cursor, query, *args, **kwargs)

        with monkeypatch.context() as patched:  # every statement this process sends
            patched.setattr(psycopg.Cursor, "execute", counted)
            store.get_run(run.id)  # through SQLAlchemy's result
            store.change_cursor()  # on the driver's cursor
        # One statement each: no ping (the connection was used moments ago), no BEGIN.
        assert len(sent) == 2, sent
        with store._reading() as conn:  # and no transaction around a read
            driver = conn.connection.driver_connection
            assert driver.autocommit
            assert driver.cursor().format == psycopg.pq.Format.BINARY  # results not as text

        def end_connections():
            with postgres_server.connect(autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (postgres_uri.rsplit("/", 1)[1],),
                )

        # A connection idle for long is pinged first, and replaced when the server ended it.
        monkeypatch.setattr(sql, "PING_IDLE_SECONDS", 0.0)
        end_connections()
        assert store.get_run(run.id).id == run.id
        # One used moments ago is not: the statement fails once, and the pool is made again.
        monkeypatch.setattr(sql, "PING_IDLE_SECONDS", 3600.0)
        end_connections()
        with pytest.raises(StoreUnavailableError):
            store.get_run(run.id)
        assert store.get_run(run.id).id == run.id
        end_connections()  # the same for a list read on the driver's own cursor
        with pytest.raises(StoreUnavailableError, match="unreachable"):
            store.find_runs()
        assert [r.id for r in store.find_runs().records] == [run.id]
        store.update_run(run.id, status="Completed")  # writes still work
    finally:
        store.close()
