"""The standalone portal in several processes (``runwidget portal --processes N``): every
process answers, a login made with one holds with the others, and the portal stops as one."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from runwidget.store import SqlStore
from runwidget.tracking import _portal
from tests.test_server_hardening import Portal

TOKEN = "processes-token-7d1e"


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def _read_until(proc: subprocess.Popen, pattern: str, timeout: float = 60) -> re.Match:
    """The first line of the portal's output that matches, read in a thread (a portal that
    says nothing fails the test instead of hanging it)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    end, seen = time.monotonic() + timeout, ""
    while time.monotonic() < end:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen += line
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(f"no {pattern!r} in the portal's output: {seen!r}")


@contextlib.contextmanager
def portal_processes(
    store_uri: str, processes: int = 2
) -> Iterator[tuple[subprocess.Popen, Portal]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "runwidget", "portal", "--store", store_uri, "--port", "0",
         "--token", TOKEN, "--processes", str(processes)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        found = _read_until(proc, r"open http://127\.0\.0\.1:(\d+)/runwidget/")
        yield proc, Portal("127.0.0.1", int(found.group(1)))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stderr.close()


@pytest.fixture
def store_with_a_run(tmp_path) -> tuple[str, str]:
    uri = f"sqlite:///{tmp_path}/runs.db"
    store = SqlStore(uri)
    run = store.create_run("exp", display_name="<b>not bold</b>")
    store.close()
    return uri, run.id


def test_each_process_answers_with_one_login(store_with_a_run) -> None:
    uri, run_id = store_with_a_run
    with portal_processes(uri) as (proc, portal):
        children = _children(proc.pid)
        assert len(children) == 2
        login = portal.get(f"/runwidget/?token={TOKEN}")
        assert login.status == 302, login
        cookie = SimpleCookie(login.headers["Set-Cookie"])
        jar = "; ".join(f"{name}={morsel.value}" for name, morsel in cookie.items())
        # Each process in turn is the only one that can accept: the other is stopped.
        for stopped, answering in (children, reversed(children)):
            os.kill(stopped, signal.SIGSTOP)
            try:
                for _ in range(3):
                    answer = portal.get("/runwidget/api/runs", headers={"Cookie": jar})
                    assert answer.status == 200, answer
                    assert [r["id"] for r in answer.json()["runs"]] == [run_id]
            finally:
                os.kill(stopped, signal.SIGCONT)
            assert _alive(answering)


def test_sigterm_stops_every_process_and_withdraws_the_announcement(store_with_a_run) -> None:
    uri, _ = store_with_a_run
    with portal_processes(uri) as (proc, portal):
        children = _children(proc.pid)
        assert _portal.running_portal(uri) == f"http://127.0.0.1:{portal.port}/runwidget"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not any(_alive(pid) for pid in children)
        assert _portal.running_portal(uri) is None


def test_a_process_that_dies_stops_the_portal_with_an_error(store_with_a_run) -> None:
    uri, _ = store_with_a_run
    with portal_processes(uri) as (proc, _):
        killed, other = _children(proc.pid)
        os.kill(killed, signal.SIGKILL)
        assert proc.wait(timeout=30) != 0
        assert not _alive(other)
        assert f"process {killed} ended" in proc.stderr.read()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--store", "sqlite://", "--processes", "2"], "a store in memory cannot be shared"),
        (["--processes", "-1"], "--processes must be 0 or more"),
        (["--processes", "100000"], "a portal runs in 2 to 64 processes"),
    ],
)
def test_processes_refused_with_a_clear_error(arguments, message) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "runwidget", "portal", "--port", "0", *arguments],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
