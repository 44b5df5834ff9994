"""``GET /runwidget/api/alerts`` through a real Jupyter server, and alert marks in run lists."""

from __future__ import annotations

import time

import pytest

# The Jupyter server of the REST suite, on both stores, with pytest-jupyter's fixtures.
from pytest_jupyter.jupyter_core import *  # noqa: F403
from pytest_jupyter.jupyter_server import *  # noqa: F403
from pytest_jupyter.pytest_tornasync import *  # noqa: F403
from tornado.httpclient import HTTPClientError

from runwidget import Experiment, Workspace
from runwidget import status as st
from runwidget.tracking import alerts
from tests import test_server_api as _api

jp_asyncio_loop = _api.jp_asyncio_loop
fetch = _api.fetch
api_store = _api.api_store
jp_server_config = _api.jp_server_config
_forget_announcement = _api._forget_announcement
get = _api.get


def test_alerts_since_a_cursor_and_marks_in_lists(fetch, api_store, monkeypatch):
    experiment = Experiment(Workspace(api_store), "served")
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


def test_the_server_notices_a_run_that_stopped_responding(fetch, api_store, monkeypatch):
    monkeypatch.setenv("RUNWIDGET_HEARTBEAT_TIMEOUT", "1")
    store = Workspace(api_store).store
    stalled = store.create_run("served", status=st.RUNNING, started=time.time() - 30)
    cursor = get(fetch, "alerts")["cursor"]  # this request runs the watch
    assert alerts.flush(10, store=store)
    found = get(fetch, "alerts", since="0")["alerts"]
    assert [(a["run_id"], a["kind"]) for a in found] == [(stalled.id, "not_responding")]
    assert cursor == 0 or cursor == found[0]["seq"]
