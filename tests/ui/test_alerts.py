"""Alerts in a real browser: a run that fails while the reader is in another notebook shows a
JupyterLab notification (from the sidebar extension, no kernel involved), the Runs sidebar
marks the run, and RunDetails in a notebook shows the banner."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from runwidget import Experiment, Workspace
from runwidget import status as st

EVIL = "<img src=x onerror=\"document.title='pwned'\">"


def test_a_failed_run_is_notified_in_jupyterlab_and_marked(jupyter_server, page: Page, screenshot):
    server = jupyter_server("lab")
    server.delete_sessions()
    # The reader is in a notebook of their own, not looking at the run.
    server.write_notebook("elsewhere.ipynb", "x = 1")
    server.open_notebook(page, "elsewhere.ipynb")
    page.wait_for_function("() => window.jupyterapp.runwidget?.alerts")
    time.sleep(1.5)  # the extension's first ask sets its cursor: older alerts are not news

    experiment = Experiment(Workspace(server.store_uri), "nightly")
    run = experiment.start_logging(display_name="nightly train", outputs=False)
    run.log("loss", 0.5)
    run.alert("Validation loss rose", EVIL, level="warn")
    run.fail("CUDA out of memory")
    assert [a["kind"] for a in run.get_alerts()] == ["user", "failed"]

    toasts = page.locator(".Toastify__toast")
    failed = toasts.filter(has_text="Run nightly train failed (CUDA out of memory)")
    expect(failed).to_be_visible(timeout=25_000)
    warned = toasts.filter(has_text="nightly train: Validation loss rose")
    expect(warned).to_be_visible()
    # The user's text is text: no element made of it.
    assert page.locator(".Toastify img").count() == 0
    assert page.title() != "pwned"
    expect(failed.get_by_role("button", name="Open run")).to_be_visible()
    time.sleep(1.0)  # the toasts slide in
    screenshot(page, "lab-alert-notification")

    # Each is notified once, whatever the later asks and change events.
    page.evaluate("() => window.jupyterapp.runwidget.alerts.check()")
    time.sleep(1.0)
    assert page.evaluate("() => window.jupyterapp.runwidget.alerts.seen.length") == 2

    # The Runs sidebar marks the run; the notification's action opens it.
    page.evaluate(
        """async () => {
            await window.jupyterapp.restored;
            window.jupyterapp.shell.activateById('runwidget-runs');
        }"""
    )
    row = page.locator(f'.rw-sb-row[data-run-id="{run.id}"]')
    expect(row).to_have_attribute("data-status", st.FAILED, timeout=20_000)
    mark = row.locator(".rw-alert-mark")
    expect(mark).to_be_visible(timeout=20_000)
    expect(mark).to_have_text("\u26a0 2")
    expect(mark).to_have_class("rw-alert-mark rw-alert-mark-error")
    failed.get_by_role("button", name="Open run").click()
    panel = page.locator(".rw-run-panel")
    expect(panel.locator(".rw-alerts .rw-alert").first).to_contain_text(
        "Run nightly train failed", timeout=15_000
    )
    expect(panel.locator(".rw-alerts .rw-alert")).to_have_count(2)
    screenshot(page, "lab-alert-sidebar-and-panel")

    # The portal's list of the experiment's runs marks it too.
    page.goto(f"{server.url}/runwidget/experiments/nightly?token={server.token}")
    listed = page.locator("tr", has_text="nightly train")
    portal_mark = listed.locator(".rw-alert-mark")
    expect(portal_mark).to_be_visible(timeout=15_000)
    expect(portal_mark).to_have_text("\u26a0 2")
    screenshot(page, "portal-alert-mark")


def test_run_details_shows_alerts_and_the_system_section(jupyter_server, page: Page, screenshot):
    server = jupyter_server("lab")
    server.delete_sessions()
    server.write_notebook(
        "system.ipynb",
        "import math, time\n"
        "from runwidget import Experiment, RunDetails\n"
        "run = Experiment(name='system-view').start_logging(system_metrics=0.3, outputs=False)\n"
        "hold = []\n"
        "for i in range(30):\n"
        "    hold.append(bytearray(5_000_000))\n"
        "    run.log('loss', 1 / (i + 1))\n"
        "    time.sleep(0.05)\n"
        "run.log('loss', math.nan)\n"
        "run.alert('Halfway', 'checkpoint saved', level='info')\n"
        "run.complete()\n"
        "RunDetails(run).show()",
    )
    server.open_notebook(page, "system.ipynb")
    server.run_all(page)
    widget = page.locator(".jp-OutputArea .rw-page").first
    expect(widget.locator(".rw-alerts .rw-alert")).to_have_count(2, timeout=60_000)
    # The run has ended: its last refresh draws the output anew, then stops polling. Use
    # the output as it is after that.
    expect(widget.locator(".rw-live")).to_have_attribute("title", "", timeout=30_000)
    expect(widget.locator(".rw-alerts")).to_contain_text("Metric loss is NaN")
    expect(widget.locator(".rw-alerts")).to_contain_text("Halfway")
    system = widget.locator("details.rw-system")
    expect(system).to_be_visible()
    expect(system.locator('[data-chart="m:system/process_memory_rss_megabytes"]')).to_be_visible()
    expect(system.locator(".bqplot").first).to_be_visible(timeout=30_000)
    system.scroll_into_view_if_needed()
    screenshot(page, "lab-run-details-system")
    # It folds away.
    system.locator("summary").click()
    expect(system.locator('[data-chart="m:system/process_memory_rss_megabytes"]')).to_be_hidden()
