"""Run lists in the store: filters, search, keyset pages, counts, metric summaries and the
change probes, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import time

import pytest
from sqlalchemy import select
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from runwidget import status as st
from runwidget.errors import InvalidValueError
from runwidget.store import Batch, RunFilter, RunTotal, SqlStore, schema, sql_lists


@pytest.fixture
def store(store_uri):
    s = SqlStore(store_uri)
    yield s
    s.close()


def _walk(store, where=RunFilter(), limit=7, during=None):  # noqa: B008
    seen, after = [], None
    while True:
        page = store.find_runs(where, after=after, limit=limit)
        seen += [r.id for r in page.records]
        if during is not None:
            during()
        if page.after is None:
            return seen
        after = page.after


def _walk_order(store, order, descending):
    seen, after = [], None
    while True:
        page = store.find_runs(order=order, descending=descending, after=after, limit=3)
        seen += [r.id for r in page.records]
        if page.after is None:
            return seen
        after = page.after


def test_keyset_walk_skips_and_repeats_nothing_while_runs_are_created(store):
    first = [store.create_run("walk").id for _ in range(30)]
    created = []
    seen = _walk(store, during=lambda: created.append(store.create_run("walk").id))
    # Newest first: every run there was when the walk began, once each, in order.
    assert sorted(r for r in seen if r in first) == sorted(first)
    assert len(seen) == len(set(seen))
    assert [r for r in seen if r in first] == list(reversed(first))
    assert not set(seen) & set(created)


def test_offset_pages_and_count(store):
    ids = [store.create_run("count").id for _ in range(12)]
    page = store.find_runs(offset=5, limit=3)
    assert [r.id for r in page.records] == list(reversed(ids))[5:8]
    assert store.count_runs() == 12
    assert store.count_runs(RunFilter(experiment="count")) == 12
    assert store.count_runs(RunFilter(experiment="no such")) == 0
    # An offset page is the keyset page at that place, and continues as it does.
    keyset = store.find_runs(after=store.find_runs(limit=5).after, limit=3)
    assert [r.id for r in keyset.records] == [r.id for r in page.records]
    assert page.after == keyset.after
    assert [r.id for r in store.find_runs(after=page.after, limit=100).records] == list(
        reversed(ids)
    )[8:]
    assert store.find_runs(offset=12).records == [] and store.find_runs(offset=12).after is None
    for other in ("count", "none"):
        store.create_run(other, display_name="same")  # ties on the name: the key breaks them
    by_name = _walk_order(store, "name", descending=True)
    assert len(by_name) == len(set(by_name)) == 14
    assert [r.id for r in store.find_runs(order="name", limit=100).records] == by_name
    assert _walk_order(store, "name", descending=False) == list(reversed(by_name))
    assert [r.id for r in store.find_runs(order="name", offset=3, limit=4).records] == by_name[3:7]


def test_totals_exact_while_small_and_estimated_above(store, monkeypatch):
    for i in range(12):
        store.create_run("big" if i < 9 else "small")
    assert store.total_runs() == RunTotal(12, estimated=False)
    monkeypatch.setattr(sql_lists, "EXACT_TOTAL", 5)
    small = store.total_runs(RunFilter(experiment="small"))
    assert small == RunTotal(3, estimated=False)
    assert store.total_runs(RunFilter(experiment="none")) == RunTotal(0, estimated=False)
    total = store.total_runs(RunFilter(experiment="big"))
    if store_is_sqlite(store):
        assert total == RunTotal(9, estimated=False)  # no statistics: counted
    else:
        assert total.estimated and total.count >= 6  # the planner's, at least what was seen
    assert store.count_runs(RunFilter(experiment="big")) == 9  # always exact
    every = store.total_runs(RunFilter(statuses=frozenset(st.ALL), search="big"))
    assert every.count == 9 if store_is_sqlite(store) else every.estimated


def store_is_sqlite(store):
    return store.uri.startswith("sqlite")


def test_filters(store):
    parent = store.create_run("a", tags={"team": "vision"}, target="gpu")
    kids = [store.create_run("a", parent_id=parent.id) for _ in range(3)]
    other = store.create_run("b", tags={"team": "nlp", "flag": None})
    done = store.create_run("b", status=st.RUNNING, started=time.time())
    store.update_run(done.id, status=st.COMPLETED, ended=time.time())
    stale = store.create_run("b", status=st.RUNNING, started=time.time() - 600)
    alive = store.create_run("b", status=st.RUNNING, started=time.time())

    def ids(**kw):
        return {r.id for r in store.find_runs(RunFilter(**kw), limit=100).records}

    assert ids(experiment="a") == {parent.id, *(k.id for k in kids)}
    assert ids(parent="") == {parent.id, other.id, done.id, stale.id, alive.id}
    assert ids(parent=parent.id) == {k.id for k in kids}
    assert ids(target="gpu") == {parent.id}
    assert ids(tags=(("team", None),)) == {parent.id, other.id}
    assert ids(tags=(("team", "nlp"),)) == {other.id}
    assert ids(tags=(("flag", None),)) == {other.id}
    assert ids(statuses=frozenset({st.COMPLETED})) == {done.id}
    # The heartbeat decides NotResponding, as the run's shown status does.
    assert ids(statuses=frozenset({st.NOT_RESPONDING})) == {stale.id}
    assert ids(statuses=frozenset({st.RUNNING})) == {alive.id}
    assert store.get_run(stale.id).current_status() == st.NOT_RESPONDING
    cut = store.get_run(other.id).created
    assert ids(created_after=cut) == {other.id, done.id, stale.id, alive.id}
    assert ids(created_before=cut) == {parent.id, *(k.id for k in kids)}


def test_search_is_case_insensitive_and_literal(store):
    named = store.create_run("search", display_name="ResNet-50 <b>bold</b>")
    tagged = store.create_run("search", tags={"Owner": "Zoë"})
    percent = store.create_run("search", display_name="100% done_now")
    store.create_run("search", display_name="100x doneXnow")

    def ids(text):
        return {r.id for r in store.find_runs(RunFilter(search=text)).records}

    assert ids("resnet") == {named.id}
    assert ids("<B>BOLD") == {named.id}
    assert ids("zoë") == {tagged.id}
    assert ids("owner") == {tagged.id}
    assert ids("100%") == {percent.id}
    assert ids("e_n") == {percent.id}
    # A renamed run and new tags are found by their new text.
    store.update_run(tagged.id, display_name="Renamed", tags={"k": "Fresh"}, remove_tags=["Owner"])
    assert ids("fresh") == {tagged.id} and ids("renamed") == {tagged.id} and ids("zoë") == set()


def test_order_and_bad_requests(store):
    for name in ("b", "a", "c"):
        store.create_run("order", display_name=name)
    names = [r.display_name for r in store.find_runs(order="name", descending=False).records]
    assert names == ["a", "b", "c"]
    # Among equals (a name, a status, a target) newest first, or oldest first ascending;
    # walked by token as read in one page.
    older = store.create_run("order", display_name="a", target="ray", status=st.QUEUED)
    newer = store.create_run("order", display_name="a", target="ray", status=st.QUEUED)
    for order in ("name", "status", "target"):
        walk = _walk_order(store, order, descending=True)
        assert walk == [r.id for r in store.find_runs(order=order).records], order
        assert walk.index(newer.id) + 1 == walk.index(older.id), order
        assert _walk_order(store, order, descending=False) == list(reversed(walk)), order
    name_token = store.find_runs(order="name", limit=1).after
    with pytest.raises(InvalidValueError, match="page token"):
        store.find_runs(after=name_token)  # a token of another order
    with pytest.raises(InvalidValueError, match="ordered by"):
        store.find_runs(order="properties")
    with pytest.raises(InvalidValueError, match="page token"):
        store.find_runs(after="not-a-token")
    with pytest.raises(InvalidValueError, match="limit"):
        store.find_runs(limit=0)


def _full_read(store, run_id):
    """The summaries as computed from every point read back."""
    found = {}
    for p in store.read_metrics(run_id):
        if p.kind not in ("scalar", "list") or isinstance(p.value, (str, dict)):
            continue
        v = float(p.value)
        s = found.setdefault(p.name, {"last": v, "min": math.nan, "max": math.nan, "count": 0})
        s["last"], s["count"] = v, s["count"] + 1
        if not math.isnan(v):
            s["min"] = v if math.isnan(s["min"]) else min(s["min"], v)
            s["max"] = v if math.isnan(s["max"]) else max(s["max"], v)
    return found


def test_summaries_equal_a_full_read(store):
    run = store.create_run("sum")
    values = [3.0, math.nan, -1.5, math.inf, 7, 2.0]
    for i, v in enumerate(values):  # one batch per point: merged in the database
        store.write({run.id: Batch(metrics=[("loss", "scalar", float(i), v, 0.0)])})
    store.write(
        {
            run.id: Batch(
                metrics=[
                    ("nan_only", "scalar", None, math.nan, 0.0),
                    ("acc", "list", None, 0.5, 0.0),
                    ("acc", "list", None, 0.25, 0.0),
                    ("name", "scalar", None, "text", 0.0),
                    ("row", "row", None, {"a": 1}, 0.0),
                    ("last_nan", "scalar", None, 1.0, 0.0),
                    ("last_nan", "scalar", None, -math.inf, 0.0),
                    ("last_nan", "scalar", None, math.nan, 0.0),
                ]
            )
        }
    )
    kept = store.metric_summaries([run.id])[run.id]
    full = _full_read(store, run.id)

    def same(a, b):
        return a == b or (math.isnan(a) and math.isnan(b))

    assert list(kept) == list(full) == ["loss", "nan_only", "acc", "last_nan"]
    for name in full:
        for field in ("last", "min", "max", "count"):
            assert same(kept[name][field], full[name][field]), (name, field)
    assert kept["loss"] == {"last": 2.0, "min": -1.5, "max": math.inf, "count": 6}
    assert kept["last_nan"]["min"] == -math.inf and math.isnan(kept["last_nan"]["last"])
    # Some metrics only, still in logging order; a name no run logged is left out.
    other = store.create_run("sum").id
    some = store.metric_summaries([run.id, other], names=["last_nan", "loss", "no such"])
    assert list(some[run.id]) == ["loss", "last_nan"] and some[other] == {}
    assert some[run.id]["loss"] == kept["loss"]
    assert store.metric_summaries([run.id], names=[]) == {run.id: {}}
    # A page asked for summaries carries the same, read with it (PostgreSQL: one statement).
    wanted = ["last_nan", "loss", "no such", "nan_only"]
    page = store.find_runs(RunFilter(experiment="sum"), summaries=wanted)
    assert page.summaries == store.metric_summaries([other, run.id], wanted)
    assert list(page.summaries[run.id]) == ["loss", "nan_only", "last_nan"]
    assert math.isnan(page.summaries[run.id]["nan_only"]["min"])
    assert math.isnan(page.summaries[run.id]["last_nan"]["last"])
    assert store.find_runs(RunFilter(experiment="sum")).summaries == {}
    # More metrics than one statement picks are read the other way, with the same answer.
    many = [f"m{i}" for i in range(sql_lists.JOINED_SUMMARIES)] + ["loss"]
    assert store.find_runs(RunFilter(experiment="sum"), summaries=many).summaries == {
        other: {},
        run.id: {"loss": kept["loss"]},
    }
    with pytest.raises(InvalidValueError, match="metric names"):
        store.find_runs(summaries="loss")


def test_summaries_of_listed_runs_are_read_by_their_keys_and_equal_those_read_by_id(
    store, store_uri, monkeypatch
):
    runs = [store.create_run("keys").id for _ in range(5)]
    for i, run_id in enumerate(runs):
        points = [("loss", "scalar", None, float(i + j), 0.0) for j in range(3)]
        points.append(("acc", "scalar", None, math.nan if i == 2 else i / 10, 0.0))
        store.write({run_id: Batch(metrics=points)})
    monkeypatch.setattr(sql_lists, "KNOWN_KEYS", 3)
    reader = SqlStore(store_uri)  # another process's view: no key known yet
    try:
        wanted = [*runs, "no-such-run"]
        by_id = reader.metric_summaries(wanted, ["acc", "loss"])
        assert not reader._run_keys
        page = reader.find_runs(RunFilter(experiment="keys"), limit=2)  # the two newest
        assert set(reader._run_keys) == {r.id for r in page.records}
        listed = [r.id for r in page.records]
        by_key = reader.metric_summaries(listed, ["acc", "loss"])
        assert by_key == {run_id: by_id[run_id] for run_id in listed}
        assert by_key[runs[4]]["loss"] == {"last": 6.0, "min": 4.0, "max": 6.0, "count": 3}
        assert list(by_key[runs[4]]) == ["loss", "acc"]  # logging order, whatever asked
        # Past KNOWN_KEYS the store forgets them and starts anew: never more than that.
        reader.find_runs(RunFilter(experiment="keys"), offset=2, limit=2)
        reader.find_runs(RunFilter(experiment="keys"), offset=4, limit=2)
        assert len(reader._run_keys) <= 3 + 2
        everything = reader.metric_summaries(wanted)
        assert {k: {n: v for n, v in m.items() if n in ("acc", "loss")} for k, m in
                everything.items()} == by_id  # fmt: skip
        assert math.isnan(everything[runs[2]]["acc"]["last"]) and everything["no-such-run"] == {}
    finally:
        reader.close()


def test_a_page_of_records_decodes_its_json_at_once_and_a_bad_value_still_fails_alone():
    def row(key, properties, tags="{}", arguments="[]"):
        head = (f"r{key}", "exp", None, key, f"run {key}", "interactive", "Completed", 1.0)
        return (*head, None, None, None, properties, tags, None, None, "local", arguments, key, key)

    rows = [row(1, '{"a": [1, 2.5, "<b>x</b>"]}', '{"t": null}'), row(2, "{}", "{}", '["--lr"]')]
    records = sql_lists.run_records(rows)
    assert records == [sql_lists.run_record(r) for r in rows]
    assert records[0].properties == {"a": [1, 2.5, "<b>x</b>"]} and records[1].arguments == ["--lr"]
    # Two values in one column would shift every later run's fields in one decoding: the
    # page is decoded run by run instead, and the run at fault is the one that fails.
    with pytest.raises(ValueError):
        sql_lists.run_records([rows[0], row(3, '{"a": 1}, {"b": 2}'), rows[1]])
    assert sql_lists.run_records([]) == []


def test_summaries_of_two_processes_logging_one_metric(store, store_uri, tmp_path):
    run = store.create_run("two")
    script = tmp_path / "log.py"
    script.write_text(
        "import sys\n"
        "from runwidget.store import Batch, SqlStore\n"
        "s = SqlStore(sys.argv[1])\n"
        "for i in range(50):\n"
        "    point = ('m', 'scalar', None, float(sys.argv[3]) + i, 0.0)\n"
        "    s.write({sys.argv[2]: Batch(metrics=[point])})\n"
        "s.close()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, str(script), store_uri, run.id, start])
        for start in ("0", "1000")
    ]
    assert [p.wait(120) for p in procs] == [0, 0]
    kept = store.metric_summaries([run.id])[run.id]["m"]
    points = store.read_metrics(run.id)
    assert kept["count"] == 100
    assert kept["min"] == 0.0 and kept["max"] == 1049.0
    assert kept["last"] == points[-1].value


def test_page_summaries_of_two_processes_logging_one_run(store, store_uri, tmp_path):
    # Both log "m" and a metric of their own into one run, batch after batch: each batch
    # makes the run's row of summaries again (PostgreSQL), and none may lose another's.
    run = store.create_run("both")
    script = tmp_path / "log.py"
    script.write_text(
        "import sys\n"
        "from runwidget.store import Batch, SqlStore\n"
        "s = SqlStore(sys.argv[1])\n"
        "for i in range(40):\n"
        "    points = [('m', 'scalar', None, float(i), 0.0),\n"
        "              ('own' + sys.argv[3], 'scalar', None, float(i), 0.0)]\n"
        "    s.write({sys.argv[2]: Batch(metrics=points)})\n"
        "s.close()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, str(script), store_uri, run.id, who])
        for who in ("a", "b")
    ]
    assert [p.wait(120) for p in procs] == [0, 0]
    names = ["m", "owna", "ownb"]
    page = store.find_runs(RunFilter(experiment="both"), summaries=names)
    assert page.summaries == store.metric_summaries([run.id], names)
    found = page.summaries[run.id]
    assert sorted(found) == names
    assert [found[n]["count"] for n in names] == [80, 40, 40]
    assert found["owna"] == {"last": 39.0, "min": 0.0, "max": 39.0, "count": 40}


def test_change_probe(store, store_uri, tmp_path):
    parent = store.create_run("probe")
    child = store.create_run("probe", parent_id=parent.id)
    before = store.run_versions([parent.id, "no-such-run"])
    cursor = store.change_cursor()
    assert set(before) == {parent.id}
    assert store.run_versions([parent.id]) == before
    assert store.change_cursor() == cursor
    # Another process logs a child's metric: the parent's version shows it.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom runwidget.store import Batch, SqlStore\n"
            "s = SqlStore(sys.argv[1])\n"
            "s.write({sys.argv[2]: Batch(metrics=[('m', 'scalar', None, 1.0, 0.0)])})\n",
            store_uri,
            child.id,
        ],
        check=True,
        timeout=120,
    )
    after = store.run_versions([parent.id])[parent.id]
    assert after.children_data > before[parent.id].children_data
    assert after.data == before[parent.id].data
    store.write({parent.id: Batch(logs=[("stdout", "hi\n", 0.0)])})
    assert store.run_versions([parent.id])[parent.id].data > after.data
    assert store.change_cursor() == cursor  # data does not move the record cursor
    store.update_run(child.id, status=st.COMPLETED)
    assert store.change_cursor() > cursor
    assert store.run_versions([parent.id])[parent.id].children_seq > after.children_seq
    # A heartbeat moves neither.
    again = store.run_versions([parent.id])
    store.beat([parent.id, child.id], time.time())
    assert store.run_versions([parent.id]) == again


def test_counts_by_target_and_experiment(store):
    store.create_run("x", target="ray")
    stale = store.create_run("x", status=st.RUNNING, started=time.time() - 600, target="ray")
    ended = store.create_run("x", parent_id=stale.id, target="ray")
    store.update_run(ended.id, status=st.FAILED, ended=time.time())
    store.create_run("y")
    assert store.target_summaries() == {
        # A run gone silent counts as what it last said (the compute page: running).
        "ray": {"runs": 3, "active": {st.NOT_STARTED: 1, st.RUNNING: 1}},
        "local": {"runs": 1, "active": {st.NOT_STARTED: 1}},
    }
    empty = store.get_or_create_experiment("empty")
    summaries = store.experiment_summaries()
    assert summaries["x"]["runs"] == 2 and summaries["x"]["active"] == 2
    assert summaries["empty"] == {
        "created": empty.created, "runs": 0, "active": 0, "last_created": None,
    }  # fmt: skip


def test_experiment_summaries_equal_what_the_runs_say(store):
    parent = store.create_run("x", status=st.RUNNING, started=time.time())
    child = store.create_run("x", parent_id=parent.id, status=st.QUEUED)
    other = store.create_run("y")
    store.update_run(other.id, status=st.FAILED, ended=time.time())
    store.update_run(child.id, status=st.COMPLETED, ended=time.time())
    store.update_run(parent.id, status=st.RUNNING, tags={"more": 1})  # not a new run
    summaries = store.experiment_summaries()
    made = {e.name: e.created for e in store.list_experiments()}
    # Top-level runs only; active runs children included; the newest creation of all.
    assert summaries["x"] == {
        "created": made["x"], "runs": 1, "active": 1,
        "last_created": store.get_run(child.id).created,
    }  # fmt: skip
    assert summaries["y"] == {
        "created": made["y"], "runs": 1, "active": 0, "last_created": other.created,
    }  # fmt: skip
    store.create_run("x", status=st.RUNNING, started=time.time() - 3600)  # not responding
    assert store.experiment_summaries()["x"]["active"] == 2  # active all the same


def test_postgresql_search_uses_a_trigram_index(postgres_uri):
    store = SqlStore(postgres_uri)
    try:
        with store._engine.connect() as conn:
            names = {
                row[0]
                for row in conn.exec_driver_sql(
                    "SELECT indexname FROM pg_indexes WHERE tablename = 'rw_runs'"
                )
            }
        assert "rw_runs_search_trgm" in names
        for i in range(50):
            store.create_run("trgm", display_name=f"run {i}")
        assert [r.display_name for r in store.find_runs(RunFilter(search="run 42")).records] == [
            "run 42"
        ]
    finally:
        store.close()


def test_sqlite_search_reads_an_fts5_trigram_index_kept_by_the_writes(tmp_path, monkeypatch):
    path = tmp_path / "runs.db"
    store = SqlStore(f"sqlite:///{path}")
    try:
        runs = [store.create_run("fts", display_name=f"run {i}") for i in range(50)]

        def found(text):
            return [r.display_name for r in store.find_runs(RunFilter(search=text)).records]

        assert found("run 42") == ["run 42"]
        store.update_run(runs[7].id, display_name="Renamed seven")
        assert found("renamed sev") == ["Renamed seven"] and found("run 7") == []
        # The search's condition reads the FTS5 table's index (``INDEX 0:L0``: a LIKE on it),
        # and a needle with a LIKE wildcard in it is not given to it.
        assert store._search_kind("100%", None) == "like"
        shaped = store._filter(RunFilter(search="run 42"), page=100)
        assert shaped.shape == (("search", "fts"),)
        query = select(schema.runs.c.key).where(*sql_lists.filter_conditions(shaped.shape))
        sql = str(query.compile(dialect=sqlite_dialect(paramstyle="named")))
        with store._engine.connect() as conn:
            plan = [
                row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, shaped.values)
            ]
        assert any("rw_runs_fts VIRTUAL TABLE INDEX 0:L" in step for step in plan), plan
        # A page of a needle that most runs match walks the newest runs instead; a count
        # still reads the index.
        monkeypatch.setattr(sql_lists, "COMMON_MATCHES", 10)
        assert store._search_kind("run", 100) == "like"
        assert store._search_kind("run", None) == "fts"
        assert len(found("run")) == 49 and store.count_runs(RunFilter(search="run")) == 49
    finally:
        store.close()
    # A store made before the index has it made and filled when next opened.
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "DROP TRIGGER rw_runs_fts_insert; DROP TRIGGER rw_runs_fts_delete; "
            "DROP TRIGGER rw_runs_fts_update; DROP TABLE rw_runs_fts;"
        )
    again = SqlStore(f"sqlite:///{path}")
    try:
        assert [r.display_name for r in again.find_runs(RunFilter(search="run 42")).records] == [
            "run 42"
        ]
    finally:
        again.close()


def test_processes_creating_one_new_experiment_at_once(store_uri, tmp_path):
    script = (
        "import sys\nfrom runwidget.store import SqlStore\n"
        "s = SqlStore(sys.argv[1])\n"
        "for i in range(5):\n"
        "    s.create_run(f'new-{i}')\n"
        "s.close()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, store_uri], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    store = SqlStore(store_uri)
    try:
        assert store.count_runs() == 20
        assert sorted(e.name for e in store.list_experiments()) == [f"new-{i}" for i in range(5)]
        # Each process's create_run counted once in its experiment's and target's rows.
        assert {name: e["runs"] for name, e in store.experiment_summaries().items()} == {
            f"new-{i}": 4 for i in range(5)
        }
        assert store.target_summaries()["local"]["runs"] == 20
    finally:
        store.close()


def test_each_call_of_one_list_shape_answers_its_own_values(store):
    """A list's statement is compiled once per shape (which filters, not their values):
    every later call must read with its own values, never the first call's."""
    made = []
    for i in range(12):
        parent = made[0].id if i in (5, 6) else made[1].id if i == 7 else None
        made.append(store.create_run(
            f"exp{i % 3}", parent_id=parent, display_name=f"name {i}", target=f"t{i % 2}",
            tags={"k": i % 4, f"only{i}": 1}, status=st.RUNNING, started=time.time(),
        ))  # fmt: skip
    store.update_run(made[3].id, status=st.FAILED, ended=time.time())
    store.update_run(made[4].id, status=st.COMPLETED, ended=time.time())
    every = store.find_runs(limit=100).records

    def check(where, test):
        expected = sorted(r.id for r in every if test(r))
        assert sorted(r.id for r in store.find_runs(where, limit=100).records) == expected
        assert sorted(r.id for r in store.changed_runs(where)) == expected
        assert store.count_runs(where) == store.total_runs(where).count == len(expected)

    for name in ("exp0", "exp2", "exp1", "none"):
        check(RunFilter(experiment=name), lambda r, name=name: r.experiment == name)
    for run in (made[0], made[1], made[2]):
        check(RunFilter(parent=run.id), lambda r, run=run: r.parent_id == run.id)
    for target in ("t1", "t0"):
        check(RunFilter(target=target), lambda r, target=target: r.target == target)
    for needle in ("name 3", "name 1", "me 1"):
        check(RunFilter(search=needle), lambda r, n=needle: n in r.display_name)
    for value in (0, 3, 1):
        check(RunFilter(tags=(("k", value),)), lambda r, v=value: r.tags["k"] == v)
    for i in (4, 9):
        check(RunFilter(tags=((f"only{i}", None),)), lambda r, i=i: f"only{i}" in r.tags)
    for status in (st.FAILED, st.COMPLETED):
        check(RunFilter(statuses=frozenset({status})), lambda r, s=status: r.status == s)
    for run in (made[8], made[2]):
        check(RunFilter(created_after=run.created), lambda r, run=run: r.created >= run.created)
        check(RunFilter(created_before=run.created), lambda r, run=run: r.created < run.created)
    # Pages of one shape at different places, and the lists of ids.
    newest = [r.id for r in every]
    for offset in (2, 5):
        assert [r.id for r in store.find_runs(offset=offset, limit=2).records] == newest[
            offset : offset + 2
        ]
    # Page sizes: written into the statement of a list planned once, a parameter of one
    # planned at each call (a search); either way each call gets its own.
    for where in (RunFilter(), RunFilter(experiment="exp1"), RunFilter(search="name")):
        chosen = [r for r in every if where.experiment in (None, r.experiment)]
        by_name = [r.id for r in sorted(chosen, key=lambda r: r.display_name, reverse=True)]
        for n in (1, 3, 2):  # a smaller page first: a larger one must not get its size
            page = store.find_runs(where, order="name", limit=n)
            assert [r.id for r in page.records] == by_name[:n] and page.after is not None
            assert len(store.changed_runs(where, limit=n)) == n
    tokens = [store.find_runs(limit=n).after for n in (3, 6)]
    for n, token in zip((3, 6), tokens, strict=True):
        assert [r.id for r in store.find_runs(after=token, limit=2).records] == newest[n : n + 2]
    for run, points in ((made[2], [1.0, 2.0]), (made[9], [5.0])):
        store.write({run.id: Batch(metrics=[("loss", "scalar", None, v, 0.0) for v in points])})
    for run, count in ((made[2], 2), (made[9], 1), (made[1], 0)):
        summary = store.metric_summaries([run.id], ["loss"])[run.id]
        assert summary.get("loss", {"count": 0})["count"] == count
    for run, children in ((made[0], 2), (made[1], 1), (made[2], 0)):
        assert store.child_counts([run.id]).get(run.id, 0) == children
    versions = [store.run_versions([run.id]) for run in (made[2], made[9])]
    assert [list(v) for v in versions] == [[made[2].id], [made[9].id]]
    for run, title in ((made[3], "three"), (made[6], "six")):
        store.add_alert(run.id, kind="user", level="warn", title=title, time=time.time())
    for run, title in ((made[6], "six"), (made[3], "three")):
        assert store.alert_marks([run.id, made[0].id]) == {
            run.id: {"count": 1, "level": "warn", "title": title}
        }
        assert [a.title for a in store.list_alerts(run_ids=[run.id])] == [title]
