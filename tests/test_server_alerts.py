"""``GET /runwidget/api/alerts`` through a real Jupyter server, and alert marks in run lists."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from pytest_jupyter.jupyter_core import *  # noqa: F403
from pytest_jupyter.jupyter_server import *  # noqa: F403
from pytest_jupyter.pytest_tornasync import *  # noqa: F403
from tornado.httpclient import HTTPClientError

from runwidget import Experiment, Workspace
from runwidget import status as st
from runwidget.tracking import _portal, alerts


@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    if asyncio._get_running_loop() is not None:
        pytest.fail("run tests/test_server_alerts.py before the browser tests in tests/ui", False)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def fetch(jp_fetch, jp_asyncio_loop):
    def run(*args, **kwargs):
        return jp_asyncio_loop.run_until_complete(jp_fetch(*args, **kwargs))

    return run


@pytest.fixture
def jp_server_config(store_uri: str):
    return {
        "ServerApp": {"jpserver_extensions": {"runwidget.server": True}},
        "RunwidgetServer": {"store": store_uri},
    }


@pytest.fixture(autouse=True)
def _forget_announcement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_portal.JUPYTER_URL_VAR, raising=False)
    monkeypatch.delenv(_portal.JUPYTER_STORE_VAR, raising=False)


def get(fetch, *path: str, **params) -> dict:
    response = fetch("runwidget", "api", *path, params=params)
    return json.loads(response.body)


def test_alerts_since_a_cursor_and_marks_in_lists(fetch, store_uri, monkeypatch):
    experiment = Experiment(Workspace(store_uri), "served")
    first = experiment.start_logging(display_name="first", outputs=False)
    first.alert("old one")
    first.get_alerts()
    start = get(fetch, "alerts")
    assert [a["title"] for a in start["alerts"]] == ["old one"]
    cursor = start["cursor"]
    assert get(fetch, "alerts", since=str(cursor))["alerts"] == []

    first.alert("<b>new</b>", "text", level="error")
    first.fail("broke")
    first.get_alerts()
    new = get(fetch, "alerts", since=str(cursor))
    assert [(a["title"], a["level"], a["kind"]) for a in new["alerts"]] == [
        ("<b>new</b>", "error", "user"),
        ("Run first failed", "error", "failed"),
    ]
    row = new["alerts"][0]
    assert row["run_id"] == first.id and row["name"] == "first" and row["experiment"] == "served"
    assert row["url"].endswith(f"/runs/{first.id}")
    assert new["cursor"] > cursor

    plain = experiment.start_logging(outputs=False)
    plain.complete()
    listed = {r["id"]: r for r in get(fetch, "runs")["runs"]}
    assert listed[first.id]["alerts"] == {"count": 3, "level": "error", "title": "Run first failed"}
    assert "alerts" not in listed[plain.id]

    with pytest.raises(HTTPClientError) as e:
        get(fetch, "alerts", since="-1")
    assert e.value.code == 400


def test_the_server_notices_a_run_that_stopped_responding(fetch, store_uri, monkeypatch):
    monkeypatch.setenv("RUNWIDGET_HEARTBEAT_TIMEOUT", "1")
    store = Workspace(store_uri).store
    stalled = store.create_run("served", status=st.RUNNING, started=time.time() - 30)
    cursor = get(fetch, "alerts")["cursor"]  # this request runs the watch
    assert alerts.flush(10)
    found = get(fetch, "alerts", since="0")["alerts"]
    assert [(a["run_id"], a["kind"]) for a in found] == [(stalled.id, "not_responding")]
    assert cursor == 0 or cursor == found[0]["seq"]
