"""Bad values, stalled stores and secrets: nothing costs another run its data, nothing hangs."""

from __future__ import annotations

import logging
import math
import os
import socket
import sqlite3
import stat
import threading
import time
import warnings

import pytest

from runwidget import Experiment, Workspace
from runwidget.errors import (
    InvalidValueError,
    RunwidgetWarning,
    StoreError,
    StoreReadOnlyError,
    StoreUnavailableError,
)
from runwidget.store import MetricKind, open_store, redact_uri, resolve_store_uri
from runwidget.tracking._flusher import flusher_for
from tests.conftest import running_postgres

BAD_STRINGS = ["bad \ud800 value", "nul \x00 inside"]


def _values(run, name):
    return [p.value for p in run._store.read_metrics(run.id, name=name)]


@pytest.mark.parametrize("bad", BAD_STRINGS, ids=["surrogate", "nul"])
def test_a_string_no_store_can_hold_is_refused_in_the_callers_thread(store_uri, bad):
    exp = Experiment(Workspace(store_uri), "bad-strings")
    a, b = exp.start_logging(), exp.start_logging()
    errors = []

    def log_a():
        for i in range(300):
            a.log("x", float(i))

    thread = threading.Thread(target=log_a)
    thread.start()
    for call in (
        lambda: b.log("model", bad),
        lambda: b.log(bad, 1.0),
        lambda: b.log_row("row", col=bad),
        lambda: b.log_table("table", {"c": [bad]}),
        lambda: b.set_tags({"t": bad}),
        lambda: b.add_properties({bad: 1}),
    ):
        with pytest.raises(InvalidValueError, match="NUL|surrogate") as info:
            call()
        errors.append(str(info.value))
    thread.join()
    a.complete()
    b.complete()
    assert len(_values(a, "x")) == 300
    assert b.get_status() == "Completed"
    # The message shows the value escaped, never the raw character.
    assert all("\x00" not in e and "\ud800" not in e for e in errors)


@pytest.mark.parametrize("bad", BAD_STRINGS, ids=["surrogate", "nul"])
def test_the_writer_leaves_out_only_the_item_it_cannot_write(store_uri, bad):
    """A value that got past the checks costs its own item only, never another run's."""
    exp = Experiment(Workspace(store_uri), "isolation")
    a, b = exp.start_logging(), exp.start_logging()
    flusher = flusher_for(a._store)
    for i in range(300):
        a.log("x", float(i))
        if i == 100:
            # Straight into the buffer, as a bug in a check would let it through.
            flusher.add_metric(b.id, ("y", MetricKind.SCALAR, None, bad, time.time()))
        b.log("y", float(i))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert a.flush(30)
    assert len(_values(a, "x")) == 300
    stored = _values(b, "y")
    left_out = [w for w in seen if "left out" in str(w.message)]
    if bad in stored:  # SQLite holds a NUL; nothing was left out
        stored.remove(bad)
        assert not left_out
    else:
        assert len(left_out) == 1 and b.id in str(left_out[0].message)
    assert stored == [float(i) for i in range(300)]
    # Later points of every run are still written: the bad item is not retried as an outage.
    a.log("x", 300.0)
    a.complete()
    assert len(_values(a, "x")) == 301


def test_wrong_types_get_a_clear_error(sqlite_uri):
    run = Experiment(Workspace(sqlite_uri), "types").start_logging()
    with pytest.raises(InvalidValueError, match="metric name must be a string, got list"):
        run.log(["a"], 1.0)
    with pytest.raises(InvalidValueError, match="column 'a' of table 't' must be a list"):
        run.log_table("t", {"a": 5})
    with pytest.raises(InvalidValueError, match="must be a dict"):
        run.set_tags(["x"])
    run.complete()


def test_log_lines_with_odd_characters_are_kept_with_a_replacement(store_uri):
    run = Experiment(Workspace(store_uri), "logs").start_logging()
    flusher_for(run._store).add_logs(run.id, [("stdout", "a\x00b \udcff c", time.time())])
    run.complete()
    assert [line.text for line in run._store.read_logs(run.id)] == ["a\ufffdb \ufffd c"]


def test_a_failure_message_with_odd_characters_is_stored(store_uri):
    run = Experiment(Workspace(store_uri), "fail").start_logging()
    run.fail(ValueError("bad \x00 \ud800"))
    assert run.get_details()["error"]["message"] == "ValueError: bad \ufffd \ufffd"


# -- a store that does not answer ----------------------------------------------------------
@pytest.fixture
def silent_host():
    """A TCP port that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_a_silent_postgresql_host_fails_within_the_connect_timeout(silent_host, monkeypatch):
    monkeypatch.setenv("RUNWIDGET_CONNECT_TIMEOUT", "2")
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="unreachable") as info:
        Workspace(f"postgresql+psycopg://user:s3cret@{silent_host}/db")
    assert time.monotonic() - started < 8
    assert "s3cret" not in str(info.value)


def test_a_bad_connect_timeout_names_the_variable(silent_host, monkeypatch):
    monkeypatch.setenv("RUNWIDGET_CONNECT_TIMEOUT", "soon")
    with pytest.raises(
        InvalidValueError, match="RUNWIDGET_CONNECT_TIMEOUT='soon' is not a number of seconds"
    ):
        Workspace(f"postgresql+psycopg://user@{silent_host}/db")


@pytest.mark.slow
def test_complete_and_reads_keep_their_time_limits_while_the_store_is_locked(sqlite_uri):
    run = Experiment(Workspace(sqlite_uri), "locked").start_logging()
    # The write lock held by another connection, as another process would hold it.
    holder = sqlite3.connect(sqlite_uri.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    for i in range(10):
        run.log("x", float(i))
    started = time.monotonic()
    with pytest.warns(RunwidgetWarning, match="store is unreachable"):
        run.complete()
    assert time.monotonic() - started < 15  # its limit is 10 s; slack for a busy machine
    started = time.monotonic()
    run.get_metrics()  # reads what is stored; it does not wait for the lock
    assert time.monotonic() - started < 4
    holder.execute("ROLLBACK")
    holder.close()
    assert run.flush(60)
    assert run.get_status() == "Completed"
    assert run.get_metrics()["x"] == [float(i) for i in range(10)]


# -- secrets ------------------------------------------------------------------------------
def test_a_new_store_is_private_to_its_user(tmp_path):
    path = tmp_path / "fresh" / "runs.db"
    run = Experiment(Workspace(f"sqlite:///{path}"), "private").start_logging()
    run.set_tags({"api_key": "k"})
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for name in ("runs.db", "runs.db-wal", "runs.db-shm"):
        file = path.parent / name
        assert file.exists(), name
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, name
    run.complete()


def test_an_existing_directory_keeps_its_mode(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    Workspace(f"sqlite:///{shared}/runs.db")
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert stat.S_IMODE((shared / "runs.db").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "uri, shown",
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("mysql://u:p@ss@host/db", "mysql://u:***@host/db"),
        ("sqlite:////tmp/runs.db", "sqlite:////tmp/runs.db"),
    ],
)
def test_redact_uri(uri, shown):
    assert redact_uri(uri) == shown


def test_an_unknown_scheme_does_not_echo_the_password():
    with pytest.raises(StoreError, match="accepted schemes") as info:
        resolve_store_uri("mysql://u:p4ss@host/db")
    assert "p4ss" not in str(info.value)


@pytest.mark.postgres
@pytest.mark.slow
def test_writer_log_lines_never_hold_the_password(caplog):
    with running_postgres() as server:
        with server.connect() as conn:
            conn.execute("ALTER USER postgres PASSWORD 'hunter2'")
        uri = server.uri("postgres").replace("postgres@", "postgres:hunter2@", 1)
        run = Experiment(Workspace(uri), "secret").start_logging()
        flusher = flusher_for(run._store)
        server.stop()
        with caplog.at_level(logging.DEBUG, logger="runwidget"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run.log("x", 1.0)
            flusher.close(timeout=1)
        server.start()
    lines = [r.getMessage() for r in caplog.records]
    assert any("lost" in line for line in lines)
    assert not any("hunter2" in line for line in lines)


# -- misleading errors --------------------------------------------------------------------
def test_a_read_only_store_says_so(tmp_path):
    path = tmp_path / "runs.db"
    Experiment(Workspace(f"sqlite:///{path}"), "ro").start_logging().complete()
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    with pytest.raises(StoreReadOnlyError, match="is read-only.*writable") as info:
        open_store(read_only).get_or_create_experiment("another")
    assert "unreachable" not in str(info.value)


def test_nan_and_huge_values_read_back(store_uri):
    run = Experiment(Workspace(store_uri), "odd").start_logging()
    run.set_tags({"lr": float("nan"), "big": 10**30, "html": "<b>x</b>"})
    tags = run.get_tags()
    assert math.isnan(tags["lr"]) and tags["big"] == 10**30 and tags["html"] == "<b>x</b>"
    run.complete()
