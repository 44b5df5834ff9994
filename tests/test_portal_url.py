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


# -- a link that serves, or says how to start what would serve it ---------------------------
@pytest.fixture
def exec_dir(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    # Where this machine's standalone portals announce themselves.
    monkeypatch.setenv("RUNWIDGET_EXEC_DIR", str(tmp_path / "exec"))


def _header(run) -> dict:
    from runwidget.sources import StoreSource
    from runwidget.view import RunView

    view = RunView(StoreSource(run._store, run.id))
    view.refresh()
    return view.snapshot()["header"]


def _waited(run) -> str:
    import io

    out = io.StringIO()
    run.wait_for_completion(show_output=True, file=out)
    return out.getvalue()


def test_with_nothing_serving_the_store_the_link_says_how_to_start_a_portal(exec_dir) -> None:
    run = Experiment(name="e").start_logging()
    run.complete()
    hint = "No portal serves this run's store yet: start one with `runwidget portal`"
    header = _header(run)
    assert header["portal_note"].startswith(hint)  # the link's tooltip in the widget
    assert header["portal_url"] == run.get_portal_url()
    lines = _waited(run).splitlines()
    assert lines[1] == f"Web View: {run.get_portal_url()}"
    assert lines[2].startswith(f"({hint}") and "JupyterLab" in lines[2]


def test_the_hint_names_a_store_that_is_not_the_default(exec_dir, tmp_path) -> None:
    other = f"sqlite:///{tmp_path}/other.db"
    run = Experiment(Workspace(other), "e").start_logging()
    run.complete()
    assert f"`runwidget portal --store '{other}'`" in _header(run)["portal_note"]


def test_a_running_standalone_portal_gets_the_links_of_its_store(exec_dir, tmp_path) -> None:
    from tests.test_server_hardening import running_portal

    run = Experiment(name="e").start_logging()
    run.complete()
    with running_portal(run._store.uri) as portal:
        url = run.get_portal_url()
        assert url == f"http://127.0.0.1:{portal.port}/runwidget/runs/{run.id}"
        assert portal.get(url.split(str(portal.port), 1)[1]).status in (200, 302)  # it serves
        assert "portal_note" not in _header(run)
        assert "No portal serves" not in _waited(run)
        # A portal of another store is no portal of this one.
        elsewhere = Experiment(Workspace(f"sqlite:///{tmp_path}/x.db"), "e").start_logging()
        assert elsewhere.get_portal_url().startswith("http://127.0.0.1:8777/")
        elsewhere.complete()
    assert run.get_portal_url() == f"http://127.0.0.1:8777/runwidget/runs/{run.id}"
    assert "portal_note" in _header(run)


def test_no_hint_when_a_server_is_known(exec_dir, monkeypatch: pytest.MonkeyPatch) -> None:
    run = Experiment(name="e").start_logging()
    run.complete()
    monkeypatch.setenv(_portal.PORTAL_URL_VAR, "https://portal.example/rw")
    assert _portal.portal_hint(run._store.uri) is None and "portal_note" not in _header(run)
    monkeypatch.delenv(_portal.PORTAL_URL_VAR)
    monkeypatch.setenv(_portal.JUPYTER_URL_VAR, "http://127.0.0.1:8888/runwidget")
    monkeypatch.setenv(_portal.JUPYTER_STORE_VAR, run._store.uri)
    assert _portal.portal_hint(run._store.uri) is None and "portal_note" not in _header(run)
