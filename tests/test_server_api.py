"""The REST API of the Jupyter server extension, through a real Jupyter server (pytest-jupyter)."""

from __future__ import annotations

import asyncio
import io
import json
import time
import zipfile
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote

import pytest

# pytest-jupyter's fixtures, imported for this module only: registered as a plugin, its
# autouse event-loop fixtures would also wrap the browser tests and break Playwright's loop.
from pytest_jupyter.jupyter_core import *  # noqa: F403
from pytest_jupyter.jupyter_server import *  # noqa: F403
from pytest_jupyter.pytest_tornasync import *  # noqa: F403
from tornado.httpclient import HTTPClientError

from runwidget import Experiment, Workspace
from runwidget import status as st
from runwidget.store import Batch, SqlStore
from runwidget.tracking import _portal

EVIL = '<img src=x onerror="alert(1)">'


@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    """A fresh event loop per test (replaces pytest-jupyter's, which reuses a current one)."""
    if asyncio._get_running_loop() is not None:
        # Playwright's sync API keeps its loop running in this thread once a browser test
        # has started; pytest's default order runs these tests before tests/ui.
        pytest.fail("run tests/test_server_api.py before the browser tests in tests/ui", False)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def fetch(jp_fetch, jp_asyncio_loop):
    """``jp_fetch`` run to completion (the async test runner is pytest-jupyter's plugin's)."""

    def run(*args, **kwargs):
        return jp_asyncio_loop.run_until_complete(jp_fetch(*args, **kwargs))

    return run


@pytest.fixture
def api_store(store_uri: str) -> str:
    """The REST suite runs on both stores: SQLite and the test PostgreSQL server."""
    return store_uri


@pytest.fixture
def jp_server_config(api_store: str):
    return {
        "ServerApp": {"jpserver_extensions": {"runwidget.server": True}},
        "RunwidgetServer": {"store": api_store},
    }


@pytest.fixture(autouse=True)
def _forget_announcement(monkeypatch: pytest.MonkeyPatch) -> None:
    # The extension announces its portal to kernels through the environment: keep it in
    # this test.
    monkeypatch.delenv(_portal.JUPYTER_URL_VAR, raising=False)
    monkeypatch.delenv(_portal.JUPYTER_STORE_VAR, raising=False)


@pytest.fixture
def runs(api_store: str, tmp_path: Path) -> dict[str, str]:
    """Two experiments: "train" with 3 finished runs (one with children), "other" with a
    running run whose name is HTML."""
    ws = Workspace(api_store)
    train = Experiment(ws, "train")
    ids: dict[str, str] = {}
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text("print('hi')\n")
    for i in range(3):
        run = train.start_logging(display_name=f"run {i}", snapshot_directory=str(source))
        for step in range(5):
            run.log("loss", 1.0 / (step + 1 + i), step=step)
        run.log("alpha", 0.1 * i)
        run.log_row("curve", x=1, y=2)
        if i == 0:
            with run.child_run("child a") as child:
                child.log("acc", 0.5)
        run.complete()
        ids[f"run{i}"] = run.id
    other = Experiment(ws, "other")
    evil = other.start_logging(display_name=EVIL, tags={"note": EVIL})
    evil.log("loss", 3.0)
    evil.flush()
    ids["evil"] = evil.id
    return ids


def get(fetch, *path: str, **params) -> dict:
    response = fetch("runwidget", "api", *path, params=params)
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


def test_experiments_and_runs(fetch, runs) -> None:
    body = get(fetch, "experiments")
    names = [e["name"] for e in body["experiments"]]
    assert sorted(names) == ["other", "train"]
    train = next(e for e in body["experiments"] if e["name"] == "train")
    assert train["runs"] == 3 and train["active"] == 0

    body = get(fetch, "runs", experiment="train", parent="none")
    assert body["total"] == 3
    assert [r["name"] for r in body["runs"]] == ["run 2", "run 1", "run 0"]  # newest first
    assert body["runs"][2]["children"] == 1
    assert all(r["status"] == st.COMPLETED for r in body["runs"])

    body = get(fetch, "runs", status="active")
    assert [r["id"] for r in body["runs"]] == [runs["evil"]]
    body = get(fetch, "runs", parent=runs["run0"])
    assert [r["name"] for r in body["runs"]] == ["child a"]
    body = get(fetch, "runs", q="RUN 1")
    assert [r["id"] for r in body["runs"]] == [runs["run1"]]


def test_paging_and_cursor(fetch, runs, api_store) -> None:
    first = get(fetch, "runs", parent="none", limit="2")
    second = get(fetch, "runs", parent="none", limit="2", offset="2")
    assert first["total"] == second["total"] == 4
    assert first["total_estimated"] is False  # counted: the store is small
    ids = [r["id"] for r in first["runs"] + second["runs"]]
    assert len(set(ids)) == 4
    assert second["offset"] == 2

    cursor = first["cursor"]
    nothing = get(fetch, "runs", since=str(cursor))
    assert nothing["runs"] == [] and nothing["cursor"] == cursor

    Workspace(api_store).get_run(runs["evil"]).complete()
    time.sleep(1.1)  # the index syncs at most once a second
    changed = get(fetch, "runs", since=str(cursor))
    assert [(r["id"], r["status"]) for r in changed["runs"]] == [(runs["evil"], st.COMPLETED)]
    assert changed["cursor"] > cursor


def test_a_large_list_total_is_the_database_estimate(fetch, runs, api_store, monkeypatch):
    from runwidget.store import sql_lists

    monkeypatch.setattr(sql_lists, "EXACT_TOTAL", 2)
    body = get(fetch, "runs", parent="none", limit="1")
    status = get(fetch, "status")
    if api_store.startswith("sqlite"):  # SQLite keeps no statistics: counted
        assert (body["total"], body["total_estimated"]) == (4, False)
        assert (status["runs"], status["runs_estimated"]) == (5, False)
    else:
        assert body["total_estimated"] is True and body["total"] >= 3
        assert status["runs_estimated"] is True
    assert get(fetch, "runs", experiment="other")["total_estimated"] is False  # 2 or fewer


def test_bad_arguments_get_clear_errors(fetch, runs) -> None:
    with pytest.raises(HTTPClientError) as e:
        fetch("runwidget", "api", "runs", params={"status": "Sleeping"})
    assert e.value.code == 400
    assert "unknown status 'Sleeping'" in json.loads(e.value.response.body)["message"]
    with pytest.raises(HTTPClientError) as e:
        fetch("runwidget", "api", "runs", params={"limit": "x"})
    assert e.value.code == 400
    with pytest.raises(HTTPClientError) as e:
        fetch("runwidget", "api", "runs", "no-such-run")
    assert e.value.code == 404
    assert "no-such-run" in json.loads(e.value.response.body)["message"]


def test_run_view_and_deltas(fetch, runs, api_store) -> None:
    run_id = runs["evil"]
    body = get(fetch, "runs", run_id, "view")
    snap = body["snapshot"]
    assert snap["header"]["display_name"] == EVIL  # data, never markup: the client draws text
    assert snap["header"]["portal_url"].endswith(f"/runwidget/runs/{quote(run_id)}")
    epoch, version = body["epoch"], body["version"]

    run = Workspace(api_store).get_run(run_id)
    run.log("loss", 2.0)
    run.log("loss", 1.0)
    run.flush()
    time.sleep(1.1)
    body = get(fetch, "runs", run_id, "view", epoch=epoch, version=str(version))
    assert "snapshot" not in body
    (delta,) = body["deltas"]
    assert delta["base"] == version
    tail = delta["charts"]["data"][0]
    assert tail["y"][-1] == 1.0

    stale = get(fetch, "runs", run_id, "view", epoch="other", version="0")
    assert "snapshot" in stale


def test_run_details_logs_files_snapshot(fetch, runs, api_store) -> None:
    run_id = runs["run0"]
    detail = get(fetch, "runs", run_id)
    assert detail["metrics"]["loss"] == {"last": 0.2, "min": 0.2, "max": 1.0, "count": 5}
    assert detail["children"] == 1

    store = Workspace(api_store).store
    from runwidget.store import Batch

    store.write({run_id: Batch(logs=[("stdout", f"line {i}", time.time()) for i in range(7)])})
    page = get(fetch, "runs", run_id, "logs", limit="5")
    assert [x["text"] for x in page["lines"]] == [f"line {i}" for i in range(5)]
    assert page["more"] is True
    rest = get(fetch, "runs", run_id, "logs", since=str(page["cursor"]))
    assert [x["text"] for x in rest["lines"]] == ["line 5", "line 6"]
    assert rest["more"] is False

    response = fetch("runwidget", "api", "runs", run_id, "log.txt", params={"download": "1"})
    assert response.body.decode() == "".join(f"line {i}\n" for i in range(7))
    assert "attachment" in response.headers["Content-Disposition"]

    files = get(fetch, "runs", run_id, "files")
    assert [f["path"] for f in files["files"]] == ["snapshot.zip"]
    response = fetch("runwidget", "api", "runs", run_id, "snapshot.zip")
    assert response.headers["Content-Type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(response.body)).namelist() == ["train.py"]


def test_user_files_never_served_as_html(fetch, runs, api_store) -> None:
    run = Workspace(api_store).get_run(runs["evil"])
    run.upload_file("page.html", io.BytesIO(b"<script>alert(1)</script>"))
    run.flush()
    response = fetch("runwidget", "api", "runs", runs["evil"], "files", "page.html")
    assert response.headers["Content-Type"] == "text/plain"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_compare(fetch, runs) -> None:
    ids = ",".join(runs[f"run{i}"] for i in range(3))
    body = get(fetch, "compare", runs=ids, metrics="loss")
    (chart,) = body["charts"]
    assert chart["name"] == "loss"
    assert [s["run"] for s in chart["series"]] == [runs[f"run{i}"] for i in range(3)]
    assert chart["series"][1]["y"] == [1.0 / (s + 2) for s in range(5)]
    assert body["terminal"] is True  # every run has ended: a compare page stops reading
    live = get(fetch, "compare", runs=f"{ids},{runs['evil']}", metrics="loss")
    assert live["terminal"] is False  # the evil run is still running


def test_stats_columns(fetch, runs) -> None:
    body = get(fetch, "runs", experiment="train", parent="none", stats="*")
    run2 = body["runs"][0]
    assert run2["metrics"]["loss"]["max"] == pytest.approx(1 / 3)
    assert run2["metrics"]["alpha"]["last"] == pytest.approx(0.2)
    body = get(fetch, "runs", experiment="train", stats="primary", parent="none")
    assert body["runs"][0]["primary_metric"] == {"name": "loss", "value": pytest.approx(1 / 7)}
    # Named columns come in the order asked; a name no run logged is left out.
    named = get(fetch, "runs", experiment="train", parent="none", stats="alpha,nothing,loss")
    assert list(named["runs"][0]["metrics"]) == ["alpha", "loss"]
    assert named["runs"][0]["metrics"]["loss"] == run2["metrics"]["loss"]
    # The changed runs of a poll get their columns too.
    changed = get(fetch, "runs", experiment="train", parent="none", since="0", stats="loss")
    by_id = {r["id"]: r for r in changed["runs"]}
    assert by_id[run2["id"]]["metrics"] == {"loss": run2["metrics"]["loss"]}
    # Columns for more than 500 runs are refused before anything is read.
    with pytest.raises(HTTPClientError) as e:
        fetch("runwidget", "api", "runs", params={"stats": "*", "limit": "501"})
    assert e.value.code == 400 and "limit=500" in json.loads(e.value.response.body)["message"]


def test_every_endpoint_needs_the_token(fetch, runs) -> None:
    run_id = runs["run0"]
    for path in (
        ("experiments",),
        ("runs",),
        ("runs", run_id),
        ("runs", run_id, "view"),
        ("runs", run_id, "logs"),
        ("runs", run_id, "log.txt"),
        ("runs", run_id, "files"),
        ("runs", run_id, "snapshot.zip"),
        ("compare",),
    ):
        with pytest.raises(HTTPClientError, match="403") as e:
            fetch("runwidget", "api", *path, headers={"Authorization": ""})
            pytest.fail(f"{path} answered without a token")
        assert e.value.code == 403, path
    with pytest.raises(HTTPClientError) as e:
        fetch(
            "runwidget", "api", "runs", run_id, "cancel", method="POST", body=b"",
            headers={"Authorization": ""},
        )  # fmt: skip
    assert e.value.code == 403
    # A page without login goes to Jupyter's login page.
    with pytest.raises(HTTPClientError) as e:
        fetch("runwidget", "runs", run_id, headers={"Authorization": ""}, follow_redirects=False)
    assert e.value.code == 302
    assert "/login" in e.value.response.headers["Location"]


def _login_cookies(fetch) -> dict[str, str]:
    """Log in as a browser does (token once, then the cookie) and get Jupyter's cookies."""
    response = fetch("runwidget", "")  # a page: sets the login and _xsrf cookies
    cookies: dict[str, str] = {}
    for header in response.headers.get_list("Set-Cookie"):
        for name, morsel in SimpleCookie(header).items():
            cookies[name] = morsel.value
    assert "_xsrf" in cookies and any(n.startswith("username-") for n in cookies)
    return cookies


def test_cancel_needs_xsrf(fetch, runs, api_store) -> None:
    run_id = runs["evil"]
    cookies = _login_cookies(fetch)
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    no_token = {"Authorization": "", "Cookie": cookie}
    with pytest.raises(HTTPClientError) as e:
        fetch("runwidget", "api", "runs", run_id, "cancel", method="POST", body=b"",
                       headers=no_token)  # fmt: skip
    assert e.value.code == 403
    assert Workspace(api_store).store.get_run(run_id).status == st.RUNNING

    with_xsrf = {**no_token, "X-XSRFToken": cookies["_xsrf"]}
    response = fetch(
        "runwidget", "api", "runs", run_id, "cancel", method="POST", body=b"", headers=with_xsrf
    )
    assert json.loads(response.body)["status"] == st.CANCELED
    assert Workspace(api_store).store.get_run(run_id).status == st.CANCELED


def test_portal_page_passes_url_values_as_data(fetch, runs) -> None:
    response = fetch("runwidget", "runs", "<script>x&")
    html = response.body.decode()
    assert "<script>x" not in html
    assert "\\u003cscript\\u003ex\\u0026" in html
    assert '"page":"run"' in html


def test_unchanged_answers_are_304(fetch, runs, api_store) -> None:
    first = fetch("runwidget", "api", "runs", params={"stats": "*"})
    etag = first.headers["Etag"]
    again = fetch(
        "runwidget", "api", "runs", params={"stats": "*"}, headers={"If-None-Match": etag},
        raise_error=False,
    )  # fmt: skip
    assert again.code == 304 and again.body == b""
    view = fetch("runwidget", "api", "runs", runs["evil"])
    unchanged = fetch(
        "runwidget", "api", "runs", runs["evil"],
        headers={"If-None-Match": view.headers["Etag"]}, raise_error=False,
    )  # fmt: skip
    assert unchanged.code == 304
    # A new point changes the run's metric statistics, and so the answer.
    store = SqlStore(api_store)
    try:
        store.write({runs["evil"]: Batch(metrics=[("loss", "scalar", None, 9.0, 0.0)])})
    finally:
        store.close()
    changed = fetch(
        "runwidget", "api", "runs", params={"stats": "*"}, headers={"If-None-Match": etag},
        raise_error=False,
    )  # fmt: skip
    assert changed.code == 200 and changed.headers["Etag"] != etag
    row = next(r for r in json.loads(changed.body)["runs"] if r["id"] == runs["evil"])
    assert row["metrics"]["loss"] == {"last": 9.0, "min": 3.0, "max": 9.0, "count": 2}


def test_pages_by_token_and_tag_filter(fetch, runs) -> None:
    seen, after = [], None
    while True:
        body = get(fetch, "runs", limit=2, **({"after": after} if after else {}))
        seen += [r["id"] for r in body["runs"]]
        assert body["total"] == 5
        after = body["after"]
        if after is None:
            break
    assert len(seen) == len(set(seen)) == 5
    body = get(fetch, "runs", tag="note")
    assert [r["id"] for r in body["runs"]] == [runs["evil"]]
    bad = fetch("runwidget", "api", "runs", params={"after": "%%%"}, raise_error=False)
    assert bad.code == 400 and "page token" in json.loads(bad.body)["message"]
