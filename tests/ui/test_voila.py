"""RunDetails in Voilà (the notebook rendered as a web app by the same Jupyter server): the
widget draws, keeps updating after the notebook has run, and stops when the run ends."""

from __future__ import annotations

import time
import urllib.parse

from playwright.sync_api import expect

from tests.ui.test_run_details import SETUP, WIDGET, XSS, _line_points, _shot

# Voilà shows the page once every cell has run: the run goes on after that, and a timer
# ends it a little later.
SHOW = "details = RunDetails(run, interval=1)\ndetails.show()"
END_LATER = """
def finish():
    time.sleep(14)
    done.set(); trainer.join()
    run.complete()

threading.Thread(target=finish, daemon=True).start()
"""


def test_voila_shows_a_live_run(jupyter_server, page, screenshot) -> None:
    server = jupyter_server("lab")
    name = "voila-live.ipynb"
    server.write_notebook(name, SETUP, SHOW, END_LATER)
    page.goto(f"{server.url}/voila/render/{urllib.parse.quote(name)}?token={server.token}")

    widget = page.locator(WIDGET)
    expect(widget).to_be_visible(timeout=90_000)
    status = widget.locator(".rw-header .rw-status")
    expect(status).to_have_text("Running")
    expect(widget.locator(".rw-title")).to_have_text(XSS)
    lines = widget.locator(".rw-log-lines .rw-line")
    expect(lines.first).to_be_visible(timeout=15_000)
    chart = widget.locator('.rw-chart[data-chart="m:loss"] path.line')
    expect(chart).to_be_visible(timeout=15_000)

    first_lines, first_points = lines.count(), _line_points(page, "m:loss")
    time.sleep(3.5)
    assert lines.count() > first_lines
    assert _line_points(page, "m:loss") > first_points
    screenshot(page, "voila-live")

    expect(status).to_have_text("Completed", timeout=40_000)
    expect(widget.locator(".rw-live")).to_have_text("", timeout=15_000)
    assert page.locator(f"{WIDGET} img[src='x']").count() == 0
    _shot(widget, "widget-voila-completed")
