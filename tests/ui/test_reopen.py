"""A saved notebook reopened without the kernel that drew its RunDetails: JupyterLab draws the
run from the server's REST API (js/lab/reopen.js), live while it runs, and the static summary
where the server does not serve the run's store. While the kernel has the widget, the widget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import KERNEL_IDLE
from tests.ui.test_run_details import WIDGET, _shot

RUN_MIME = "application/vnd.runwidget.run+json"
# The run drawn in an output by the extension, not by the widget.
REOPENED = ".rw-reopened .rw-reopened-run"

COMPLETED_RUN = """
import math
from runwidget import Experiment, RunDetails

run = Experiment(name="reopen").start_logging(display_name="<b>finished</b> run")
run.log("learning_rate", 0.01)
for i in range(60):
    run.log("loss", 1 / (i + 1) + 0.02 * math.sin(i), step=i)
run.complete()
RunDetails(run).show()
"""

# A run that goes on in another process while the notebook is closed and reopened.
WRITER = """
import math, sys, time
from pathlib import Path
from runwidget import Experiment

run = Experiment(name="reopen").start_logging(display_name="still running")
Path(sys.argv[1]).write_text(run.id)
for i in range(100_000):
    run.log("loss", 1 / (i + 1) + 0.02 * math.sin(i), step=i)
    run.flush()
    if Path(sys.argv[2]).exists():
        break
    time.sleep(0.3)
run.complete()
"""

SHOW_RUN = """
from runwidget import RunDetails, Workspace
RunDetails(Workspace().get_run({run_id!r}), interval=1).show()
"""

OTHER_STORE = """
from runwidget import Experiment, RunDetails, Workspace

other = Workspace(store="sqlite:///" + {path!r})
run = Experiment(other, "elsewhere").start_logging(display_name="kept elsewhere")
for i in range(20):
    run.log("loss", 1 / (i + 1), step=i)
run.complete()
RunDetails(run).show()
"""


def _save(server, page: Page, name: str) -> None:
    """Save the notebook (its cell done) and wait until the file on disk has the run's bundle."""
    page.wait_for_function(KERNEL_IDLE, timeout=30_000)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    path = server.root_dir / name
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if RUN_MIME in path.read_text() and "widget-view+json" in path.read_text():
            return
        time.sleep(0.2)
    raise AssertionError(f"{name} was not saved with the run's bundle")


def _reopen(server, page: Page, name: str) -> None:
    """Shut every kernel down, then open the notebook again (on a new kernel, which has none
    of the old widgets' models)."""
    server.delete_sessions()
    page.goto("about:blank")
    server.open_notebook(page, name)


LOSS_CHART = '.rw-chart[data-chart="m:loss"] .rw-uplot'


def _points(output) -> int:
    return int(output.locator(LOSS_CHART).get_attribute("data-points"))


@pytest.mark.parametrize("kind", ["lab", "notebook"])
def test_a_reopened_notebook_draws_its_run_without_the_kernel(
    jupyter_server, page: Page, screenshot, kind: str
) -> None:
    server = jupyter_server(kind)  # JupyterLab, and Notebook 7 with the same extension
    name = f"reopen-completed-{kind}.ipynb"
    server.write_notebook(name, COMPLETED_RUN)
    server.open_notebook(page, name)
    server.run_all(page)
    # The kernel has the widget: the live widget is what shows, not the kernel-free view.
    widget = page.locator(WIDGET)
    expect(widget.locator(".rw-header .rw-status")).to_have_text("Completed", timeout=30_000)
    expect(page.locator(REOPENED)).to_have_count(0)
    _save(server, page, name)

    _reopen(server, page, name)
    output = page.locator(REOPENED)
    expect(output.locator(".rw-status")).to_have_text("Completed", timeout=20_000)
    expect(output.locator(".rw-title")).to_have_text("<b>finished</b> run")  # as text
    expect(output.locator(f"{LOSS_CHART} canvas")).to_be_visible()
    expect(output.locator(LOSS_CHART)).to_have_attribute("data-points", "60")
    expect(output.locator(".rw-properties")).to_contain_text("learning_rate")
    expect(page.locator(".jp-OutputArea")).not_to_contain_text("model not found")
    expect(page.locator(".jp-OutputArea")).not_to_contain_text("Loading widget")
    assert page.locator(".jp-OutputArea b").count() == 0
    screenshot(page, f"reopen-completed-{kind}")
    _shot(page.locator(".rw-reopened"), f"reopen-completed-output-{kind}")


def test_a_page_reloaded_while_the_kernel_runs_shows_the_live_widget(
    jupyter_server, page: Page
) -> None:
    server = jupyter_server("lab")
    name = "reopen-reloaded.ipynb"
    server.write_notebook(name, COMPLETED_RUN)
    server.open_notebook(page, name)
    server.run_all(page)
    status = page.locator(WIDGET).locator(".rw-header .rw-status")
    expect(status).to_have_text("Completed", timeout=30_000)
    _save(server, page, name)

    # The same kernel, still running: once the widget manager has the model back from it,
    # the output is the widget again.
    page.reload()
    page.wait_for_selector(".jp-Notebook")
    expect(status).to_have_text("Completed", timeout=30_000)
    expect(page.locator(REOPENED)).to_have_count(0, timeout=15_000)
    expect(page.locator(".jp-OutputArea")).not_to_contain_text("model not found")


def test_a_reopened_notebook_follows_a_run_still_running_elsewhere(
    jupyter_server, page: Page, screenshot, tmp_path: Path
) -> None:
    server = jupyter_server("lab")
    id_file, stop_file = tmp_path / "run-id", tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(id_file), str(stop_file)],
        env={**os.environ, "RUNWIDGET_STORE": server.store_uri},
    )
    try:
        deadline = time.monotonic() + 30
        while not id_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        run_id = id_file.read_text()
        name = "reopen-running.ipynb"
        server.write_notebook(name, SHOW_RUN.format(run_id=run_id))
        server.open_notebook(page, name)
        server.run_all(page)
        expect(page.locator(WIDGET).locator(".rw-header .rw-status")).to_have_text(
            "Running", timeout=30_000
        )
        _save(server, page, name)

        _reopen(server, page, name)
        output = page.locator(REOPENED)
        expect(output.locator(".rw-status")).to_have_text("Running", timeout=20_000)
        chart = output.locator(LOSS_CHART)
        expect(chart.locator("canvas")).to_be_visible()
        expect(chart).not_to_have_attribute("data-points", "0")
        first = _points(output)
        # New points come through the server's change events within about a second.
        page.wait_for_function(
            """([sel, n]) => Number(document.querySelector(sel)?.dataset.points) > n + 3""",
            arg=[f"{REOPENED} {LOSS_CHART}", first],
            timeout=10_000,
        )
        screenshot(page, "reopen-running")

        stop_file.write_text("stop")
        writer.wait(timeout=30)
        expect(output.locator(".rw-status")).to_have_text("Completed", timeout=20_000)
        _shot(page.locator(".rw-reopened"), "reopen-running-completed")
    finally:
        stop_file.write_text("stop")
        if writer.poll() is None:
            writer.kill()
        writer.wait(timeout=10)


def test_a_run_of_a_store_the_server_does_not_serve_shows_its_summary(
    jupyter_server, page: Page, screenshot, tmp_path: Path
) -> None:
    server = jupyter_server("lab")
    name = "reopen-elsewhere.ipynb"
    server.write_notebook(name, OTHER_STORE.format(path=str(tmp_path / "other.db")))
    server.open_notebook(page, name)
    server.run_all(page)
    expect(page.locator(WIDGET).locator(".rw-header .rw-status")).to_have_text(
        "Completed", timeout=30_000
    )
    _save(server, page, name)
    saved = json.loads((server.root_dir / name).read_text())
    bundle = saved["cells"][0]["outputs"][0]["data"][RUN_MIME]
    assert bundle["store"] != server.api("GET", "/runwidget/api/status")["store"]

    _reopen(server, page, name)
    summary = page.locator(".rw-reopened .runwidget-summary")
    expect(summary).to_be_visible(timeout=20_000)
    expect(summary).to_contain_text("kept elsewhere")
    expect(summary).to_contain_text("Completed")
    expect(page.locator(REOPENED)).to_have_count(0)
    expect(page.locator(".jp-OutputArea")).not_to_contain_text("model not found")
    screenshot(page, "reopen-elsewhere")
