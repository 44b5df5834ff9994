"""The store's alerts contract, on SQLite and a real PostgreSQL server."""

from __future__ import annotations

import threading

import pytest

from runwidget.errors import InvalidValueError, RunNotFoundError
from runwidget.store import SqlStore


@pytest.fixture
def store(store_uri):
    s = SqlStore(store_uri)
    yield s
    s.close()


def _alert(store, run_id, title="t", **kw):
    kw.setdefault("kind", "user")
    kw.setdefault("level", "warn")
    kw.setdefault("time", 100.0)
    return store.add_alert(run_id, title=title, **kw)


def test_alerts_round_trip_in_order_with_cursors(store):
    a = store.create_run("exp").id
    b = store.create_run("exp").id
    first = _alert(store, a, "one", text="the text", level="info")
    _alert(store, b, "two", kind="failed", level="error")
    third = _alert(store, a, "three")
    got = store.read_alerts(a)
    assert [x.title for x in got] == ["one", "three"]
    assert got[0].as_dict() == {
        "title": "one", "text": "the text", "level": "info", "kind": "user", "time": 100.0,
    }  # fmt: skip
    assert got[0].run_id == a and got[0].seq == first.seq
    assert [x.title for x in store.read_alerts(a, since=first.seq)] == ["three"]
    everything = store.list_alerts()
    assert [x.title for x in everything] == ["one", "two", "three"]
    assert [x.seq for x in everything] == sorted(x.seq for x in everything)
    assert [x.title for x in store.list_alerts(since=first.seq, limit=1)] == ["two"]
    assert store.list_alerts(since=third.seq) == []
    assert [x.title for x in store.list_alerts(run_ids=[b, "nope"])] == ["two"]


def test_an_alert_moves_the_runs_change_cursor(store):
    run = store.create_run("exp")
    other = store.create_run("exp")
    _alert(store, run.id, "moved")
    changed = store.list_runs(since=other.seq)
    assert [r.id for r in changed] == [run.id]
    assert _alert(store, run.id, "again", once_key="k") is not None
    top = store.get_run(run.id).seq
    assert _alert(store, run.id, "again", once_key="k") is None
    assert store.get_run(run.id).seq == top  # nothing recorded, nothing moved


def test_once_key_records_an_alert_once_per_run(store):
    a = store.create_run("exp").id
    b = store.create_run("exp").id
    assert _alert(store, a, "nan", kind="nan", once_key="nan:loss") is not None
    assert _alert(store, a, "nan again", kind="nan", once_key="nan:loss") is None
    assert _alert(store, a, "other", kind="nan", once_key="nan:acc") is not None
    assert _alert(store, b, "nan", kind="nan", once_key="nan:loss") is not None
    assert [x.title for x in store.read_alerts(a)] == ["nan", "other"]


def test_once_key_holds_against_concurrent_writers(store_uri):
    stores = [SqlStore(store_uri) for _ in range(4)]
    run_id = stores[0].create_run("exp").id
    results: list = []

    def raise_it(s):
        results.append(_alert(s, run_id, "failed", kind="failed", once_key="failed"))

    threads = [threading.Thread(target=raise_it, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1
    assert len(stores[0].read_alerts(run_id)) == 1
    for s in stores:
        s.close()


def test_bad_kind_or_level_and_unknown_run(store):
    run_id = store.create_run("exp").id
    with pytest.raises(InvalidValueError, match=r"alert level 'loud' is not one of \['info'"):
        _alert(store, run_id, level="loud")
    with pytest.raises(InvalidValueError, match=r"alert kind 'x' is not one of \['user'"):
        _alert(store, run_id, kind="x")
    with pytest.raises(RunNotFoundError, match="nope"):
        _alert(store, "nope")
    with pytest.raises(RunNotFoundError, match="nope"):
        store.read_alerts("nope")
    assert store.list_alerts() == []


def test_alert_marks_count_and_worst_level(store):
    a = store.create_run("exp").id
    b = store.create_run("exp").id
    c = store.create_run("exp").id
    _alert(store, a, "first", level="error")
    _alert(store, a, "latest", level="info")
    _alert(store, b, "only", level="warn")
    marks = store.alert_marks([a, b, c])
    assert marks == {
        a: {"count": 2, "level": "error", "title": "latest"},
        b: {"count": 1, "level": "warn", "title": "only"},
    }
    # The helper every store gets from the contract agrees with the SQL one.
    from runwidget.store.base import RunStore

    assert RunStore.alert_marks(store, [a, b, c]) == marks
