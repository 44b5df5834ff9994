"""Alerts: raised by the user, by a failure, a stall or a NaN; stored once; POSTed to a webhook."""

from __future__ import annotations

import json
import math
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from runwidget import Experiment, ScriptRunConfig, Workspace
from runwidget import status as st
from runwidget.errors import InvalidValueError
from runwidget.store import SqlStore
from runwidget.tracking import alerts


@pytest.fixture
def experiment(tmp_path: Path) -> Experiment:
    return Experiment(Workspace(f"sqlite:///{tmp_path / 'runs.db'}"), "alerts")


class Receiver:
    """A real HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0, code: int = 503) -> None:
        self.bodies: list[dict] = []
        self.attempts = 0
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                received.attempts += 1
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if delay:
                    time.sleep(delay)
                if received.attempts <= fail_first:
                    self.send_response(code)
                    self.end_headers()
                    return
                assert self.headers["Content-Type"] == "application/json"
                received.bodies.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, n: int, timeout: float = 20) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.bodies) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.bodies

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _drain():
    # Every alert of this test's stores is stored (and posted) by its end. Stores of earlier
    # tests are left alone: one that a test took down still retries its alerts, as it should.
    sender = alerts.default_sender()
    before = set(sender._stores)
    yield
    deadline = time.monotonic() + 30
    for uri, worker in list(sender._stores.items()):
        if uri not in before:
            assert worker.flush(deadline), uri
    assert sender._posts.flush(deadline)


def test_user_alerts_are_stored_with_the_run(experiment):
    run = experiment.start_logging(outputs=False)
    run.alert("Validation loss rose", "from 0.2 to 0.5", level="error")
    run.alert("Halfway there")
    run.alert("FYI", level="info")
    got = run.get_alerts()
    assert [(a["title"], a["text"], a["level"], a["kind"]) for a in got] == [
        ("Validation loss rose", "from 0.2 to 0.5", "error", "user"),
        ("Halfway there", "", "warn", "user"),
        ("FYI", "", "info", "user"),
    ]
    assert all(abs(a["time"] - time.time()) < 30 for a in got)
    run.complete()
    assert len(run.get_alerts()) == 3  # completing raises none


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (
            ("t", "", "warning"),
            r"alert level must be one of 'info', 'warn', 'error', got 'warning'",
        ),
        (("t", "", None), r"alert level must be one of .* got None"),
        (("", ""), r"alert title must be a non-empty string, got ''"),
        ((3,), r"alert title must be a non-empty string, got 3"),
        (("t", 5), r"alert text must be a string, got int: 5"),
    ],
)
def test_a_bad_alert_is_refused_clearly(experiment, args, match):
    run = experiment.start_logging(outputs=False)
    with pytest.raises(InvalidValueError, match=match):
        run.alert(*args)
    assert run.get_alerts() == []
    run.complete()


def test_a_metric_gone_nan_or_infinite_is_alerted_once_per_metric(experiment):
    run = experiment.start_logging(outputs=False)
    run.log("loss", 0.5)
    run.log("loss", math.nan)
    run.log("loss", math.nan)
    run.log("loss", math.inf)
    run.log("grad_norm", -math.inf)
    run.log("acc", 0.9)
    # Another process logging the same run (a second Run object) does not alert again.
    again = experiment.workspace and type(run)(experiment, run.id)
    again.log("loss", math.nan)
    run.complete()
    got = run.get_alerts()
    assert [(a["kind"], a["title"], a["level"]) for a in got] == [
        ("nan", "Metric loss is NaN", "warn"),
        ("nan", "Metric grad_norm is -infinite", "warn"),
    ]
    assert math.isnan(run.get_metrics()["loss"][1])  # the value is kept as logged


def test_a_failed_interactive_run_is_alerted(experiment):
    run = experiment.start_logging(display_name="trainer", outputs=False)
    with pytest.raises(ZeroDivisionError), run:
        _ = 1 / 0
    assert run.get_status() == st.FAILED
    got = run.get_alerts()
    assert [(a["kind"], a["level"], a["title"]) for a in got] == [
        ("failed", "error", "Run trainer failed")
    ]
    assert "ZeroDivisionError" in got[0]["text"]
    done = experiment.start_logging(outputs=False)
    done.complete()
    canceled = experiment.start_logging(outputs=False)
    canceled.cancel()
    assert done.get_alerts() == [] and canceled.get_alerts() == []


def test_a_failed_submitted_script_is_alerted_by_its_supervisor(tmp_path, submitted):
    src = tmp_path / "src"
    src.mkdir()
    (src / "bad.py").write_text("raise RuntimeError('diverged')\n")
    experiment = Experiment(Workspace(f"sqlite:///{tmp_path / 'runs.db'}"), "scripts")
    run = experiment.submit(ScriptRunConfig(src, "bad.py"))
    run.wait_for_completion(raise_on_error=False)
    deadline = time.monotonic() + 20
    while not run.get_alerts() and time.monotonic() < deadline:
        time.sleep(0.2)
    got = run.get_alerts()
    assert [(a["kind"], a["level"]) for a in got] == [("failed", "error")]
    assert "RuntimeError: diverged" in got[0]["text"]


def test_the_watch_alerts_a_run_that_stops_responding_once_per_stall(experiment, monkeypatch):
    monkeypatch.setenv("RUNWIDGET_HEARTBEAT_TIMEOUT", "1")
    store = experiment.workspace.store
    stalled = store.create_run("alerts", status=st.RUNNING, started=time.time() - 100)
    fresh = store.create_run("alerts", status=st.RUNNING, started=time.time())
    watch = alerts.AlertWatch(store)
    watch.check(force=True)
    watch.check(force=True)
    assert alerts.flush(10, store=store)
    got = store.read_alerts(stalled.id)
    assert [(a.kind, a.level) for a in got] == [("not_responding", "warn")]
    assert got[0].title == f"Run {stalled.display_name} is not responding"
    assert store.read_alerts(fresh.id) == []
    # It beats again, then stalls again: a second alert.
    store.beat([stalled.id], time.time() - 50)
    watch.check(force=True)
    assert alerts.flush(10, store=store)
    assert len(store.read_alerts(stalled.id)) == 2
    # Checks are at most every `interval` seconds unless forced.
    watch.check()
    assert alerts.flush(10, store=store)
    assert len(store.read_alerts(stalled.id)) == 2


def test_the_watch_alerts_runs_failed_by_something_else_but_not_old_failures(experiment):
    store = experiment.workspace.store
    old = store.create_run("alerts", status=st.RUNNING, started=time.time())
    store.update_run(old.id, status=st.FAILED, ended=time.time() - 3600,
                     error={"message": "long ago"})  # fmt: skip
    watch = alerts.AlertWatch(store)
    watch.check(force=True)
    new = store.create_run("alerts", status=st.RUNNING, started=time.time())
    store.update_run(new.id, status=st.FAILED, ended=time.time(), error={"message": "oom"})
    watch.check(force=True)
    assert alerts.flush(10, store=store)
    assert store.read_alerts(old.id) == []
    got = store.read_alerts(new.id)
    assert [(a.kind, a.text) for a in got] == [("failed", "oom")]


def test_alerts_are_posted_to_the_webhook(experiment, monkeypatch):
    receiver = Receiver(fail_first=1)  # the first attempt is refused: it is tried again
    monkeypatch.setenv("RUNWIDGET_ALERT_WEBHOOK", receiver.url)
    monkeypatch.setattr(alerts, "WEBHOOK_ATTEMPTS", 3)
    try:
        run = experiment.start_logging(display_name="webhooked", outputs=False)
        run.alert("Check this", "some text", level="info")
        run.log("loss", math.nan)
        run.fail("boom")
        bodies = receiver.wait_for(3)
    finally:
        receiver.close()
    assert receiver.attempts == 4
    by_kind = {b["kind"]: b for b in bodies}
    assert set(by_kind) == {"user", "nan", "failed"}
    user = by_kind["user"]
    assert {k: user[k] for k in ("run_id", "title", "text", "level", "experiment",
                                  "display_name")} == {  # fmt: skip
        "run_id": run.id, "title": "Check this", "text": "some text", "level": "info",
        "experiment": "alerts", "display_name": "webhooked",
    }  # fmt: skip
    assert user["url"].endswith(f"/runs/{run.id}")
    assert by_kind["failed"]["text"] == "boom" and by_kind["failed"]["level"] == "error"


def test_a_slow_or_dead_webhook_never_blocks_training(experiment, monkeypatch):
    receiver = Receiver(delay=3.0)
    monkeypatch.setenv("RUNWIDGET_ALERT_WEBHOOK", receiver.url)
    try:
        run = experiment.start_logging(outputs=False)
        started = time.perf_counter()
        for i in range(20):
            run.alert(f"alert {i}")
            run.log("loss", math.nan if i == 3 else 0.1)
        took = time.perf_counter() - started
        assert took < 2.5, took  # one alert waited on would cost 3 s, twenty 60 s
        run.complete()
    finally:
        receiver.close()
    # Nowhere to send to: stored all the same, the failure logged, not raised.
    monkeypatch.setenv("RUNWIDGET_ALERT_WEBHOOK", "http://127.0.0.1:9/nothing-listens")
    monkeypatch.setattr(alerts, "WEBHOOK_ATTEMPTS", 2)
    other = experiment.start_logging(outputs=False)
    other.alert("unsent")
    assert [a["title"] for a in other.get_alerts()] == ["unsent"]
    other.complete()


@pytest.mark.parametrize(("code", "attempts"), [(503, 2), (429, 2), (400, 1), (404, 1)])
def test_a_failing_webhook_is_retried_unless_it_refuses(monkeypatch, code, attempts):
    monkeypatch.setattr(alerts, "WEBHOOK_ATTEMPTS", 2)
    receiver = Receiver(fail_first=10, code=code)
    try:
        assert alerts.post_webhook(receiver.url, {"title": "x"}) is False
    finally:
        receiver.close()
    assert receiver.attempts == attempts


def test_a_bad_webhook_setting_does_not_lose_the_alert(experiment, monkeypatch):
    monkeypatch.setenv("RUNWIDGET_ALERT_WEBHOOK", "not a url")
    run = experiment.start_logging(outputs=False)
    run.alert("kept")
    assert [a["title"] for a in run.get_alerts()] == ["kept"]
    run.complete()


def test_a_script_can_raise_alerts_from_inside(tmp_path, submitted):
    src = tmp_path / "src"
    src.mkdir()
    (src / "warns.py").write_text(
        textwrap.dedent(
            """
            from runwidget import Run
            run = Run.get_context()
            run.alert("from the script", "text", level="error")
            """
        )
    )
    experiment = Experiment(Workspace(f"sqlite:///{tmp_path / 'runs.db'}"), "scripts")
    run = experiment.submit(ScriptRunConfig(src, "warns.py"))
    run.wait_for_completion(raise_on_error=True)
    assert [(a["title"], a["kind"]) for a in run.get_alerts()] == [("from the script", "user")]


def test_the_view_model_shows_alerts_as_they_come(experiment):
    from runwidget.sources.store import StoreSource
    from runwidget.view import RunView, apply_delta

    run = experiment.start_logging(outputs=False)
    view = RunView(StoreSource(experiment.workspace.store, run.id))
    view.refresh()
    before = view.snapshot()
    assert "alerts" not in before
    run.alert("Look", "here", level="error")
    run.get_alerts()
    delta = view.refresh()
    assert delta is not None
    assert [(a["title"], a["level"], a["kind"]) for a in delta["alerts"]] == [
        ("Look", "error", "user")
    ]
    after = view.snapshot()
    assert after["alerts"] == delta["alerts"]
    assert apply_delta(before, delta)["alerts"] == after["alerts"]
    again = view.refresh()
    assert again is None or "alerts" not in again
    run.complete()


def test_the_saved_notebooks_summary_shows_alerts_and_system_apart(experiment):
    from runwidget.sources.store import StoreSource
    from runwidget.view import RunView, summary_html

    run = experiment.start_logging(system_metrics=0.1, outputs=False)
    run.log("loss", 0.5)
    run.log("loss", 0.25)
    run.alert("<b>look</b>", "a & b", level="error")
    time.sleep(0.4)
    run.complete()
    run.get_alerts()
    view = RunView(StoreSource(experiment.workspace.store, run.id))
    view.refresh()
    html = summary_html(view.snapshot())
    assert "&lt;b&gt;look&lt;/b&gt;" in html and "a &amp; b" in html and "<b>look" not in html
    assert "#c62828" in html  # drawn as an error
    assert ">System</th>" in html and ">process_memory_rss_megabytes<" in html
    metric_table = html.split(">System</th>")[0]
    assert "system/" not in metric_table  # not among the metrics


def test_an_alert_that_cannot_be_stored_holds_up_no_other_stores_alerts(
    experiment, tmp_path, monkeypatch
):
    # An alert for a run its store does not have is retried (its run may still be on its
    # way) for RUN_WAIT_FOR seconds; another store's alerts are stored meanwhile.
    monkeypatch.setattr(alerts, "RUN_WAIT_FOR", 3.0)
    other = SqlStore(f"sqlite:///{tmp_path}/other.db")
    alerts.default_sender().send(other, "no-such-run", kind="user", level="warn", title="lost")
    run = experiment.start_logging(outputs=False)
    run.alert("stored anyway")
    started = time.monotonic()
    assert [a["title"] for a in run.get_alerts()] == ["stored anyway"]
    assert time.monotonic() - started < 5
    assert not alerts.flush(0.5, store=other)  # still trying, in its own thread
    assert alerts.flush(10, store=other)  # then given up
