"""Runs side by side in a real JupyterLab: RunDetails([a, b, c]) draws a chart per metric
with a line per run, last / min / max, and the properties with the differing rows marked;
live while a run goes on; light and dark themes."""

from __future__ import annotations

import csv
import io
import json
import time

from playwright.sync_api import Page, expect

from runwidget import Workspace
from runwidget.store import Batch, RunFilter
from tests.ui.test_chart_controls import FORGET, _drag
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


def _open(server, page: Page, name: str):  # noqa: ANN001, ANN202
    """Run notebook NAME of the comparison, the chart controls' memory forgotten; its
    widget and loss chart once drawn and the cells done."""
    server.write_notebook(name, SETUP, SHOW)
    server.open_notebook(page, name)
    page.evaluate(FORGET)
    server.run_all(page)
    widget = page.locator(WIDGET)
    loss = widget.locator('.rw-chart[data-chart="loss"]')
    expect(loss.locator("canvas").first).to_be_visible(timeout=90_000)
    page.wait_for_function(
        "() => !document.querySelector('.jp-InputPrompt')?.textContent.includes('*')"
    )
    return widget, loss


def test_a_compare_chart_smooths_zooms_on_time_and_downloads(
    jupyter_server, page: Page, tmp_path
) -> None:
    server = jupyter_server("lab")
    widget, loss = _open(server, page, "compare.ipynb")
    plot = loss  # the chart's state is on its element

    # Smoothing, a line per run; no log axis: a run's loss dips below 0.
    loss.locator(".rw-smooth").evaluate(
        "(el) => { el.value = '0.8'; el.dispatchEvent(new Event('input')); }"
    )
    expect(plot).to_have_attribute("data-smoothing", "0.8")
    expect(loss.locator(".rw-log")).to_be_hidden()
    over = plot.locator(".u-over")
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    tooltip = plot.locator(".rw-chart-tooltip")
    expect(tooltip).to_contain_text("lr 0.1: ")
    expect(tooltip).to_contain_text("raw")
    _shot(loss, "compare-controls-smoothed")

    # Zoom by drag: every run's range read again by the kernel from every point.
    _drag(page, box, 0.1, 0.3)
    expect(plot).to_have_attribute("data-zoom-loaded", "1", timeout=15_000)
    page.mouse.move(0, 0)
    _shot(loss, "compare-controls-zoomed")
    loss.locator("button", has_text="Reset zoom").click()
    expect(plot).to_have_attribute("data-zoomed", "")

    # x = relative time: each run from its own start, from the kernel.
    loss.locator("select.rw-x-axis").select_option("relative")
    expect(plot).to_have_attribute("data-x", "relative")
    expect(plot).not_to_have_attribute("data-points", "0", timeout=15_000)
    _shot(loss, "compare-controls-relative-time")
    loss.locator("select.rw-x-axis").select_option("data")

    # Every point of every run as one CSV, the run's id first; the chart as PNG.
    with page.expect_download() as download:
        loss.locator("button", has_text="CSV").click()
    path = tmp_path / "loss.csv"
    download.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0] == ["run", "index", "step", "value", "time"]
    assert len(rows) - 1 == 3 * 150 + 3  # every point, not the 500 per line drawn
    assert len({r[0] for r in rows[1:]}) == 4
    with page.expect_download() as download:
        loss.locator("button", has_text="PNG").click()
    png = tmp_path / "loss.png"
    download.value.save_as(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.evaluate(FORGET)
    server.delete_sessions()


def test_a_live_comparison_keeps_its_charts_and_a_reloaded_page_gets_it_whole(
    jupyter_server, page: Page
) -> None:
    from tests.ui.test_reopen import RUNS_MIME, _save

    server = jupyter_server("lab")
    widget, loss = _open(server, page, "compare-live.ipynb")
    loss.locator(".rw-smooth").evaluate(
        "(el) => { el.value = '0.6'; el.dispatchEvent(new Event('input')); }"
    )
    _drag(page, loss.locator(".u-over").bounding_box(), 0.1, 0.5)
    expect(loss).to_have_attribute("data-zoomed", "1")
    page.mouse.move(0, 0)
    loss.evaluate("(el) => { el.querySelector('canvas').dataset.kept = 'yes'; }")
    accuracy = widget.locator('.rw-chart[data-chart="accuracy"]')
    accuracy.evaluate("(el) => { el.querySelector('canvas').dataset.kept = 'yes'; }")

    # The live run's new points come as a delta, merged into the comparison drawn: the
    # chart is the same one, its smoothing and zoom kept.
    store = Workspace(server.store_uri).store
    live = store.find_runs(RunFilter(search="<b>live</b>")).records[0]
    store.write({live.id: Batch(metrics=[("loss", "scalar", 3.0, 0.05, time.time())])})
    loss_stats = widget.locator(".rw-compare-chart", has=page.locator('[data-chart="loss"]'))
    live_row = loss_stats.locator(".rw-compare-stats tbody tr").nth(3)
    expect(live_row.locator("td").nth(1)).to_have_text("0.05", timeout=10_000)
    expect(live_row.locator("td").nth(4)).to_have_text("4")
    expect(loss).to_have_attribute("data-smoothing", "0.6")
    expect(loss).to_have_attribute("data-zoomed", "1")
    assert loss.locator("canvas[data-kept=yes]").count() == 1
    assert accuracy.locator("canvas[data-kept=yes]").count() == 1  # not drawn again
    _shot(widget, "compare-live-delta")

    # A page loaded again, its kernel still running: the whole comparison as it is now,
    # then the deltas after it.
    _save(server, page, "compare-live.ipynb", RUNS_MIME)
    # The widget state the notebook saved is the comparison as it is now, the delta in it.
    saved = json.loads((server.root_dir / "compare-live.ipynb").read_text())
    models = saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    (compare,) = [m["state"]["_compare"] for m in models.values() if "_compare" in m["state"]]
    (chart,) = [c for c in compare["charts"] if c["name"] == "loss"]
    assert (chart["stats"][3]["last"], chart["stats"][3]["count"]) == (0.05, 4)
    page.reload()
    page.wait_for_selector(".jp-Notebook")
    expect(live_row.locator("td").nth(1)).to_have_text("0.05", timeout=30_000)
    expect(widget.locator(".rw-compare-key")).to_have_count(4)
    store.write({live.id: Batch(metrics=[("loss", "scalar", 4.0, 0.025, time.time())])})
    expect(live_row.locator("td").nth(1)).to_have_text("0.025", timeout=10_000)
    expect(live_row.locator("td").nth(4)).to_have_text("5")
    expect(loss.locator("canvas").first).to_be_visible()
    _shot(widget, "compare-live-reloaded")
    page.evaluate(FORGET)
    server.delete_sessions()
