"""What both web servers must hold to over real HTTP: JSON that carries NaN, no open redirect,
no token in a log line, security headers and the Host check on the standalone portal, and a
Jupyter server that starts at once when its run store never answers."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import logging
import math
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import quote, urlencode

import pytest

# pytest-jupyter's fixtures, for this module only (see tests/test_server_api.py).
from pytest_jupyter.jupyter_core import *  # noqa: F403
from pytest_jupyter.jupyter_server import *  # noqa: F403
from pytest_jupyter.pytest_tornasync import *  # noqa: F403
from tornado.httpclient import HTTPClientError

from runwidget import Experiment, Workspace
from runwidget.server.handlers import _finite, json_text
from runwidget.server.standalone import serve
from tests import test_server_api as _api

# The Jupyter server and its fixtures, as tests/test_server_api.py sets them up.
jp_asyncio_loop = _api.jp_asyncio_loop
jp_server_config = _api.jp_server_config
_forget_announcement = _api._forget_announcement
api_store = _api.api_store
fetch = _api.fetch

TOKEN = "portal-token-5f0c2a9e"
NAN, INF = float("nan"), float("inf")


# -- shared helpers -----------------------------------------------------------------------
@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> dict:
        assert self.headers["Content-Type"].startswith("application/json"), self.headers
        return json.loads(self.body)


@dataclass
class Portal:
    """A standalone portal serving in a thread of this process."""

    host: str
    port: int

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        host_header: str | None = None,
    ) -> Answer:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host_header or f"{self.host}:{self.port}")
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            return Answer(response.status, response.headers, response.read())
        finally:
            conn.close()

    def get(self, path: str, **kwargs) -> Answer:
        return self.request("GET", path, **kwargs)

    def api(self, *path: str, **params: str) -> Answer:
        query = f"?{urlencode(params)}" if params else ""
        parts = "/".join(quote(p, safe="") for p in path)
        return self.get(
            f"/runwidget/api/{parts}{query}", headers={"Authorization": f"token {TOKEN}"}
        )


@contextlib.contextmanager
def running_portal(store_uri: str, host: str = "127.0.0.1") -> Iterator[Portal]:
    """``runwidget portal`` (its ``serve``) on a free port, in a thread with its own loop."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict = {}

    def ready(url: str) -> None:
        box["url"] = url
        started.set()

    def main() -> None:
        asyncio.set_event_loop(loop)
        box["task"] = loop.create_task(
            serve(store_uri, host=host, port=0, token=TOKEN, ready=ready)
        )
        try:
            loop.run_until_complete(box["task"])
        except asyncio.CancelledError:
            pass
        except BaseException as e:  # noqa: BLE001 (reported to the test below)
            box["error"] = e
            started.set()
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="portal", daemon=True)
    thread.start()
    assert started.wait(60), "the portal did not start"
    if "error" in box:
        raise box["error"]
    port = int(box["url"].split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    try:
        yield Portal(host, port)
    finally:
        loop.call_soon_threadsafe(box["task"].cancel)
        thread.join(10)


class LogLines(logging.Handler):
    """Every record of some loggers, formatted, while in use."""

    def __init__(self, *loggers: logging.Logger) -> None:
        super().__init__(logging.DEBUG)
        self.loggers = loggers
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def __enter__(self) -> LogLines:
        self._levels = [log.level for log in self.loggers]
        for log in self.loggers:
            log.addHandler(self)
            log.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        for log, level in zip(self.loggers, self._levels, strict=True):
            log.removeHandler(self)
            log.setLevel(level)


def _web_loggers() -> list[logging.Logger]:
    names = ("tornado", "tornado.access", "tornado.general", "tornado.application", "runwidget")
    return [logging.getLogger(n) for n in names]


@pytest.fixture
def nan_run(api_store: str) -> str:
    """A finished run whose tag, property and metric values are NaN and infinities."""
    run = Experiment(Workspace(api_store), "nan").start_logging(display_name="diverged")
    run.set_tags({"lr": NAN, "clip": INF})
    run.add_properties({"best": -INF})
    for value in (1.0, -INF, 0.5, INF, NAN):
        run.log("loss", value)
    run.log("acc", 0.25)
    run.complete()
    return run.id


@pytest.fixture
def portal(api_store: str) -> Iterator[Portal]:
    Experiment(Workspace(api_store), "standalone").start_logging(display_name="r").complete()
    with running_portal(api_store) as p:
        yield p


# -- 1. NaN and infinities in every JSON answer ---------------------------------------------
def _get(fetch, *path: str, **params: str) -> dict:
    response = fetch("runwidget", "api", *path, params=params)
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


def _one(body: dict, run_id: str) -> dict:
    (row,) = [r for r in body["runs"] if r["id"] == run_id]
    return row


@pytest.mark.parametrize(
    "data",
    [
        {"runs": [{"id": "a", "m": {"loss": {"last": math.nan, "min": -math.inf}}}, {"id": "b"}]},
        [1.5, [math.inf, "NaN", ":NaN,"], {"k": (math.nan,)}, None, True, "é\u2028<b>"],
        {"finite": 0.1, "deep": [[[[-math.inf]]]], "text": 'a "quoted" \\ NaN'},
        {1: math.nan, "x": [math.nan]},  # a key JSON turns into a string
        {'say "hi" \\ é': {"<b>\n": math.inf}},  # keys escaped as JSON escapes them
        math.nan,
        {"no": ["non-finite", 1e308, -0.0]},
    ],
)
def test_json_text_is_the_json_of_its_data_with_non_finite_numbers_as_strings(data) -> None:
    expected = json.dumps(_finite(data), allow_nan=False, separators=(",", ":"))
    assert json_text(data) == expected
    assert json.loads(json_text(data)) == json.loads(expected)


def test_nan_tag_in_run_list(fetch, nan_run) -> None:
    row = _one(_get(fetch, "runs"), nan_run)
    assert row["tags"] == {"lr": "NaN", "clip": "Infinity"}
    assert _one(_get(fetch, "runs", q="diverged"), nan_run)["tags"]["lr"] == "NaN"
    assert _get(fetch, "runs", nan_run)["tags"] == {"lr": "NaN", "clip": "Infinity"}


def test_nan_property_in_run_details(fetch, nan_run) -> None:
    detail = _get(fetch, "runs", nan_run)
    assert detail["properties"]["best"] == "-Infinity"


def test_nan_metric_last_in_stats(fetch, nan_run) -> None:
    # The last value logged is NaN: the list says so rather than show an older number.
    row = _one(_get(fetch, "runs", stats="primary"), nan_run)
    assert row["primary_metric"] == {"name": "loss", "value": "NaN"}
    assert _one(_get(fetch, "runs", stats="*"), nan_run)["metrics"]["loss"]["last"] == "NaN"
    assert _get(fetch, "runs", nan_run)["metrics"]["loss"]["last"] == "NaN"


def test_infinite_metric_min_and_max_in_stats(fetch, nan_run) -> None:
    stats = _one(_get(fetch, "runs", stats="loss,acc"), nan_run)["metrics"]
    assert stats["loss"] == {"last": "NaN", "min": "-Infinity", "max": "Infinity", "count": 5}
    assert stats["acc"] == {"last": 0.25, "min": 0.25, "max": 0.25, "count": 1}


def test_nan_in_the_other_run_endpoints(fetch, nan_run) -> None:
    # Every endpoint that names a run (its row holds the tags) answers.
    view = _get(fetch, "runs", nan_run, "view")
    assert view["snapshot"]["header"]["display_name"] == "diverged"
    compare = _get(fetch, "compare", runs=nan_run)
    assert compare["runs"][0]["tags"]["lr"] == "NaN"
    changed = _get(fetch, "runs", since="0")
    assert _one(changed, nan_run)["tags"]["clip"] == "Infinity"


def test_nan_on_the_standalone_portal(nan_run, portal) -> None:
    body = portal.api("runs", stats="primary").json()
    row = _one(body, nan_run)
    assert row["tags"]["lr"] == "NaN" and row["primary_metric"]["value"] == "NaN"
    detail = portal.api("runs", nan_run).json()
    assert detail["properties"]["best"] == "-Infinity"
    assert detail["metrics"]["loss"]["max"] == "Infinity"


# -- 2. No open redirect from the portal's login page --------------------------------------
HOME = "/runwidget/"
OFF_SITE = [
    "/%5Cevil.example/",  # /\evil.example/: browsers read \ as /
    "/%5C%5Cevil.example/",
    "%5C%5Cevil.example/",
    "/%255Cevil.example/",  # an encoded backslash once the argument is decoded
    "//evil.example/",
    "%2F%2Fevil.example/",
    "/%2F/evil.example/",
    "/%2F%2Fevil.example/",
    "///evil.example/",
    "/%09/evil.example/",  # browsers drop tabs and newlines: //evil.example/
    "/%0A/evil.example/",
    "/%0D%0ASet-Cookie:%20x=1",
    "https://evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    "evil.example",
    "%20//evil.example/",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_login_never_redirects_off_site(portal, target) -> None:
    answer = portal.get(
        f"/runwidget/login?next={target}", headers={"Authorization": f"token {TOKEN}"}
    )
    assert answer.status == 302
    assert answer.headers["Location"] == HOME


def test_login_redirects_to_a_path_here(portal) -> None:
    path = "/runwidget/runs/a%20b?x=1"
    answer = portal.get(
        f"/runwidget/login?next={quote(path, safe='')}", headers={"Authorization": f"token {TOKEN}"}
    )
    assert answer.status == 302 and answer.headers["Location"] == path


def test_login_form_post_never_redirects_off_site(portal) -> None:
    form = portal.get("/runwidget/login")
    assert form.status == 200
    cookies = SimpleCookie()
    for header in form.headers.get_all("Set-Cookie") or ():
        cookies.load(header)
    xsrf = cookies["_xsrf"].value
    for target in ("/\\evil.example/", "/%5Cevil.example/", "//evil.example/"):
        body = urlencode({"token": TOKEN, "_xsrf": xsrf, "next": target}).encode()
        answer = portal.request(
            "POST",
            "/runwidget/login",
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"_xsrf={xsrf}",
            },
        )
        assert answer.status == 302, answer.body
        assert answer.headers["Location"] == HOME, target


# -- 3. No token in a log line --------------------------------------------------------------
def test_standalone_portal_logs_no_token(portal) -> None:
    with LogLines(*_web_loggers()) as logs:
        assert portal.get(f"/runwidget/?token={TOKEN}").status == 302  # drops it from the URL
        assert portal.get(f"/runwidget/api/runs?token={TOKEN}").status == 200
        assert portal.get(f"/runwidget/api/runs/nope?token={TOKEN}&x=1").status == 404
        assert portal.get(f"/runwidget/api/nowhere?token={TOKEN}").status == 404
        assert portal.get(f"/runwidget/static/portal.css?token={TOKEN}").status in (200, 404)
        assert portal.get(f"/runwidget/login?next=%2Frunwidget%2F%3Ftoken%3D{TOKEN}").status == 200
    text = "\n".join(logs.lines)
    assert "/runwidget/api/runs/nope" in text  # the requests were logged
    assert TOKEN not in text
    assert "token=[redacted]" in text


def test_jupyter_logs_no_token(fetch, jp_serverapp, runs_store) -> None:
    token = jp_serverapp.identity_provider.token
    assert token
    no_header = {"Authorization": ""}
    with LogLines(*_web_loggers(), jp_serverapp.log) as logs:
        with pytest.raises(HTTPClientError) as e:
            fetch("runwidget", "api", "runs", "nope", params={"token": token}, headers=no_header)
        assert e.value.code == 404
        with pytest.raises(HTTPClientError) as e:
            fetch("runwidget", "api", "runs", params={"token": token, "limit": "x"},
                  headers=no_header)  # fmt: skip
        assert e.value.code == 400
    text = "\n".join(logs.lines)
    assert "/runwidget/api/runs/nope" in text
    assert token not in text


@pytest.fixture
def runs_store(api_store: str) -> str:
    Experiment(Workspace(api_store), "logs").start_logging(display_name="r").complete()
    return api_store


# -- 4. The standalone portal's headers and Host check -------------------------------------
def _has_security_headers(answer: Answer, what: str) -> None:
    assert answer.headers.get("X-Content-Type-Options") == "nosniff", what
    policy = answer.headers.get("Content-Security-Policy") or ""
    assert "default-src" in policy and "frame-ancestors" in policy, (what, policy)


def test_every_standalone_answer_has_security_headers(portal) -> None:
    auth = {"Authorization": f"token {TOKEN}"}
    cases = {
        "page": (portal.get("/runwidget/", headers=auth), 200),
        "page without token": (portal.get("/runwidget/"), 302),
        "root redirect": (portal.get("/"), 301),
        "login form": (portal.get("/runwidget/login"), 200),
        "api": (portal.get("/runwidget/api/runs", headers=auth), 200),
        "api 403": (portal.get("/runwidget/api/runs"), 403),
        "api 404": (portal.get("/runwidget/api/runs/nope", headers=auth), 404),
        "api 400": (portal.get("/runwidget/api/runs?limit=x", headers=auth), 400),
        "no such path": (portal.get("/elsewhere", headers=auth), 404),
        "static": (portal.get("/runwidget/static/favicon.svg"), 200),
        "bad host": (portal.get("/runwidget/", headers=auth, host_header="evil.example"), 403),
    }
    for what, (answer, status) in cases.items():
        assert answer.status == status, (what, answer.status)
        _has_security_headers(answer, what)
    page = cases["page"][0].headers["Content-Security-Policy"]
    assert "script-src 'self'" in page and "object-src 'none'" in page
    assert "default-src 'none'" in cases["api"][0].headers["Content-Security-Policy"]


def test_jupyter_and_standalone_share_one_policy(fetch, portal, runs_store) -> None:
    from runwidget.server.app import API_POLICY, PAGE_POLICY

    jupyter_page = fetch("runwidget", "").headers["Content-Security-Policy"]
    jupyter_api = fetch("runwidget", "api", "runs").headers["Content-Security-Policy"]
    assert jupyter_page.startswith(PAGE_POLICY) and jupyter_api.startswith(API_POLICY)
    auth = {"Authorization": f"token {TOKEN}"}
    assert portal.get("/runwidget/", headers=auth).headers["Content-Security-Policy"] == PAGE_POLICY
    assert portal.api("runs").headers["Content-Security-Policy"] == API_POLICY


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:8777", "127.0.0.1.evil.example", "localhost.evil", "[::2]"],
)
def test_standalone_refuses_other_hosts(portal, host) -> None:
    for path in ("/runwidget/", "/runwidget/api/runs", "/runwidget/static/portal.css", "/"):
        answer = portal.get(path, headers={"Authorization": f"token {TOKEN}"}, host_header=host)
        assert answer.status == 403, (host, path)
        assert b"evil" not in answer.body


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"])
def test_standalone_accepts_loopback_names(portal, host) -> None:
    for host_header in (host, f"{host}:{portal.port}", f"{host}:1234"):
        answer = portal.get("/runwidget/api/status", headers={"Authorization": f"token {TOKEN}"},
                            host_header=host_header)  # fmt: skip
        assert answer.status == 200, host_header


def test_standalone_accepts_the_host_it_binds(api_store) -> None:
    with running_portal(api_store, host="127.0.0.2") as p:
        auth = {"Authorization": f"token {TOKEN}"}
        assert p.get("/runwidget/api/status", headers=auth).status == 200  # Host: 127.0.0.2:port
        assert p.get("/runwidget/api/status", headers=auth, host_header="127.0.0.2").status == 200
        assert p.get("/runwidget/api/status", headers=auth, host_header="127.0.0.3").status == 403


# -- 5. A store that never answers does not hold up Jupyter --------------------------------
@pytest.fixture
def silent_listener() -> Iterator[socket.socket]:
    """A TCP socket that takes connections in and never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server


def _connected(listener: socket.socket) -> bool:
    """Whether someone connected to ``listener`` (its backlog holds a connection)."""
    return bool(select.select([listener], [], [], 0)[0])


class TestStoreThatNeverAnswers:
    @pytest.fixture
    def api_store(self, silent_listener: socket.socket, monkeypatch: pytest.MonkeyPatch) -> str:
        monkeypatch.setenv("RUNWIDGET_CONNECT_TIMEOUT", "2")
        port = silent_listener.getsockname()[1]
        return f"postgresql+psycopg://u:hunter2@127.0.0.1:{port}/db"

    @pytest.fixture
    def jp_server_config(self, api_store: str):
        return {
            "ServerApp": {"jpserver_extensions": {"runwidget.server": True}},
            "RunwidgetServer": {"store": api_store},
        }

    def test_server_starts_and_answers_503(
        self, request: pytest.FixtureRequest, silent_listener: socket.socket
    ) -> None:
        started = time.monotonic()
        fetch = request.getfixturevalue("fetch")  # starts the Jupyter server
        status = json.loads(fetch("api", "status").body)
        assert "started" in status
        assert not _connected(silent_listener), "the store was opened while Jupyter started"
        assert time.monotonic() - started < 10
        port = silent_listener.getsockname()[1]

        for path in (("runs",), ("experiments",), ("runs", "some-run", "view")):
            asked = time.monotonic()
            with pytest.raises(HTTPClientError) as e:
                fetch("runwidget", "api", *path, params={"stats": "primary"})
            took = time.monotonic() - asked
            assert e.value.code == 503, path
            assert took < 2 + 3, f"{path} took {took:.1f} s"
            body = json.loads(e.value.response.body)
            assert f"127.0.0.1:{port}/db" in body["error"], body
            assert "hunter2" not in e.value.response.body.decode()
            assert body["message"] == body["error"]
        assert _connected(silent_listener)  # the first request tried to open it

        # The portal's pages need no store: they load, and say what is wrong from the API.
        assert fetch("runwidget", "").code == 200
        assert json.loads(fetch("api", "status").body)["started"]


def test_store_opened_on_first_request(fetch, jp_serverapp, api_store) -> None:
    # The store is opened by the first request, and a store made after the start is read.
    Experiment(Workspace(api_store), "first").start_logging(display_name="r").complete()
    body = _get(fetch, "runs")
    assert [r["experiment"] for r in body["runs"]] == ["first"]
    status = _get(fetch, "status")
    assert status["runs"] == 1 and status["store"] == api_store


class TestStoreOfUnknownKind:
    @pytest.fixture
    def api_store(self) -> str:
        return "mongodb://u:pw-8c1f@db.example/runs"

    @pytest.fixture
    def jp_server_config(self, api_store: str):
        return {
            "ServerApp": {"jpserver_extensions": {"runwidget.server": True}},
            "RunwidgetServer": {"store": api_store},
        }

    def test_api_says_why(self, fetch) -> None:
        with pytest.raises(HTTPClientError) as e:
            fetch("runwidget", "api", "runs")
        assert e.value.code == 503
        body = json.loads(e.value.response.body)
        assert "unknown run store URI" in body["error"] and "db.example" in body["error"]
        assert "pw-8c1f" not in e.value.response.body.decode()
