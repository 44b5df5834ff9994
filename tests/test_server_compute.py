"""Compute targets on the kernel-free surfaces, through a real Jupyter server: the targets
endpoint, the runs list's ``target=`` filter and the portal's Compute page."""

from __future__ import annotations

import json
import time

import pytest

# pytest-jupyter's fixtures, for this module only (see tests/test_server_api.py).
from pytest_jupyter.jupyter_core import *  # noqa: F403
from pytest_jupyter.jupyter_server import *  # noqa: F403
from pytest_jupyter.pytest_tornasync import *  # noqa: F403

from runwidget import status as st
from runwidget.server.app import PAGE_POLICY
from runwidget.store import open_store
from tests import test_server_api as _api

jp_asyncio_loop = _api.jp_asyncio_loop
jp_server_config = _api.jp_server_config
_forget_announcement = _api._forget_announcement
api_store = _api.api_store
fetch = _api.fetch
get = _api.get

EVIL = _api.EVIL


@pytest.fixture
def targets(api_store: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A Ray target "far" that nothing listens for, runs on it and on "local", and runs of a
    target no longer attached."""
    monkeypatch.setenv("RUNWIDGET_CONNECT_TIMEOUT", "3")
    store = open_store(api_store)
    store.put_target("far", "ray", {"address": "http://127.0.0.1:9"})
    ids: dict[str, list[str]] = {"far": [], "local": [], "gone": []}
    for status in (st.QUEUED, st.QUEUED, st.RUNNING, st.COMPLETED, st.FAILED):
        ids["far"].append(store.create_run("exp", target="far", status=status).id)
    for status in (st.COMPLETED, st.RUNNING):
        ids["local"].append(store.create_run("exp", status=status).id)
    ids["gone"].append(store.create_run("exp", target="gone", status=st.CANCELED).id)
    store.close()
    return ids


def test_targets_lists_local_first_then_recorded_ones(fetch, targets) -> None:
    started = time.monotonic()
    body = get(fetch, "targets")
    assert time.monotonic() - started < 3, "an unreachable target held the answer up"
    by_name = {t["name"]: t for t in body["targets"]}
    assert [t["name"] for t in body["targets"]][:2] == ["local", "far"]
    local, far = by_name["local"], by_name["far"]
    assert local["kind"] == "local" and local["reachable"] is True and local["problem"] is None
    assert far["kind"] == "ray" and far["address"] == "http://127.0.0.1:9"
    assert far["reachable"] is False
    assert "127.0.0.1:9" in far["problem"] and "unreachable" in far["problem"]
    assert far["counts"] == {"queued": 2, "running": 1, "ended": 2}
    assert local["counts"] == {"queued": 0, "running": 1, "ended": 1}
    # Runs of a target that was detached keep being counted under its name.
    assert by_name["gone"]["counts"] == {"queued": 0, "running": 0, "ended": 1}
    assert by_name["gone"]["reachable"] is False and by_name["gone"]["problem"]


def test_targets_with_no_recorded_target(fetch, api_store) -> None:
    body = get(fetch, "targets")
    assert [t["name"] for t in body["targets"]] == ["local"]
    assert body["targets"][0]["counts"] == {"queued": 0, "running": 0, "ended": 0}


def test_runs_filter_by_target(fetch, targets) -> None:
    body = get(fetch, "runs", target="far")
    assert body["total"] == 5
    assert {r["id"] for r in body["runs"]} == set(targets["far"])
    assert all(r["target"] == "far" for r in body["runs"])
    body = get(fetch, "runs", target="local")
    assert {r["id"] for r in body["runs"]} == set(targets["local"])
    body = get(fetch, "runs", target="far", status="active")
    assert body["total"] == 3
    body = get(fetch, "runs", target="far", since=0)
    assert body["total"] == 5 and len(body["runs"]) == 5
    assert get(fetch, "runs", target="nowhere")["total"] == 0
    assert get(fetch, "runs")["total"] == 8
    run = get(fetch, "runs", targets["far"][0])
    assert run["target"] == "far"


def test_html_in_a_target_name_is_data(fetch, api_store, monkeypatch) -> None:
    monkeypatch.setenv("RUNWIDGET_CONNECT_TIMEOUT", "3")
    store = open_store(api_store)
    store.put_target(EVIL, "ray", {"address": "http://127.0.0.1:9"})
    store.create_run("exp", target=EVIL, status=st.QUEUED)
    store.close()
    response = fetch("runwidget", "api", "targets")
    assert response.headers["Content-Type"].startswith("application/json")
    names = [t["name"] for t in json.loads(response.body)["targets"]]
    assert EVIL in names
    assert get(fetch, "runs", target=EVIL)["total"] == 1


@pytest.mark.parametrize("path", [("compute",), ("runs",), ("runs", "")])
def test_compute_and_runs_pages(fetch, targets, path) -> None:
    response = fetch("runwidget", *path, params={"target": EVIL} if path == ("runs",) else {})
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Content-Security-Policy"].startswith(PAGE_POLICY)
    html = response.body.decode()
    page = "compute" if path == ("compute",) else "runs"
    assert f'"page":"{page}"' in html
    assert "<img" not in html
