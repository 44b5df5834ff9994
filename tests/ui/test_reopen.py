"""A saved notebook reopened without the kernel that drew its RunDetails: JupyterLab draws the
run from the server's REST API (js/lab/reopen.js), live while it runs, and the static summary
where the server does not serve the run's store. While the kernel has the widget, the widget.
A comparison's output is drawn from the server too: its runs, their statuses and links, their
metrics overlaid."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import KERNEL_IDLE
from tests.ui.test_run_details import WIDGET, _shot

RUN_MIME = "application/vnd.runwidget.run+json"
RUNS_MIME = "application/vnd.runwidget.runs+json"
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


@contextlib.contextmanager
def _running_elsewhere(server, tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """A run logging in another process (WRITER); yields its id and the call that ends it."""
    id_file, stop_file = tmp_path / "run-id", tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(id_file), str(stop_file)],
        env={**os.environ, "RUNWIDGET_STORE": server.store_uri},
    )

    def stop() -> None:
        stop_file.write_text("stop")
        writer.wait(timeout=30)

    try:
        deadline = time.monotonic() + 30
        while not id_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield id_file.read_text(), stop
    finally:
        stop_file.write_text("stop")
        if writer.poll() is None:
            writer.kill()
        writer.wait(timeout=10)


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


# Every code cell of the notebook shown has finished: its execution count is in the model
# (the execute reply sets it, which can come after the kernel already reads idle).
CELLS_DONE = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.context.model.toJSON().cells.filter((c) => c.cell_type === "code");
    return cells.every((c) => c.execution_count !== null);
}"""
MODIFIED = "() => window.jupyterapp.shell.currentWidget.context.model.dirty"


@pytest.fixture
def server_for(jupyter_server):
    """`server_for(kind)`: the server, its pages with JupyterLab's default of not saving widget
    state in the notebook (with it on, ipywidgets marks a notebook modified as it opens it)."""
    used = []

    def get(kind: str):
        server = jupyter_server(kind)
        server.save_widget_state(False)
        used.append(server)
        return server

    yield get
    for server in used:
        server.save_widget_state(True)


def _save(server, page: Page, name: str, mime: str = RUN_MIME) -> None:
    """Save the notebook once its cells are done, as a user would, and wait until the file on
    disk has the run's bundle and the cells' execution counts."""
    page.wait_for_function(KERNEL_IDLE, timeout=30_000)
    page.wait_for_function(CELLS_DONE, timeout=30_000)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    path = server.root_dir / name
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = path.read_text()
        cells = json.loads(text)["cells"]
        if mime in text and all(c["execution_count"] is not None for c in cells):
            return
        time.sleep(0.2)
    raise AssertionError(f"{name} was not saved with the run's bundle and execution counts")


def _run_notebook(server, page: Page, name: str, source: str) -> None:
    """Write notebook NAME of one cell, open it and start running it."""
    server.write_notebook(name, source)
    server.open_notebook(page, name)
    server.run_all(page)


def _reopen(server, page: Page, name: str) -> None:
    """Shut every kernel down, then open the notebook again (on a new kernel, which has none
    of the old widgets' models)."""
    server.delete_sessions()
    page.goto("about:blank")
    server.open_notebook(page, name)


def _not_modified(page: Page) -> None:
    """The reopened notebook is as it was saved: not marked modified (JupyterLab's tab has no
    unsaved-changes dot) and its cells keep their execution counts."""
    page.wait_for_timeout(1500)  # what marks a notebook modified on opening does so within a second
    assert page.evaluate(MODIFIED) is False
    expect(page.locator(".lm-TabBar-tab.jp-mod-dirty")).to_have_count(0)
    expect(page.locator(".jp-CodeCell .jp-InputPrompt").first).to_have_text("[1]:")


LOSS_CHART = '.rw-chart[data-chart="m:loss"] .rw-uplot'


def _points(output) -> int:
    return int(output.locator(LOSS_CHART).get_attribute("data-points"))


@pytest.mark.parametrize("kind", ["lab", "notebook"])
def test_a_reopened_notebook_draws_its_run_without_the_kernel(
    server_for, page: Page, screenshot, kind: str
) -> None:
    server = server_for(kind)  # JupyterLab, and Notebook 7 with the same extension
    name = f"reopen-completed-{kind}.ipynb"
    _run_notebook(server, page, name, COMPLETED_RUN)
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
    _not_modified(page)
    screenshot(page, f"reopen-completed-{kind}")
    _shot(page.locator(".rw-reopened"), f"reopen-completed-output-{kind}")


def test_a_page_reloaded_while_the_kernel_runs_shows_the_live_widget(
    server_for, page: Page
) -> None:
    server = server_for("lab")
    name = "reopen-reloaded.ipynb"
    _run_notebook(server, page, name, COMPLETED_RUN)
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
    server_for, page: Page, screenshot, tmp_path: Path
) -> None:
    server = server_for("lab")
    with _running_elsewhere(server, tmp_path) as (run_id, stop):
        name = "reopen-running.ipynb"
        _run_notebook(server, page, name, SHOW_RUN.format(run_id=run_id))
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
        _not_modified(page)
        screenshot(page, "reopen-running")

        stop()
        expect(output.locator(".rw-status")).to_have_text("Completed", timeout=20_000)
        _shot(page.locator(".rw-reopened"), "reopen-running-completed")


def test_a_run_of_a_store_the_server_does_not_serve_shows_its_summary(
    server_for, page: Page, screenshot, tmp_path: Path
) -> None:
    server = server_for("lab")
    name = "reopen-elsewhere.ipynb"
    _run_notebook(server, page, name, OTHER_STORE.format(path=str(tmp_path / "other.db")))
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
    _not_modified(page)
    screenshot(page, "reopen-elsewhere")


COMPARED_RUNS = """
from runwidget import Experiment, RunDetails

exp = Experiment(name="reopen-compare")
for name, rate in [("<b>slow</b> run", 0.01), ("fast run", 0.1)]:
    run = exp.start_logging(display_name=name)
    run.log("learning_rate", rate)
    for i in range(40):
        run.log("loss", 1 / (1 + rate * 10 * i), step=i)
    run.complete()
RunDetails(exp).show()
"""


def test_a_reopened_comparison_lists_its_runs_from_the_server(
    server_for, page: Page, screenshot
) -> None:
    server = server_for("lab")
    name = "reopen-compare.ipynb"
    _run_notebook(server, page, name, COMPARED_RUNS)
    expect(page.locator(".rw-compare .rw-compare-key")).to_have_count(2, timeout=30_000)
    expect(page.locator(".rw-reopened-runs")).to_have_count(0)  # the live widget
    _save(server, page, name, RUNS_MIME)
    saved = json.loads((server.root_dir / name).read_text())
    runs = saved["cells"][0]["outputs"][0]["data"][RUNS_MIME]["runs"]
    assert [r["name"] for r in runs] == ["fast run", "<b>slow</b> run"]  # newest first

    _reopen(server, page, name)
    output = page.locator(".rw-reopened .rw-reopened-runs")
    keys = output.locator(".rw-compare-key")
    expect(keys).to_have_count(2, timeout=20_000)
    for key, run in zip([keys.nth(0), keys.nth(1)], runs, strict=True):
        expect(key).to_contain_text(run["name"])  # as text
        expect(key.locator(".rw-badge")).to_have_text("Completed")
        link = key.locator("a")
        expect(link).to_have_attribute("href", f"/runwidget/runs/{run['run_id']}")
        expect(link).to_have_attribute("target", "_blank")
    chart = output.locator('.rw-chart[data-chart="loss"]')
    expect(chart.locator("canvas")).to_be_visible()
    expect(page.locator(".jp-OutputArea")).not_to_contain_text("model not found")
    assert page.locator(".jp-OutputArea b").count() == 0
    _not_modified(page)
    screenshot(page, "reopen-compare")
    _shot(page.locator(".rw-reopened"), "reopen-compare-output")

    # A run's page, as the link opens it.
    href = keys.nth(0).locator("a").get_attribute("href")
    run_page = page.context.new_page()
    try:
        run_page.goto(server.url + href + f"?token={server.token}")
        expect(run_page.locator(".rw-title")).to_have_text(runs[0]["name"], timeout=20_000)
    finally:
        run_page.close()


def test_a_reopened_comparison_of_another_store_shows_its_summary(
    server_for, page: Page, tmp_path: Path
) -> None:
    server = server_for("lab")
    name = "reopen-compare-elsewhere.ipynb"
    source = OTHER_STORE.format(path=str(tmp_path / "other.db")).replace(
        "RunDetails(run)", "RunDetails([run])"
    )
    _run_notebook(server, page, name, source)
    expect(page.locator(".rw-compare .rw-compare-key")).to_have_count(1, timeout=30_000)
    _save(server, page, name, RUNS_MIME)

    _reopen(server, page, name)
    summary = page.locator(".rw-reopened .runwidget-compare-summary")
    expect(summary).to_be_visible(timeout=20_000)
    expect(summary).to_contain_text("kept elsewhere")
    expect(summary).to_contain_text("Completed")
    expect(page.locator(".rw-reopened-runs")).to_have_count(0)
    _not_modified(page)


SHOW_COMPARED = """
from runwidget import Experiment, RunDetails, Workspace
done = Experiment(name="reopen-live-compare").start_logging(display_name="done")
for i in range(20):
    done.log("loss", 1 / (i + 2), step=i)
done.complete()
RunDetails([done, Workspace().get_run({run_id!r})], interval=1).show()
"""


def test_a_reopened_comparison_follows_a_run_still_running_elsewhere(
    server_for, page: Page, tmp_path: Path
) -> None:
    server = server_for("lab")
    with _running_elsewhere(server, tmp_path) as (run_id, stop):
        name = "reopen-live-compare.ipynb"
        _run_notebook(server, page, name, SHOW_COMPARED.format(run_id=run_id))
        expect(page.locator(".rw-compare .rw-compare-key")).to_have_count(2, timeout=30_000)
        _save(server, page, name, RUNS_MIME)

        _reopen(server, page, name)
        output = page.locator(".rw-reopened .rw-reopened-runs")
        running = output.locator(".rw-compare-key", has_text="still running")
        expect(running.locator(".rw-badge")).to_have_text("Running", timeout=20_000)
        chart = output.locator('.rw-chart[data-chart="loss"]')
        expect(chart.locator("canvas")).to_be_visible()
        first = int(chart.get_attribute("data-points"))
        # New points come through the server's change events, not only at a reload.
        page.wait_for_function(
            """([sel, n]) => Number(document.querySelector(sel)?.dataset.points) > n + 3""",
            arg=['.rw-reopened-runs .rw-chart[data-chart="loss"]', first],
            timeout=15_000,
        )
        _not_modified(page)
        stop()
        expect(running.locator(".rw-badge")).to_have_text("Completed", timeout=20_000)
        expect(output.locator(".rw-compare")).to_have_attribute("data-terminal", "true")
        _shot(page.locator(".rw-reopened"), "reopen-compare-live-completed")
