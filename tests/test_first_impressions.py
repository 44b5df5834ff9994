"""What a newcomer meets first: the demo's start, a clean clone after set-up, the README's
first example giving back what it logged."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from runwidget import Experiment, Workspace

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
# What Node or Python print when something broke, as opposed to their INFO/WARNING lines.
ERROR_LINE = re.compile(r"\bError\b|Traceback|require is not defined|\[E ")

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


@needs_node
def test_node_reads_commonjs_files_under_the_venv_as_commonjs() -> None:
    """JupyterLab runs node on its own CommonJS files under .venv (its yarn, at start); the
    repo's package.json must not make them ES modules."""
    if not VENV.is_dir():
        pytest.skip("no .venv: scripts/setup.sh has not run")
    folder = Path(tempfile.mkdtemp(prefix="cjs-check-", dir=VENV))
    try:
        script = folder / "check.js"
        script.write_text("const util = require('util');\nconsole.log(typeof util.format);\n")
        out = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(folder)
    assert (out.returncode, out.stdout.strip()) == (0, "function"), out.stderr


@needs_node
def test_the_lock_file_is_committed_as_npm_writes_it(tmp_path: Path) -> None:
    """npm leaves package-lock.json as it is (scripts/setup.sh installs it with npm ci, and a
    developer's npm install does not rewrite it either)."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    out = subprocess.run(
        ["npm", "install", "--package-lock-only", "--offline", "--ignore-scripts",
         "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if out.returncode != 0:
        pytest.skip(f"npm cannot resolve the lock file offline here: {out.stderr[-500:]}")
    written = (tmp_path / "package-lock.json").read_text()
    assert written == (ROOT / "package-lock.json").read_text(), "npm rewrites package-lock.json"


def test_log_list_gives_back_what_was_logged(sqlite_uri: str) -> None:
    run = Experiment(Workspace(sqlite_uri), "first").start_logging()
    run.log_list("Fibonacci", [0, 1, 1, 2, 3, 5, 8])
    run.log_list("halves", [0.5, 1.0, 1.5])
    run.complete()
    metrics = run.get_metrics()
    assert metrics["halves"] == [0.5, 1.0, 1.5]
    assert [type(v) for v in metrics["halves"]] == [float] * 3
    assert metrics["Fibonacci"] == [0, 1, 1, 2, 3, 5, 8]
    assert [type(v) for v in metrics["Fibonacci"]] == [int] * 7


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_demo_starts_jupyterlab_without_errors(tmp_path: Path) -> None:
    if not (VENV / "bin" / "jupyter").exists():
        pytest.skip("no .venv with JupyterLab: scripts/setup.sh has not run")
    log = tmp_path / "demo.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(PORT=str(_free_port()), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))  # fmt: skip
    with log.open("w") as out:
        demo = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "demo.sh"), "--no-setup"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "is running at" not in log.read_text() and demo.poll() is None:
            assert time.monotonic() < deadline, f"JupyterLab did not start:\n{log.read_text()}"
            time.sleep(0.5)
        assert demo.poll() is None, f"the demo exited with {demo.returncode}:\n{log.read_text()}"
        url = re.search(r"runwidget demo: open (\S+)", log.read_text()).group(1)
        with urllib.request.urlopen(url, timeout=30) as page:  # what the newcomer opens
            assert page.status == 200
        time.sleep(5)  # what JupyterLab starts in the background (node, yarn) has spoken
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGTERM)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(timeout=10)
    text = log.read_text()
    errors = [line[:300] for line in text.splitlines() if ERROR_LINE.search(line)]
    assert not errors, "\n".join(errors)
    assert len(max(text.splitlines(), key=len)) < 2000, "a screen of minified code was printed"
