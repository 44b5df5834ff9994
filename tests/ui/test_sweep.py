"""A real local sweep of a script, watched in JupyterLab: the sweep view fills in while the
cell that waits for the sweep is busy. Screenshots go to tests/ui/screenshots/."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from runwidget import Workspace
from runwidget.hyperdrive import HyperDriveRun
from runwidget.store import RunType
from tests.local_runs import stop_left_running
from tests.ui.test_automl import CHECK, _wait_busy_with
from tests.ui.test_chart_controls import FORGET
from tests.ui.test_run_details import WIDGET, _busy, _shot

pytestmark = [pytest.mark.ui, pytest.mark.slow]

EXPERIMENT = "ui-sweep"
SUBMIT = f'''
import os, threading, time
from pathlib import Path

# The supervised runs' files in the server's folder; room for the driver and 2 children.
os.environ["RUNWIDGET_EXEC_DIR"] = str(Path("sweep-exec").resolve())
os.environ["RUNWIDGET_MAX_LOCAL_RUNS"] = "6"
os.environ["RUNWIDGET_HEARTBEAT_INTERVAL"] = "0.5"

from runwidget import Experiment, HyperDriveConfig, PrimaryMetricGoal, RunDetails, ScriptRunConfig
from runwidget.hyperdrive import BanditPolicy, RandomParameterSampling, choice, loguniform

Path("sweep_src").mkdir(exist_ok=True)
Path("sweep_src/train.py").write_text("""
import argparse, time
from runwidget import Run

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
parser.add_argument("--depth", type=int)
args = parser.parse_args()
run = Run.get_context()
for step in range(12):
    run.log("mse", args.alpha * 10 * (12 - step) / 12 + 0.1 * args.depth)
    run.flush()
    time.sleep(0.25)
""")
config = HyperDriveConfig(
    run_config=ScriptRunConfig("sweep_src", "train.py"),
    hyperparameter_sampling=RandomParameterSampling(
        {{"--alpha": loguniform(-4, -1), "--depth": choice(2, 4, 8)}}, seed=7
    ),
    policy=BanditPolicy(slack_factor=0.1, evaluation_interval=1, delay_evaluation=2),
    primary_metric_name="mse",
    primary_metric_goal=PrimaryMetricGoal.MINIMIZE,
    max_total_runs=6,
    max_concurrent_runs=2,
)
sweep = Experiment(name="{EXPERIMENT}").submit(config)
'''
SHOW = "details = RunDetails(sweep, interval=1)\ndetails.show()"
# Busy until the sweep has ended: the widget must fill in meanwhile.
WAIT = "sweep.wait_for_completion()\ntime.sleep(3)"
ENDED = ("Completed", "Canceled", "Failed")


@pytest.fixture
def stop_sweeps(jupyter_server) -> Iterator[Callable[[], None]]:
    """Kills what a failing test left running of the sweeps of EXPERIMENT."""
    servers = []

    def stop() -> None:
        for server in servers:
            experiment = Workspace(server.store_uri).experiments().get(EXPERIMENT)
            for record in [] if experiment is None else experiment.get_runs():
                if record.type == RunType.SWEEP:
                    sweep = HyperDriveRun(experiment, record.id)
                    stop_left_running([sweep, *sweep.get_children()], script_group=True)

    yield servers.append
    stop()


def _counts(widget: Locator) -> tuple[int, int, int]:
    """(child rows in the table, heat-strip cells, ended heat-strip cells)."""
    ended = ", ".join(f'.rw-strip-cell[data-status="{s}"]' for s in ENDED)
    return (
        widget.locator(".rw-iterations tbody tr").count(),
        widget.locator(".rw-strip-cell").count(),
        widget.locator(ended).count(),
    )


def _points(path: Locator) -> int:
    return len(re.findall(r"[LM]", path.get_attribute("d") or ""))


def test_a_local_sweep_fills_in_live(jupyter_server, page: Page, screenshot, stop_sweeps) -> None:
    server = jupyter_server("lab")
    stop_sweeps(server)
    server.write_notebook("sweep-live.ipynb", SUBMIT, SHOW, WAIT, CHECK)
    server.open_notebook(page, "sweep-live.ipynb")
    server.run_all(page)

    widget = page.locator(WIDGET)
    expect(widget).to_be_visible(timeout=90_000)
    expect(widget.locator(".rw-section-title", has_text="Sweep trials")).to_be_visible(
        timeout=60_000
    )
    _wait_busy_with(page, "sweep.wait_for_completion()")
    # Watch the rows appear and end while the cell is busy.
    seen: list[tuple[int, int, int]] = []
    deadline = time.monotonic() + 180
    while _busy(page) and time.monotonic() < deadline:
        seen.append(_counts(widget))
        if seen[-1][2] >= 4:
            break
        time.sleep(0.3)
    assert _busy(page), f"the sweep ended before the check: {seen}"
    rows = sorted({s[0] for s in seen})
    ended = sorted({s[2] for s in seen})
    assert len(rows) >= 2 and len(ended) >= 3, seen  # rows came, and ended, under a busy cell
    assert max(s[1] - s[2] for s in seen) <= 2, seen  # never more than 2 running
    screenshot(page, "sweep-live-lab")
    _shot(widget, "widget-sweep-live")

    expect(widget.locator(".rw-header .rw-status")).to_have_text("Completed", timeout=180_000)
    expect(widget.locator(".rw-strip-cell")).to_have_count(6, timeout=30_000)
    ended_cells = ", ".join(f'.rw-strip-cell[data-status="{s}"]' for s in ENDED)
    expect(widget.locator(ended_cells)).to_have_count(6, timeout=30_000)
    expect(widget.locator(".rw-iterations tbody tr")).to_have_count(6)
    # A column per hyperparameter, and the primary metric.
    head = widget.locator(".rw-iterations thead")
    for column in ("alpha", "depth", "mse"):
        expect(head).to_contain_text(column)
    expect(widget.locator(".rw-best")).to_contain_text("Best mse (minimize)")
    # The primary metric per child, with its stepped best-so-far line.
    chart = widget.locator('.rw-chart[data-chart="it:mse"]')
    expect(chart).to_be_visible()
    expect(chart.locator("path.line").first).to_be_attached(timeout=15_000)
    deadline = time.monotonic() + 15
    while _points(chart.locator("path.line").first) < 2 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _points(chart.locator("path.line").first) >= 2
    # Parallel coordinates: an axis per hyperparameter and the metric, a line per child.
    expect(widget.locator(".rw-parcoords polyline")).to_have_count(6, timeout=15_000)
    expect(widget.locator(".rw-parcoords .rw-pc-label")).to_have_count(3)
    expect(page.locator(".jp-OutputArea-output", has_text="polling False []")).to_be_visible(
        timeout=60_000
    )
    screenshot(page, "sweep-completed-lab")
    _shot(widget, "widget-sweep-completed")

    # The iteration chart's toolbar: log y (every mse is above 0), no smoothing (a point per
    # trial is no curve), a series hidden from the legend, the trials as CSV.
    page.evaluate(FORGET)
    host = chart.locator(".rw-chart-host")
    expect(chart.locator(".rw-smooth-label")).to_be_hidden()
    chart.locator(".rw-log input").check()
    expect(host).to_have_attribute("data-log-y", "1")
    chart.locator(".rw-legend-toggle", has_text="best so far").click()
    expect(host).to_have_attribute("data-hidden", "best so far")
    _shot(chart, "widget-sweep-iterations-log")
    with page.expect_download() as download:
        chart.locator("button", has_text="CSV").click()
    rows = [line.split(",") for line in download.value.path().read_text().splitlines()]
    assert rows[0] == ["iteration", "mse per iteration", "best so far"]
    assert len(rows) == 1 + 6 and all(float(r[1]) > 0 for r in rows[1:])
    page.evaluate(FORGET)
