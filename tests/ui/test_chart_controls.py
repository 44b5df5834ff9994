"""Chart controls in a real browser, on JupyterLab's run panel (uPlot, no kernel): a noisy
loss smoothed on a log axis, the value under the cursor, a zoom read again at full
resolution and its reset, a series hidden from the legend, the controls remembered after a
reload, the PNG and the CSV of the full series; light and dark themes."""

from __future__ import annotations

import csv
import io
import math
import random
import re

from playwright.sync_api import Page, expect

from runwidget import Experiment, Workspace
from tests.ui.conftest import SCREENSHOTS
from tests.ui.test_kernelfree import open_sidebar, row

N = 3000  # more than the 2,000 points a chart is sent
FORGET = """() => {
    for (const k of Object.keys(localStorage)) {
        if (k.startsWith("runwidget.chart.")) localStorage.removeItem(k);
    }
}"""


def _noisy_run(store_uri: str) -> str:
    ws = Workspace(store_uri)
    run = Experiment(ws, "controls").start_logging(display_name="noisy loss")
    rng = random.Random(3)
    for step in range(N):
        loss = math.exp(-step / 600) * math.exp(0.35 * rng.gauss(0, 1)) + 0.005
        run.log("loss", loss, step=step)
    for step in range(200):
        run.log_row(
            "curves", step=step, train=1 - math.exp(-step / 40), val=0.9 - math.exp(-step / 50)
        )
    run.complete()
    return run.id


def _shot(page: Page, locator, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    locator.screenshot(path=SCREENSHOTS / f"{name}.png")


def _drag(page: Page, box: dict, start: float, end: float) -> None:
    """Drag across the plot from ``start`` to ``end`` (fractions of its width)."""
    y = box["y"] + box["height"] * 0.5
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end, y, steps=8)
    page.mouse.up()


def _smooth_on_log(chart, weight: float) -> None:
    chart.locator(".rw-smooth").evaluate(
        f"(el) => {{ el.value = '{weight}'; el.dispatchEvent(new Event('input')); }}"
    )
    chart.locator(".rw-log input").check()


def _check_downloads(page: Page, chart, tmp_path) -> None:
    """The chart's PNG is a PNG; its CSV has every point logged, not the ones drawn."""
    with page.expect_download() as download:
        chart.locator("button", has_text="PNG").click()
    assert download.value.suggested_filename == "loss.png"
    png = tmp_path / "loss.png"
    download.value.save_as(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as download:
        chart.locator("button", has_text="CSV").click()
    path = tmp_path / "loss.csv"
    download.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0] == ["index", "step", "value", "time"] and len(rows) == N + 1


def _open(server, page: Page, run_id: str):
    open_sidebar(server, page)
    row(page, run_id).locator(".rw-sb-name").click()
    panel = page.locator(".rw-run-panel")
    expect(panel.locator('.rw-chart[data-chart="m:loss"] canvas')).to_be_visible()
    return panel


def test_smooth_a_noisy_loss_on_a_log_axis_zoom_and_hide(
    jupyter_server, page: Page, tmp_path
) -> None:
    server = jupyter_server("lab")
    run_id = _noisy_run(server.store_uri)
    panel = _open(server, page, run_id)
    page.evaluate(FORGET)
    loss = panel.locator('.rw-chart[data-chart="m:loss"]')
    holder = loss.locator(".rw-uplot")
    expect(holder).to_have_attribute("data-zoomed", "")
    drawn = int(holder.get_attribute("data-points"))
    assert drawn < N  # downsampled
    # A tooltip with the exact values under the cursor.
    over = holder.locator(".u-over")
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    tooltip = holder.locator(".rw-chart-tooltip")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("step:")
    expect(tooltip).to_contain_text("loss:")
    _shot(page, loss, "controls-raw")

    # Smoothing, the raw line kept faint beneath; a log y axis (every value is above 0).
    _smooth_on_log(loss, 0.9)
    expect(holder).to_have_attribute("data-smoothing", "0.9")
    expect(holder).to_have_attribute("data-log-y", "1")
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.4)
    expect(tooltip).to_contain_text("raw")
    _shot(page, loss, "controls-smoothed-log-light")

    # Zoom by drag: the range comes again from the store at full resolution.
    _drag(page, box, 0.2, 0.4)
    expect(holder).to_have_attribute("data-zoom-loaded", "1")
    zoomed = int(holder.get_attribute("data-points"))
    # About a fifth of the 3,000 steps, every one of them: more than were drawn there before.
    assert drawn / 5 * 1.1 < zoomed < 800, (drawn, zoomed)
    _shot(page, loss, "controls-zoomed")
    loss.locator("button", has_text="Reset zoom").click()
    expect(holder).to_have_attribute("data-zoomed", "")
    expect(holder).to_have_attribute("data-points", str(drawn))

    # Hide a series from the legend.
    curves = panel.locator('.rw-chart[data-chart="m:curves"]')
    val = curves.locator(".rw-legend-toggle", has_text="val")
    val.click()
    expect(val).to_have_class("rw-legend-item rw-legend-toggle rw-legend-off")
    expect(curves.locator(".rw-uplot")).to_have_attribute("data-hidden", "val")
    _shot(page, curves, "controls-hidden-series")

    # Downloads: the chart as PNG, every point of the series as CSV.
    _check_downloads(page, loss, tmp_path)

    # Remembered per browser: a reload draws the same controls.
    panel = _open(server, page, run_id)
    loss = panel.locator('.rw-chart[data-chart="m:loss"]')
    expect(loss.locator(".rw-uplot")).to_have_attribute("data-smoothing", "0.9")
    expect(loss.locator(".rw-uplot")).to_have_attribute("data-log-y", "1")
    expect(panel.locator('.rw-chart[data-chart="m:curves"] .rw-uplot')).to_have_attribute(
        "data-hidden", "val"
    )

    # x = relative time, read from the store.
    loss.locator("select.rw-x-axis").select_option("relative")
    expect(loss.locator(".rw-uplot")).to_have_attribute("data-x", "relative")
    expect(loss.locator(".rw-uplot")).not_to_have_attribute("data-points", "0")

    _shot(page, loss, "controls-relative-time")
    loss.locator("select.rw-x-axis").select_option("wall")
    expect(loss.locator(".rw-uplot")).to_have_attribute("data-x", "wall")
    page.wait_for_timeout(500)
    _shot(page, loss, "controls-wall-time")

    # The dark theme.
    loss.locator("select.rw-x-axis").select_option("data")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', "
        "{theme: 'JupyterLab Dark'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    page.wait_for_timeout(500)
    _shot(page, panel.locator(".rw-charts").first, "controls-smoothed-log-dark")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', "
        "{theme: 'JupyterLab Light'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")
    page.evaluate(FORGET)


WIDGET_SETUP = """
import math, random
from runwidget import Experiment, RunDetails
run = Experiment(name="widget controls").start_logging(display_name="noisy loss")
rng = random.Random(3)
for step in range(3000):
    run.log("loss", math.exp(-step / 600) * math.exp(0.35 * rng.gauss(0, 1)) + 0.005, step=step)
for step in range(200):
    run.log_row("curves", step=step, train=1 - math.exp(-step / 40), val=0.9 - math.exp(-step / 50))
run.complete()
details = RunDetails(run)
details.show()
"""


def test_widget_smooths_on_a_log_axis_zooms_and_hides(jupyter_server, page: Page, tmp_path) -> None:
    server = jupyter_server("lab")
    server.write_notebook("controls.ipynb", WIDGET_SETUP)
    server.open_notebook(page, "controls.ipynb")
    page.evaluate(FORGET)
    server.run_all(page)
    widget = page.locator(".runwidget > .rw-page")
    expect(widget).to_be_visible(timeout=90_000)
    # The run has ended: the widget's last refresh draws the output anew (with the saved
    # summary), then stops polling. Use the chart as it is after that.
    expect(widget.locator(".rw-live")).to_have_attribute("title", "", timeout=30_000)
    loss = widget.locator('.rw-chart[data-chart="m:loss"]')
    expect(loss.locator("path.line").first).to_be_visible(timeout=30_000)
    host = loss.locator(".rw-chart-host")
    layer = loss.locator(".rw-figure-layer")
    expect(layer).to_be_attached()
    page.wait_for_function(
        "() => !document.querySelector('.jp-InputPrompt')?.textContent.includes('*')"
    )

    # Smoothing over the faint raw line, on a log y axis.
    _smooth_on_log(loss, 0.9)
    expect(host).to_have_attribute("data-smoothing", "0.9")
    expect(host).to_have_attribute("data-log-y", "1")
    box = layer.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    tooltip = layer.locator(".rw-chart-tooltip")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("raw")
    page.wait_for_timeout(300)
    _shot(page, loss, "widget-controls-smoothed-log-light")

    # Zoom by drag: the kernel reads the range again at full resolution. The output may be
    # drawn anew meanwhile (its layer with it): drag on the layer as it is now.
    for attempt in range(3):
        expect(layer).to_be_visible()
        _drag(page, layer.bounding_box(), 0.2, 0.4)
        try:
            expect(host).to_have_attribute("data-zoomed", "1", timeout=5_000)
            break
        except AssertionError:
            if attempt == 2:
                raise
    expect(host).to_have_attribute("data-zoom-loaded", "1", timeout=15_000)
    page.mouse.move(0, 0)  # the tooltip away
    page.wait_for_timeout(300)
    _shot(page, loss, "widget-controls-zoomed")
    loss.locator("button", has_text="Reset zoom").click()
    expect(host).to_have_attribute("data-zoomed", "")

    # Hide a series from the legend.
    curves = widget.locator('.rw-chart[data-chart="m:curves"]')
    curves.locator(".rw-legend-toggle", has_text="val").click()
    expect(curves.locator(".rw-chart-host")).to_have_attribute("data-hidden", "val")
    page.wait_for_timeout(300)
    _shot(page, curves, "widget-controls-hidden-series")

    # Every point as CSV; the chart as PNG.
    _check_downloads(page, loss, tmp_path)

    # x = relative time and wall time, from the kernel (it has the points' times).
    axis = loss.locator("select.rw-x-axis")
    assert axis.locator("option").all_text_contents() == ["step", "relative time (s)", "wall time"]
    axis.select_option("relative")
    expect(host).to_have_attribute("data-axis-loaded", "1", timeout=15_000)
    expect(loss.locator(".rw-figure-holder")).to_contain_text("relative time (s)")
    _shot(page, loss, "widget-controls-relative-time")
    axis.select_option("wall")
    expect(host).to_have_attribute("data-x", "wall")
    expect(host).to_have_attribute("data-axis-loaded", "1", timeout=15_000)
    holder = loss.locator(".rw-figure-holder")
    expect(holder).to_contain_text("wall time")
    # The run logged its points within seconds: the ticks are d3's times (".640" ms, ":05"
    # s, "1:45" minutes of a date axis), not seconds since 1970 as a number.
    ticks = (
        holder.locator("g.axis", has_text="wall time").locator("g.tick text").all_text_contents()
    )
    odd = [t for t in ticks if not re.fullmatch(r"\.\d{3}|:\d{2}|\d{1,2}:\d{2}( [AP]M)?", t)]
    assert ticks and not odd, ticks
    expect(holder.locator("path.line").nth(1)).to_be_visible()
    box = layer.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    expect(tooltip).to_contain_text("wall time: ")
    expect(tooltip).to_contain_text(":")
    _shot(page, loss, "widget-controls-wall-time")
    page.mouse.move(0, 0)
    axis.select_option("data")

    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', "
        "{theme: 'JupyterLab Dark'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    page.wait_for_timeout(800)
    _shot(page, widget.locator(".rw-charts").first, "widget-controls-dark")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', "
        "{theme: 'JupyterLab Light'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'")
    page.evaluate(FORGET)
    server.delete_sessions()
