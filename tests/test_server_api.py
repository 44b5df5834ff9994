"""The REST API of the Jupyter server extension, through a real Jupyter server (pytest-jupyter)."""

from __future__ import annotations

import io
import json
import time
import zipfile
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote

import pytest
from tornado.httpclient import HTTPClientError

from runwidget import Experiment, Workspace
from runwidget import status as st
from runwidget.tracking import _portal

pytest_plugins = ("pytest_jupyter.jupyter_server",)

EVIL = '<img src=x onerror="alert(1)">'


@pytest.fixture
def api_store(sqlite_uri: str) -> str:
    return sqlite_uri


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


async def get(jp_fetch, *path: str, **params) -> dict:
    response = await jp_fetch("runwidget", "api", *path, params=params)
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def test_experiments_and_runs(jp_fetch, runs) -> None:
    body = await get(jp_fetch, "experiments")
    names = [e["name"] for e in body["experiments"]]
    assert sorted(names) == ["other", "train"]
    train = next(e for e in body["experiments"] if e["name"] == "train")
    assert train["runs"] == 3 and train["active"] == 0

    body = await get(jp_fetch, "runs", experiment="train", parent="none")
    assert body["total"] == 3
    assert [r["name"] for r in body["runs"]] == ["run 2", "run 1", "run 0"]  # newest first
    assert body["runs"][2]["children"] == 1
    assert all(r["status"] == st.COMPLETED for r in body["runs"])

    body = await get(jp_fetch, "runs", status="active")
    assert [r["id"] for r in body["runs"]] == [runs["evil"]]
    body = await get(jp_fetch, "runs", parent=runs["run0"])
    assert [r["name"] for r in body["runs"]] == ["child a"]
    body = await get(jp_fetch, "runs", q="RUN 1")
    assert [r["id"] for r in body["runs"]] == [runs["run1"]]


async def test_paging_and_cursor(jp_fetch, runs, api_store) -> None:
    first = await get(jp_fetch, "runs", parent="none", limit="2")
    second = await get(jp_fetch, "runs", parent="none", limit="2", offset="2")
    assert first["total"] == second["total"] == 4
    ids = [r["id"] for r in first["runs"] + second["runs"]]
    assert len(set(ids)) == 4
    assert second["offset"] == 2

    cursor = first["cursor"]
    nothing = await get(jp_fetch, "runs", since=str(cursor))
    assert nothing["runs"] == [] and nothing["cursor"] == cursor

    Workspace(api_store).get_run(runs["evil"]).complete()
    time.sleep(1.1)  # the index syncs at most once a second
    changed = await get(jp_fetch, "runs", since=str(cursor))
    assert [(r["id"], r["status"]) for r in changed["runs"]] == [(runs["evil"], st.COMPLETED)]
    assert changed["cursor"] > cursor


async def test_bad_arguments_get_clear_errors(jp_fetch, runs) -> None:
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("runwidget", "api", "runs", params={"status": "Sleeping"})
    assert e.value.code == 400
    assert "unknown status 'Sleeping'" in json.loads(e.value.response.body)["message"]
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("runwidget", "api", "runs", params={"limit": "x"})
    assert e.value.code == 400
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("runwidget", "api", "runs", "no-such-run")
    assert e.value.code == 404
    assert "no-such-run" in json.loads(e.value.response.body)["message"]


async def test_run_view_and_deltas(jp_fetch, runs, api_store) -> None:
    run_id = runs["evil"]
    body = await get(jp_fetch, "runs", run_id, "view")
    snap = body["snapshot"]
    assert snap["header"]["display_name"] == EVIL  # data, never markup: the client draws text
    assert snap["header"]["portal_url"].endswith(f"/runwidget/runs/{quote(run_id)}")
    epoch, version = body["epoch"], body["version"]

    run = Workspace(api_store).get_run(run_id)
    run.log("loss", 2.0)
    run.log("loss", 1.0)
    run.flush()
    time.sleep(1.1)
    body = await get(jp_fetch, "runs", run_id, "view", epoch=epoch, version=str(version))
    assert "snapshot" not in body
    (delta,) = body["deltas"]
    assert delta["base"] == version
    tail = delta["charts"]["data"][0]
    assert tail["y"][-1] == 1.0

    stale = await get(jp_fetch, "runs", run_id, "view", epoch="other", version="0")
    assert "snapshot" in stale


async def test_run_details_logs_files_snapshot(jp_fetch, runs, api_store) -> None:
    run_id = runs["run0"]
    detail = await get(jp_fetch, "runs", run_id)
    assert detail["metrics"]["loss"] == {"last": 0.2, "min": 0.2, "max": 1.0, "count": 5}
    assert detail["children"] == 1

    store = Workspace(api_store).store
    from runwidget.store import Batch

    store.write({run_id: Batch(logs=[("stdout", f"line {i}", time.time()) for i in range(7)])})
    page = await get(jp_fetch, "runs", run_id, "logs", limit="5")
    assert [x["text"] for x in page["lines"]] == [f"line {i}" for i in range(5)]
    assert page["more"] is True
    rest = await get(jp_fetch, "runs", run_id, "logs", since=str(page["cursor"]))
    assert [x["text"] for x in rest["lines"]] == ["line 5", "line 6"]
    assert rest["more"] is False

    response = await jp_fetch(
        "runwidget", "api", "runs", run_id, "log.txt", params={"download": "1"}
    )
    assert response.body.decode() == "".join(f"line {i}\n" for i in range(7))
    assert "attachment" in response.headers["Content-Disposition"]

    files = await get(jp_fetch, "runs", run_id, "files")
    assert [f["path"] for f in files["files"]] == ["snapshot.zip"]
    response = await jp_fetch("runwidget", "api", "runs", run_id, "snapshot.zip")
    assert response.headers["Content-Type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(response.body)).namelist() == ["train.py"]


async def test_user_files_never_served_as_html(jp_fetch, runs, api_store) -> None:
    run = Workspace(api_store).get_run(runs["evil"])
    run.upload_file("page.html", io.BytesIO(b"<script>alert(1)</script>"))
    run.flush()
    response = await jp_fetch("runwidget", "api", "runs", runs["evil"], "files", "page.html")
    assert response.headers["Content-Type"] == "text/plain"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


async def test_compare(jp_fetch, runs) -> None:
    ids = ",".join(runs[f"run{i}"] for i in range(3))
    body = await get(jp_fetch, "compare", runs=ids, metrics="loss")
    (chart,) = body["charts"]
    assert chart["name"] == "loss"
    assert [s["run"] for s in chart["series"]] == [runs[f"run{i}"] for i in range(3)]
    assert chart["series"][1]["y"] == [1.0 / (s + 2) for s in range(5)]


async def test_stats_columns(jp_fetch, runs) -> None:
    body = await get(jp_fetch, "runs", experiment="train", parent="none", stats="*")
    run2 = body["runs"][0]
    assert run2["metrics"]["loss"]["max"] == pytest.approx(1 / 3)
    assert run2["metrics"]["alpha"]["last"] == pytest.approx(0.2)
    body = await get(jp_fetch, "runs", experiment="train", stats="primary", parent="none")
    assert body["runs"][0]["primary_metric"] == {"name": "loss", "value": pytest.approx(1 / 7)}


async def test_every_endpoint_needs_the_token(jp_fetch, runs) -> None:
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
            await jp_fetch("runwidget", "api", *path, headers={"Authorization": ""})
            pytest.fail(f"{path} answered without a token")
        assert e.value.code == 403, path
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(
            "runwidget", "api", "runs", run_id, "cancel", method="POST", body=b"",
            headers={"Authorization": ""},
        )  # fmt: skip
    assert e.value.code == 403
    # A page without login goes to Jupyter's login page.
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(
            "runwidget", "runs", run_id, headers={"Authorization": ""}, follow_redirects=False
        )
    assert e.value.code == 302
    assert "/login" in e.value.response.headers["Location"]


async def _login_cookies(jp_fetch) -> dict[str, str]:
    """Log in as a browser does (token once, then the cookie) and get Jupyter's cookies."""
    response = await jp_fetch("runwidget", "")  # a page: sets the login and _xsrf cookies
    cookies: dict[str, str] = {}
    for header in response.headers.get_list("Set-Cookie"):
        for name, morsel in SimpleCookie(header).items():
            cookies[name] = morsel.value
    assert "_xsrf" in cookies and any(n.startswith("username-") for n in cookies)
    return cookies


async def test_cancel_needs_xsrf(jp_fetch, runs, api_store) -> None:
    run_id = runs["evil"]
    cookies = await _login_cookies(jp_fetch)
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    no_token = {"Authorization": "", "Cookie": cookie}
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch("runwidget", "api", "runs", run_id, "cancel", method="POST", body=b"",
                       headers=no_token)  # fmt: skip
    assert e.value.code == 403
    assert Workspace(api_store).store.get_run(run_id).status == st.RUNNING

    with_xsrf = {**no_token, "X-XSRFToken": cookies["_xsrf"]}
    response = await jp_fetch(
        "runwidget", "api", "runs", run_id, "cancel", method="POST", body=b"", headers=with_xsrf
    )
    assert json.loads(response.body)["status"] == st.CANCELED
    assert Workspace(api_store).store.get_run(run_id).status == st.CANCELED


async def test_portal_page_passes_url_values_as_data(jp_fetch, runs) -> None:
    response = await jp_fetch("runwidget", "runs", "<script>x&")
    html = response.body.decode()
    assert "<script>x" not in html
    assert "\\u003cscript\\u003ex\\u0026" in html
    assert '"page":"run"' in html
