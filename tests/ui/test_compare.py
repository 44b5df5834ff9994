"""Runs side by side in a real JupyterLab: RunDetails([a, b, c]) draws a chart per metric
with a line per run, last / min / max, and the properties with the differing rows marked;
live while a run goes on; light and dark themes."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from runwidget import Workspace
from runwidget.store import Batch, RunFilter
from tests.ui.test_run_details import _shot

SETUP = """
import math
from runwidget import Experiment, RunDetails
experiment = Experiment(name="side by side")
runs = []
for rate in (0.3, 0.1, 0.03):
    run = experiment.start_logging(display_name=f"lr {rate}")
    run.tag("optimizer", "adam" if rate > 0.05 else "sgd")
    run.add_properties({"batch": 32})
    for step in range(150):
        run.log("loss", math.exp(-rate * step) + 0.02 * math.sin(step), step=step)
        run.log("accuracy", 1 - math.exp(-rate * step * 1.5), step=step)
    run.log("learning_rate", rate)
    run.complete()
    runs.append(run)
live = experiment.start_logging(display_name="<b>live</b>")
live.tag("optimizer", "adam")
live.add_properties({"batch": 32})
for step in range(3):
    live.log("loss", 1.0 / (step + 1), step=step)
live.flush()
"""
SHOW = "compare = RunDetails([*runs, live], interval=60)\ncompare.show()"
WIDGET = ".runwidget.rw-compare"


def test_three_runs_and_a_live_one_side_by_side(jupyter_server, page: Page, screenshot) -> None:
    server = jupyter_server("lab")
    server.write_notebook("compare.ipynb", SETUP, SHOW)
    server.open_notebook(page, "compare.ipynb")
    server.run_all(page)
    widget = page.locator(WIDGET)
    expect(widget).to_be_visible(timeout=90_000)
    expect(widget.locator(".rw-compare-key")).to_have_count(4)
    expect(widget.locator(".rw-compare-name").nth(3)).to_have_text("<b>live</b>")
    assert widget.locator(".rw-compare-name b").count() == 0  # drawn as text
    expect(widget.locator('.rw-chart[data-chart="loss"] canvas').first).to_be_visible()
    expect(widget.locator('.rw-chart[data-chart="accuracy"]')).to_be_visible()
    loss_stats = widget.locator(".rw-compare-chart", has=page.locator('[data-chart="loss"]'))
    expect(loss_stats.locator(".rw-compare-stats tbody tr")).to_have_count(4)
    differing = widget.locator(".rw-compare-properties tr.rw-differs")
    expect(differing.filter(has_text="optimizer")).to_have_count(1)
    expect(widget.locator(".rw-compare-properties tr", has_text="batch")).not_to_have_class(
        "rw-differs"
    )
    # The live run goes on (written by this process): its new point is drawn without
    # waiting for the widget's 60 s interval.
    store = Workspace(server.store_uri).store
    live = store.find_runs(RunFilter(search="<b>live</b>")).records[0]
    started = time.monotonic()
    store.write({live.id: Batch(metrics=[("loss", "scalar", 3.0, 0.05, time.time())])})
    live_row = loss_stats.locator(".rw-compare-stats tbody tr").nth(3)
    expect(live_row.locator("td").nth(1)).to_have_text("0.05", timeout=10_000)
    assert time.monotonic() - started < 5
    _shot(widget, "compare-light")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', "
        "{theme: 'JupyterLab Dark'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    time.sleep(1)
    _shot(widget, "compare-dark")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', "
        "{theme: 'JupyterLab Light'})"
    )
