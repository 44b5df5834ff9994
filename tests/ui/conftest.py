"""Browser-test harness: headless Debian Chromium driving a real JupyterLab or Notebook 7.

Every test in tests/ui gets the `ui` marker. Typical use:

    def test_something(jupyter_server, page, screenshot):
        server = jupyter_server("lab")
        server.write_notebook("demo.ipynb", "print(6*7)")
        server.open_notebook(page, "demo.ipynb")
        server.run_all(page)
        expect(page.locator(".jp-OutputArea-output").first).to_contain_text("42")
        screenshot(page, "demo")
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

HERE = Path(__file__).parent
SCREENSHOTS = HERE / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# Keep Chromium from calling home: these machines have no outside network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

KERNEL_IDLE = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const kernel = panel && panel.sessionContext && panel.sessionContext.session?.kernel;
    return kernel?.status === "idle";
}"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items; mark only those collected below this directory.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.ui)


@pytest.fixture(scope="session")
def browser_context() -> Iterator[BrowserContext]:
    """Headless Debian Chromium with a fresh profile, shared by the session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found. Run scripts/setup.sh to install chromium.", False)
    profile = tempfile.mkdtemp(prefix="runwidget-chromium-")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser_context: BrowserContext) -> Iterator[Page]:
    """A new browser tab, closed after the test."""
    tab = browser_context.new_page()
    yield tab
    # What a test left in the browser's storage (chart controls are remembered per browser)
    # must not change how the next test's charts are drawn.
    with contextlib.suppress(Exception):
        tab.evaluate(
            "() => Object.keys(localStorage).filter((k) => k.startsWith('runwidget.'))"
            ".forEach((k) => localStorage.removeItem(k))"
        )
    tab.close()


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """`screenshot(page, name)` saves tests/ui/screenshots/NAME.png (git-ignored) and returns it."""

    def take(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=path)
        return path

    return take


@dataclass
class JupyterServer:
    """A running `jupyter lab` or `jupyter notebook` with its own dirs, token and store."""

    kind: str  # "lab" or "notebook"
    url: str  # http://127.0.0.1:PORT
    token: str
    root_dir: Path
    store_uri: str  # RUNWIDGET_STORE seen by this server's kernels
    process: subprocess.Popen
    log_path: Path

    def write_notebook(self, name: str, *sources: str) -> Path:
        """Write a notebook of code cells into root_dir, using the python3 kernel."""
        nb = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(src) for src in sources],
            # Without a kernelspec the page would ask which kernel to start.
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        )
        path = self.root_dir / name
        nbformat.write(nb, path)
        return path

    def open_notebook(self, page: Page, name: str) -> None:
        """Open root_dir/NAME; wait for the notebook, `window.jupyterapp` and an idle kernel."""
        quoted = urllib.parse.quote(name)
        if self.kind == "lab":
            # `reset` drops the tabs an earlier test left in the saved workspace.
            path = f"/lab/tree/{quoted}?reset&token={self.token}"
        else:
            path = f"/notebooks/{quoted}?token={self.token}"
        page.goto(self.url + path)
        page.wait_for_selector(".jp-Notebook")
        page.wait_for_function("() => window.jupyterapp !== undefined")
        # Running cells before the kernel is up opens a "Select Kernel" dialog instead.
        page.wait_for_function(KERNEL_IDLE, timeout=60_000)

    def run_all(self, page: Page) -> None:
        """Start running every cell; returns at once so a test can watch live updates."""
        # Not awaited on purpose: the promise resolves only after the last cell has finished.
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")

    def delete_sessions(self) -> None:
        """Shut down every kernel session, so the next test starts a fresh kernel."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")

    def api(self, method: str, path: str):
        """Call the server's REST API; returns the decoded JSON body (None when empty)."""
        request = urllib.request.Request(
            self.url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def save_widget_state(self, on: bool) -> None:
        """JupyterLab's "Save Widget State Automatically" for the pages opened from now on (on
        by default here; off is JupyterLab's own default). With it on, ipywidgets' widget manager
        marks a notebook modified whenever it loads or clears widget state, so a notebook with
        widgets shows as modified as soon as it is opened."""
        _write_widget_settings(self.root_dir.parent / "lab-settings", on)


def _write_widget_settings(settings_dir: Path, save_state: bool) -> None:
    widgets = settings_dir / "@jupyter-widgets" / "jupyterlab-manager"
    widgets.mkdir(parents=True, exist_ok=True)
    (widgets / "plugin.jupyterlab-settings").write_text(json.dumps({"saveState": save_state}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _term_with_parent() -> None:
    # If the test run is killed (kill -9, a CI timeout), the server gets SIGTERM and shuts its
    # kernels down, instead of living on. 1 is PR_SET_PDEATHSIG.
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def _start_jupyter(kind: str) -> JupyterServer:
    base = Path(tempfile.mkdtemp(prefix=f"runwidget-jupyter-{kind}-"))
    dirs = {name: base / name for name in ("root", "config", "data", "runtime", "ipython")}
    dirs |= {"settings": base / "lab-settings", "workspaces": base / "lab-workspaces"}
    for path in dirs.values():
        path.mkdir()
    # Silence the "news / check for updates" toast that would cover part of the page.
    notification = dirs["settings"] / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # Widget state saved with the notebook (Settings > Save Widget State Automatically).
    _write_widget_settings(dirs["settings"], True)
    store_uri = f"sqlite:///{dirs['root']}/runs.db"
    env = {
        **os.environ,
        # Nothing from the user's own Jupyter set-up (kernels, settings, extensions) leaks in.
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "JUPYTER_PLATFORM_DIRS": "1",
        "RUNWIDGET_STORE": store_uri,
    }
    port, token = _free_port(), secrets.token_hex(16)
    log_path = base / "server.log"
    cmd = [
        *(sys.executable, "-m", "jupyter", kind, "--no-browser", "--allow-root"),
        *("--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0"),
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={dirs['root']}",
        "--expose-app-in-browser",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            cmd,
            cwd=dirs["root"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_term_with_parent,
        )
    server = JupyterServer(
        kind, f"http://127.0.0.1:{port}", token, dirs["root"], store_uri, process, log_path
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter {kind} exited ({process.returncode}):\n{server.log_tail()}")
        try:
            server.api("GET", "/api/status")
            return server
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    _stop(server)
    pytest.fail(f"jupyter {kind} did not answer /api/status within 60 s:\n{server.log_tail()}")


def _stop(server: JupyterServer) -> None:
    # SIGTERM first: the server then shuts its kernels down, which SIGKILL would orphan.
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def _jupyter_servers() -> Iterator[dict[str, JupyterServer]]:
    """At most one server per kind for the whole session; started lazily, stopped at the end."""
    servers: dict[str, JupyterServer] = {}
    yield servers
    for server in servers.values():
        _stop(server)
        shutil.rmtree(server.log_path.parent, ignore_errors=True)


@pytest.fixture
def jupyter_server(
    _jupyter_servers: dict[str, JupyterServer],
) -> Iterator[Callable[[str], JupyterServer]]:
    """`jupyter_server("lab" | "notebook")` returns a running server; kernels end with the test."""
    used: list[JupyterServer] = []

    def get(kind: str) -> JupyterServer:
        if kind not in ("lab", "notebook"):
            raise ValueError(f"kind must be 'lab' or 'notebook', not {kind!r}")
        if kind not in _jupyter_servers:
            _jupyter_servers[kind] = _start_jupyter(kind)
        used.append(_jupyter_servers[kind])
        return _jupyter_servers[kind]

    yield get
    for server in used:
        server.delete_sessions()
