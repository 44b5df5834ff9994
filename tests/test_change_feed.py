"""The server's change feed: what it announces, and its server-sent event stream."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time

import pytest

from runwidget import status as st
from runwidget.server.changes import ChangeFeed
from runwidget.store import Batch, SqlStore
from tests.test_server_hardening import TOKEN, running_portal

WRITE = (
    "import sys\nfrom runwidget.store import Batch, SqlStore\n"
    "s = SqlStore(sys.argv[1])\n"
    "s.write({sys.argv[2]: Batch(metrics=[('m', 'scalar', None, 1.0, 0.0)])})\n"
)


@pytest.fixture
def store(store_uri):
    s = SqlStore(store_uri)
    yield s
    s.close()


def test_probe_announces_records_and_watched_data(store, store_uri) -> None:
    feed = ChangeFeed(lambda: store)
    run = store.create_run("feed")
    assert feed.probe(store) is None  # the first look learns where the store is
    assert feed.probe(store) is None
    store.update_run(run.id, status=st.RUNNING, started=time.time())
    event = feed.probe(store)
    assert [(r["id"], r["status"]) for r in event["runs"]] == [(run.id, st.RUNNING)]
    assert event["data"] == [] and event["cursor"] == store.change_cursor()
    assert feed.probe(store) is None
    # Data: announced for watched runs only, after another process writes.
    feed.watch(run.id)
    assert feed.probe(store) is None  # learns the run's version
    subprocess.run([sys.executable, "-c", WRITE, store_uri, run.id], check=True, timeout=120)
    event = feed.probe(store)
    assert event["data"] == [run.id] and event["runs"] == []
    # A heartbeat is no change.
    store.beat([run.id], time.time())
    assert feed.probe(store) is None
    other = store.create_run("feed")
    store.write({other.id: Batch(logs=[("stdout", "not watched\n", 0.0)])})
    event = feed.probe(store)
    assert [r["id"] for r in event["runs"]] == [other.id] and event["data"] == []


def test_server_sent_events_reach_a_client_at_once(sqlite_uri) -> None:
    store = SqlStore(sqlite_uri)
    run = store.create_run("sse")
    with running_portal(sqlite_uri) as portal:
        # A request opens the store, which the feed waits for.
        assert portal.api("runs").status == 200
        conn = http.client.HTTPConnection(portal.host, portal.port, timeout=30)
        conn.request("GET", "/runwidget/api/events", headers={"Authorization": f"token {TOKEN}"})
        answer = conn.getresponse()
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/event-stream")
        assert answer.readline().startswith(b": runwidget")
        answer.readline()
        time.sleep(0.6)  # the feed's first look
        changed = time.monotonic()
        store.update_run(run.id, status=st.RUNNING, started=time.time())
        lines = [answer.readline(), answer.readline()]
        took = time.monotonic() - changed
        conn.close()
    store.close()
    assert lines[0] == b"event: changes\n"
    event = json.loads(lines[1].removeprefix(b"data: "))
    assert [r["id"] for r in event["runs"]] == [run.id]
    assert took < 2.0
