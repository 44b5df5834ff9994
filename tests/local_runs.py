"""Helpers for tests that start supervised local runs (scripts, AutoML searches)."""

from __future__ import annotations

import os
import signal
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runwidget import Experiment, Run, RunwidgetError
from runwidget import status as st
from runwidget.execution._process import ProcessId

TERMINAL = (st.COMPLETED, st.FAILED, st.CANCELED)


def isolate_local_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, config_class: type, heartbeat: str
) -> list[Run]:
    """Keep the test's local runs' files in its temp dir, beat fast, and record every run
    submitted through ``config_class`` (so that ``stop_left_running`` can end them)."""
    monkeypatch.setenv("RUNWIDGET_EXEC_DIR", str(tmp_path / "exec"))
    monkeypatch.setenv("RUNWIDGET_MAX_LOCAL_RUNS", "8")
    monkeypatch.setenv("RUNWIDGET_HEARTBEAT_INTERVAL", heartbeat)
    submitted: list[Run] = []
    original = config_class.submit_to

    def tracked(self, experiment: Experiment, tags=None) -> Run:
        run = original(self, experiment, tags=tags)
        submitted.append(run)
        return run

    monkeypatch.setattr(config_class, "submit_to", tracked)
    return submitted


def stop_left_running(runs: list[Run], *, script_group: bool = False) -> None:
    """Kill the processes of runs a failing test left running. With ``script_group``, the
    script's whole process group (an AutoML search and its iteration process)."""
    for run in runs:
        try:
            properties = run._store.get_run(run.id).properties
        except RunwidgetError:  # the test's database is already gone
            continue
        for who in ("script", "supervisor"):
            process = ProcessId.from_properties(properties, who)
            if process is None or not process.local or not process.alive():
                continue
            if who == "script" and script_group:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                os.kill(process.pid, signal.SIGKILL)


def wait_until(
    condition: Callable[[], object], timeout: float = 60, what: str = "", every: float = 0.02
) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(every)


def wait_ended(run: Run, timeout: float = 60) -> str:
    wait_until(lambda: run.get_status() in TERMINAL, timeout, f"run {run.id} to end")
    return run.get_status()


def script(folder: Path, code: str, name: str = "train.py") -> Path:
    """``folder`` holding the script ``name`` with ``code`` (dedented)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(code))
    return folder
