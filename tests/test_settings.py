"""Settings from the environment: defaults, good values, bad values, and the README table."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from runwidget import _settings
from runwidget.errors import InvalidValueError

ROOT = Path(__file__).resolve().parent.parent
READERS = {
    "RUNWIDGET_CONNECT_TIMEOUT": _settings.connect_timeout,
    "RUNWIDGET_CANCEL_GRACE": _settings.cancel_grace,
    "RUNWIDGET_MAX_LOCAL_RUNS": _settings.max_local_runs,
    "RUNWIDGET_EXEC_DIR": _settings.exec_dir,
    "RUNWIDGET_KEEP_WORKDIR": _settings.keep_workdir,
    "RUNWIDGET_CLUSTER_LOST_AFTER": _settings.cluster_lost_after,
    "RUNWIDGET_HEARTBEAT_INTERVAL": _settings.heartbeat_interval,
    "RUNWIDGET_HEARTBEAT_TIMEOUT": _settings.heartbeat_timeout,
    "RUNWIDGET_FLUSH_INTERVAL": _settings.flush_interval,
    "RUNWIDGET_MAX_BUFFERED": _settings.max_buffered,
    "RUNWIDGET_EXIT_FLUSH_TIMEOUT": _settings.exit_flush_timeout,
    "RUNWIDGET_MAX_FILE_BYTES": _settings.max_file_bytes,
    "RUNWIDGET_MAX_SNAPSHOT_BYTES": _settings.max_snapshot_bytes,
    "RUNWIDGET_MLFLOW_STALE_AFTER": _settings.mlflow_stale_after,
    "RUNWIDGET_PORTAL_URL": _settings.portal_url,
    "RUNWIDGET_PORTAL_TOKEN": _settings.portal_token,
    "RUNWIDGET_SYSTEM_METRICS_INTERVAL": _settings.system_metrics_interval,
    "RUNWIDGET_ALERT_WEBHOOK": _settings.alert_webhook,
}
DEFAULTS = {
    "RUNWIDGET_CONNECT_TIMEOUT": 10.0,
    "RUNWIDGET_CANCEL_GRACE": 10.0,
    "RUNWIDGET_MAX_LOCAL_RUNS": max(1, os.cpu_count() or 1),
    "RUNWIDGET_EXEC_DIR": Path(tempfile.gettempdir()) / f"runwidget-{os.getuid()}",
    "RUNWIDGET_KEEP_WORKDIR": False,
    "RUNWIDGET_CLUSTER_LOST_AFTER": 90.0,
    "RUNWIDGET_HEARTBEAT_INTERVAL": 15.0,
    "RUNWIDGET_HEARTBEAT_TIMEOUT": 60.0,
    "RUNWIDGET_FLUSH_INTERVAL": 0.5,
    "RUNWIDGET_MAX_BUFFERED": 2_000_000,
    "RUNWIDGET_EXIT_FLUSH_TIMEOUT": 60.0,
    "RUNWIDGET_MAX_FILE_BYTES": 256 * 1024 * 1024,
    "RUNWIDGET_MAX_SNAPSHOT_BYTES": 300 * 1024 * 1024,
    "RUNWIDGET_MLFLOW_STALE_AFTER": 600.0,
    "RUNWIDGET_PORTAL_URL": "http://127.0.0.1:8777/runwidget",
    "RUNWIDGET_PORTAL_TOKEN": None,
    "RUNWIDGET_SYSTEM_METRICS_INTERVAL": 10.0,
    "RUNWIDGET_ALERT_WEBHOOK": None,
}
GOOD = {
    "RUNWIDGET_CONNECT_TIMEOUT": ("2.5", 2.5),
    "RUNWIDGET_CANCEL_GRACE": ("0", 0.0),
    "RUNWIDGET_MAX_LOCAL_RUNS": ("3", 3),
    "RUNWIDGET_EXEC_DIR": ("/tmp/rw-exec/../rw-exec", Path("/tmp/rw-exec").resolve()),
    "RUNWIDGET_KEEP_WORKDIR": ("Yes", True),
    "RUNWIDGET_CLUSTER_LOST_AFTER": ("12", 12.0),
    "RUNWIDGET_HEARTBEAT_INTERVAL": ("0.2", 0.2),
    "RUNWIDGET_HEARTBEAT_TIMEOUT": ("1.5", 1.5),
    "RUNWIDGET_FLUSH_INTERVAL": ("0.1", 0.1),
    "RUNWIDGET_MAX_BUFFERED": ("100", 100),
    "RUNWIDGET_EXIT_FLUSH_TIMEOUT": ("5", 5.0),
    "RUNWIDGET_MAX_FILE_BYTES": ("1024", 1024),
    "RUNWIDGET_MAX_SNAPSHOT_BYTES": ("10", 10),
    "RUNWIDGET_MLFLOW_STALE_AFTER": ("0.5", 0.5),
    "RUNWIDGET_PORTAL_URL": ("https://portal.example/rw/", "https://portal.example/rw"),
    "RUNWIDGET_PORTAL_TOKEN": ("s3cret", "s3cret"),
    "RUNWIDGET_SYSTEM_METRICS_INTERVAL": ("0", 0.0),
    "RUNWIDGET_ALERT_WEBHOOK": ("http://127.0.0.1:9/hook", "http://127.0.0.1:9/hook"),
}
BAD = {
    "RUNWIDGET_CONNECT_TIMEOUT": ("0.5", r"is not a number of seconds >= 1 \(default: 10 s\)"),
    "RUNWIDGET_CANCEL_GRACE": ("soon", r"is not a number of seconds >= 0 \(default: 10 s\)"),
    "RUNWIDGET_MAX_LOCAL_RUNS": ("zero", r"is not a positive integer \(default: the number of"),
    "RUNWIDGET_KEEP_WORKDIR": ("maybe", r"is not one of 1, true, yes, on, 0, false, no, off"),
    "RUNWIDGET_CLUSTER_LOST_AFTER": ("nan", r"is not a number of seconds >= 1"),
    "RUNWIDGET_HEARTBEAT_INTERVAL": ("-1", r"is not a number of seconds >= 0"),
    "RUNWIDGET_HEARTBEAT_TIMEOUT": ("1m", r"is not a number of seconds >= 0"),
    "RUNWIDGET_FLUSH_INTERVAL": ("fast", r"is not a number of seconds >= 0"),
    "RUNWIDGET_MAX_BUFFERED": ("0", r"is not a positive integer \(default: 2,000,000\)"),
    "RUNWIDGET_EXIT_FLUSH_TIMEOUT": ("forever", r"is not a number of seconds >= 0"),
    "RUNWIDGET_MAX_FILE_BYTES": ("1.5", r"is not a whole number of bytes >= 0 \(default: 2684"),
    "RUNWIDGET_MAX_SNAPSHOT_BYTES": ("300MB", r"is not a whole number of bytes >= 0"),
    "RUNWIDGET_MLFLOW_STALE_AFTER": ("-5", r"is not a number of seconds >= 0"),
    "RUNWIDGET_PORTAL_URL": ("portal.example", r"is not an http:// or https:// URL"),
    "RUNWIDGET_SYSTEM_METRICS_INTERVAL": ("often", r"is not a number of seconds >= 0"),
    "RUNWIDGET_ALERT_WEBHOOK": ("/hook", r"is not an http:// or https:// URL \(default: none\)"),
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in READERS:
        monkeypatch.delenv(name, raising=False)


def test_every_setting_has_a_reader_and_a_test():
    names = [s.name for s in _settings.SETTINGS]
    assert len(names) == len(set(names))
    assert set(names) == set(READERS) == set(DEFAULTS) == set(GOOD)
    assert set(BAD) <= set(names)
    assert not set(names) & _settings.PROTOCOL_VARIABLES


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_default(name):
    assert READERS[name]() == DEFAULTS[name]


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_empty_is_the_default(name, monkeypatch):
    monkeypatch.setenv(name, "  ")
    assert READERS[name]() == DEFAULTS[name]


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_value(name, monkeypatch):
    text, value = GOOD[name]
    monkeypatch.setenv(name, text)
    assert READERS[name]() == value


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_value_names_the_variable_the_value_and_what_is_accepted(name, monkeypatch):
    text, accepted = BAD[name]
    monkeypatch.setenv(name, text)
    with pytest.raises(InvalidValueError, match=re.escape(f"{name}={text!r} ") + accepted):
        READERS[name]()


def test_a_setting_is_read_when_needed_not_once(monkeypatch):
    monkeypatch.setenv("RUNWIDGET_HEARTBEAT_TIMEOUT", "5")
    assert _settings.heartbeat_timeout() == 5.0
    monkeypatch.setenv("RUNWIDGET_HEARTBEAT_TIMEOUT", "7")
    assert _settings.heartbeat_timeout() == 7.0


def test_seconds_reads_any_variable(monkeypatch):
    assert _settings.seconds("RUNWIDGET_SOME_WAIT", 3.0) == 3.0
    monkeypatch.setenv("RUNWIDGET_SOME_WAIT", "4")
    assert _settings.seconds("RUNWIDGET_SOME_WAIT", 3.0) == 4.0
    with pytest.raises(InvalidValueError, match=r"RUNWIDGET_SOME_WAIT='4' .* >= 5"):
        _settings.seconds("RUNWIDGET_SOME_WAIT", 6.0, minimum=5)


def test_every_module_imports_with_every_variable_set_to_garbage():
    names = {s.name for s in _settings.SETTINGS} | _settings.PROTOCOL_VARIABLES
    env = {**os.environ, **dict.fromkeys(names, "garbage!")}
    code = (
        "import importlib, pkgutil, runwidget\n"
        "for module in pkgutil.walk_packages(runwidget.__path__, 'runwidget.'):\n"
        "    importlib.import_module(module.name)\n"
        "from runwidget import _settings\n"
        "try:\n"
        "    _settings.max_buffered()\n"
        "except runwidget.InvalidValueError as e:\n"
        "    print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "RUNWIDGET_MAX_BUFFERED='garbage!' is not a positive integer" in done.stdout


def test_every_variable_the_package_names_is_a_setting_or_passed_between_processes():
    named: set[str] = set()
    for path in (ROOT / "runwidget").rglob("*.py"):
        named |= set(re.findall(r"\bRUNWIDGET_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    known = {s.name for s in _settings.SETTINGS} | _settings.PROTOCOL_VARIABLES
    assert named - known == set()


def test_the_readme_table_lists_every_setting():
    readme = (ROOT / "README.md").read_text()
    assert _settings.readme_table() in readme


def test_a_bad_supervisor_setting_is_refused_at_submission(tmp_path, monkeypatch):
    from runwidget import Experiment, ScriptRunConfig, Workspace

    monkeypatch.setenv("RUNWIDGET_EXEC_DIR", str(tmp_path / "exec"))
    monkeypatch.setenv("RUNWIDGET_KEEP_WORKDIR", "sometimes")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("print('hi')\n")
    workspace = Workspace(f"sqlite:///{tmp_path / 'runs.db'}")
    experiment = Experiment(workspace, "refused")
    with pytest.raises(InvalidValueError, match=r"RUNWIDGET_KEEP_WORKDIR='sometimes' is not one"):
        experiment.submit(ScriptRunConfig(tmp_path / "src", "train.py"))
    assert not list(experiment.get_runs())
