"""Where ``run.get_portal_url()`` points: the Jupyter server the code runs in, else the
standalone portal."""

from __future__ import annotations

import pytest

from runwidget import Experiment, Workspace
from runwidget.tracking import _portal


@pytest.fixture(autouse=True)
def _no_portal_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (_portal.JUPYTER_URL_VAR, _portal.JUPYTER_STORE_VAR, _portal.PORTAL_URL_VAR):
        monkeypatch.delenv(var, raising=False)


def test_default_is_the_standalone_portal() -> None:
    run = Experiment(name="e").start_logging()
    assert run.get_portal_url() == f"http://127.0.0.1:8777/runwidget/runs/{run.id}"


def test_portal_url_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_portal.PORTAL_URL_VAR, "https://portal.example/rw/")
    assert _portal.run_url("a b/c") == "https://portal.example/rw/runs/a%20b%2Fc"


def test_jupyter_server_wins_when_it_serves_the_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv(_portal.PORTAL_URL_VAR, "https://portal.example/rw")
    # What the server extension announces to the kernels it starts.
    monkeypatch.setenv(_portal.JUPYTER_URL_VAR, "http://127.0.0.1:8888/user/x/runwidget")
    monkeypatch.setenv(_portal.JUPYTER_STORE_VAR, "sqlite:///served.db")
    monkeypatch.setenv("RUNWIDGET_STORE", "sqlite:///served.db")
    run = Experiment(name="e").start_logging()
    assert run.get_portal_url() == f"http://127.0.0.1:8888/user/x/runwidget/runs/{run.id}"
    elsewhere = Experiment(Workspace(f"sqlite:///{tmp_path}/other.db"), "e").start_logging()
    assert elsewhere.get_portal_url() == f"https://portal.example/rw/runs/{elsewhere.id}"
    assert _portal.run_url("r", "sqlite:///served.db").startswith("http://127.0.0.1:8888/")
    assert _portal.run_url("r", "sqlite:///other.db") == "https://portal.example/rw/runs/r"
