"""Runs without a kernel, in a real browser: JupyterLab's Runs sidebar and run panel, the
portal served by the Jupyter server, and the standalone portal with its token."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from runwidget import Experiment, ScriptRunConfig, Workspace
from runwidget import status as st

EVIL = "<img src=x onerror=\"document.title='pwned'\">"

TRAIN = """
import math, os, sys, time
from runwidget import Run

run = Run.get_context()
go = sys.argv[1]
deadline = time.time() + 120
while not os.path.exists(go) and time.time() < deadline:  # the test says when to go on
    time.sleep(0.2)
for step in range(24):
    run.log("loss", math.exp(-step / 8), step=step)
    print(f"step {step}", flush=True)
    time.sleep(0.1)
"""


@pytest.fixture
def lab_runs(jupyter_server) -> dict[str, str]:
    """Three finished runs to compare, and one whose name is HTML, in the lab server's store
    (made once per server)."""
    ws = Workspace(jupyter_server("lab").store_uri)
    names = {"lr0": "lr 0.3", "lr1": "lr 0.1", "lr2": "lr 0.03"}
    if "compare" not in {e.name for e in ws.store.list_experiments()}:
        experiment = Experiment(ws, "compare")
        for rate in (0.3, 0.1, 0.03):
            run = experiment.start_logging(display_name=f"lr {rate}")
            for step in range(60):
                run.log("loss", math.exp(-rate * step) + 0.02 * math.sin(step), step=step)
                run.log("accuracy", 1 - math.exp(-rate * step * 1.5), step=step)
            run.log("learning_rate", rate)
            run.complete()
        evil = Experiment(ws, "html <b>names</b>").start_logging(display_name=EVIL)
        evil.log("loss", 1.0)
        evil.complete()
    by_name = {r.display_name: r.id for r in ws.store.list_runs(parent_id=None)}
    return {key: by_name[name] for key, name in names.items()} | {"evil": by_name[EVIL]}


def open_sidebar(server, page: Page) -> None:
    page.goto(f"{server.url}/lab?reset&token={server.token}")
    page.wait_for_function("() => window.jupyterapp !== undefined && window.jupyterapp.runwidget")
    # After the layout is restored: restoring would show the file browser again.
    page.evaluate(
        """async () => {
            await window.jupyterapp.restored;
            window.jupyterapp.shell.activateById('runwidget-runs');
        }"""
    )
    page.wait_for_selector(".rw-sb-row")


def row(page: Page, run_id: str):
    return page.locator(f'.rw-sb-row[data-run-id="{run_id}"]')


def test_sidebar_follows_a_submitted_script_and_opens_it(
    jupyter_server, page: Page, screenshot, lab_runs, tmp_path: Path
) -> None:
    server = jupyter_server("lab")
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(textwrap.dedent(TRAIN))
    go = tmp_path / "go"
    config = ScriptRunConfig(src, "train.py", arguments=[str(go)])
    run = Experiment(Workspace(server.store_uri), "scripts").submit(config)

    # No notebook, no kernel: the page talks only to the server extension.
    deadline = time.monotonic() + 15
    while server.api("GET", "/api/kernels") and time.monotonic() < deadline:
        time.sleep(0.2)  # a kernel of an earlier test may still be shutting down
    assert server.api("GET", "/api/kernels") == []
    open_sidebar(server, page)
    script_row = row(page, run.id)
    expect(script_row).to_have_attribute("data-status", re.compile("Queued|Starting|Running"))

    # The script goes on and ends; the sidebar sees it at its next poll (every 10 s).
    go.touch()
    expect(script_row).to_have_attribute("data-status", st.COMPLETED, timeout=45_000)
    expect(script_row.locator(".rw-sb-metric")).to_have_text(re.compile(r"^loss 0\.0"))

    # A name that is HTML is shown as text.
    evil = row(page, lab_runs["evil"])
    expect(evil.locator(".rw-sb-name")).to_have_text(EVIL)
    assert page.locator(".rw-sidebar img").count() == 0
    assert page.title() != "pwned"
    screenshot(page, "lab-sidebar")

    # Clicking the run opens its view in the main area: charts, output log, downloads.
    script_row.locator(".rw-sb-name").click()
    panel = page.locator(".rw-run-panel")
    expect(panel.locator(".rw-meta")).to_contain_text(run.id, timeout=15_000)
    expect(panel.locator(".rw-status")).to_have_text(st.COMPLETED)
    expect(panel.locator(".rw-uplot canvas").first).to_be_visible()
    expect(panel.locator(".rw-log-lines")).to_contain_text("step 23")
    expect(panel.locator(".rw-downloads")).to_contain_text("snapshot")
    screenshot(page, "lab-run-panel")

    # Its portal link opens the same run on the portal of this Jupyter server.
    href = panel.locator("a.rw-portal").get_attribute("href")
    assert href.endswith(f"/runwidget/runs/{run.id}")
    page.goto(server.url + href)
    expect(page.locator(".rw-meta")).to_contain_text(run.id)
    expect(page.locator(".rw-status")).to_have_text(st.COMPLETED)


def test_run_panel_draws_every_chart(jupyter_server, page: Page, screenshot, lab_runs) -> None:
    server = jupyter_server("lab")
    open_sidebar(server, page)
    row(page, lab_runs["lr0"]).locator(".rw-sb-name").click()
    panel = page.locator(".rw-run-panel")
    expect(panel.locator(".rw-chart")).to_have_count(2)
    for chart in ("m:loss", "m:accuracy"):
        holder = panel.locator(f'.rw-chart[data-chart="{chart}"] .rw-uplot')
        expect(holder.locator("canvas")).to_be_visible()
        expect(holder).to_have_attribute("data-points", "60")
    expect(panel.locator(".rw-properties")).to_contain_text("learning_rate")
    screenshot(page, "lab-run-charts")


def test_portal_compares_three_runs(jupyter_server, page: Page, screenshot, lab_runs) -> None:
    server = jupyter_server("lab")
    page.goto(f"{server.url}/runwidget/?token={server.token}")
    # The experiment named with HTML is a link whose text is that HTML.
    expect(page.locator(".rw-experiments a", has_text="html <b>names</b>")).to_be_visible()
    page.locator(".rw-experiments").get_by_role("link", name="compare", exact=True).click()
    table = page.locator(".rw-runs")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator("thead")).to_contain_text("accuracy (max)")
    for box in table.locator("tbody input[type=checkbox]").all():
        box.check()
    page.click(".rw-compare-button")
    compare = page.locator(".rw-compare")
    expect(compare.locator(".rw-compare-key")).to_have_count(3)
    expect(compare.locator(".rw-chart")).to_have_count(2)  # accuracy, loss
    expect(compare.locator(".rw-chart canvas").first).to_be_visible()
    series = page.evaluate(
        """() => [...document.querySelectorAll('.rw-compare .rw-chart')].map(
            (c) => c.dataset.chart + ':' + c.dataset.points)"""
    )
    assert series == ["accuracy:60", "loss:60"]
    assert "runs=" in page.url
    screenshot(page, "portal-compare")
    # The chart controls, the lines read again through the API: each run against its own
    # start, and every point of the three runs as one CSV.
    loss = compare.locator('.rw-chart[data-chart="loss"]')
    loss.locator("select.rw-x-axis").select_option("relative")
    expect(loss).to_have_attribute("data-x", "relative")
    expect(loss).not_to_have_attribute("data-points", "0")
    with page.expect_download() as download:
        loss.locator("button", has_text="CSV").click()
    rows = download.value.path().read_text().splitlines()
    assert rows[0] == "run,index,step,value,time" and len(rows) == 1 + 3 * 60
    loss.locator("select.rw-x-axis").select_option("data")


@pytest.fixture
def standalone_portal(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``runwidget portal`` on a free port with one run; yields (base URL, token)."""
    uri = f"sqlite:///{tmp_path}/portal.db"
    run = Experiment(Workspace(uri), "standalone").start_logging(display_name="portal run")
    run.log("loss", 0.5)
    run.complete()
    token = "portal-token-1234"
    process = subprocess.Popen(
        [sys.executable, "-m", "runwidget", "portal", "--port", "0", "--store", uri,
         "--token", token],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        url = None
        assert process.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            match = re.search(r"open (http://127\.0\.0\.1:\d+/runwidget/)\?token=", line)
            if match:
                url = match.group(1)
        assert url, "runwidget portal did not print its URL"
        yield url, token
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_standalone_portal_asks_for_its_token(standalone_portal, page: Page, screenshot) -> None:
    url, token = standalone_portal
    assert url.startswith("http://127.0.0.1:")  # bound to this machine only
    page.goto(url)
    expect(page.locator("form.rw-login")).to_be_visible()
    screenshot(page, "portal-login")
    page.fill("#token", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".rw-error")).to_have_text("That is not this portal's token.")
    page.fill("#token", token)
    page.click("button[type=submit]")
    expect(page.locator(".rw-experiments")).to_contain_text("standalone")
    page.locator(".rw-experiments a", has_text="standalone").click()
    page.locator(".rw-runs a", has_text="portal run").click()
    expect(page.locator(".rw-title")).to_have_text("portal run")
    screenshot(page, "portal-run")


def test_insert_run_details_cell_links_to_this_servers_portal(
    jupyter_server, page: Page, screenshot, lab_runs
) -> None:
    server = jupyter_server("lab")
    server.write_notebook("insert.ipynb", "import runwidget")
    server.open_notebook(page, "insert.ipynb")
    page.evaluate("() => window.jupyterapp.shell.activateById('runwidget-runs')")
    target = row(page, lab_runs["lr1"])
    target.hover()
    target.get_by_role("button", name="Insert").click()
    cell = page.locator(".jp-Notebook .jp-Cell").nth(1)
    expect(cell).to_contain_text(f'RunDetails(Workspace().get_run("{lab_runs["lr1"]}")).show()')

    server.run_all(page)
    # The kernel learnt from the server where the run's page is: on this server.
    link = page.locator(".jp-OutputArea a.rw-portal")
    expect(link).to_have_attribute(
        "href", f"{server.url}/runwidget/runs/{lab_runs['lr1']}", timeout=60_000
    )
    screenshot(page, "lab-inserted-cell")


def test_notebook7_sidebar_opens_runs_in_the_portal(jupyter_server, page: Page, screenshot) -> None:
    server = jupyter_server("notebook")
    ws = Workspace(server.store_uri)
    run = Experiment(ws, "notebook 7").start_logging(display_name="nb7 run")
    run.log("loss", 0.25)
    run.complete()
    server.write_notebook("nb7.ipynb", "1")
    page.goto(f"{server.url}/notebooks/nb7.ipynb?token={server.token}")
    page.wait_for_function("() => window.jupyterapp !== undefined && window.jupyterapp.runwidget")
    page.wait_for_selector(".jp-Notebook")
    page.evaluate(
        """async () => {
            const app = window.jupyterapp;
            await app.restored;
            app.shell.expandLeft('runwidget-runs');  // Notebook 7's way to open a side panel
        }"""
    )
    expect(page.locator(".rw-sidebar")).to_be_visible()
    target = row(page, run.id)
    expect(target.locator(".rw-sb-metric")).to_have_text("loss 0.25")
    screenshot(page, "notebook7-sidebar")
    # Notebook 7 has no main-area tabs for a run panel: the run opens on its portal page.
    with page.context.expect_page() as opened:
        target.locator(".rw-sb-name").click()
    portal = opened.value
    expect(portal.locator(".rw-title")).to_have_text("nb7 run")
    portal.close()


def test_sidebar_cancels_a_run(jupyter_server, page: Page) -> None:
    server = jupyter_server("lab")
    run = Experiment(Workspace(server.store_uri), "to cancel").start_logging(display_name="long")
    run.flush()
    open_sidebar(server, page)
    target = row(page, run.id)
    expect(target).to_have_attribute("data-status", st.RUNNING)
    target.hover()
    cancel = target.locator(".rw-sb-cancel")
    cancel.click()
    expect(cancel).to_have_text("Cancel run?")  # asks once more before it cancels
    cancel.click()
    expect(target).to_have_attribute("data-status", st.CANCELED)
    assert Workspace(server.store_uri).store.get_run(run.id).status == st.CANCELED


def test_sidebar_shows_a_status_change_within_two_seconds(
    jupyter_server, page: Page, screenshot
) -> None:
    # The sidebar's timer fires every 10 s; the server's change event makes it read at once.
    server = jupyter_server("lab")
    run = Experiment(Workspace(server.store_uri), "live").start_logging(display_name="watched")
    run.flush()
    open_sidebar(server, page)
    target = row(page, run.id)
    expect(target).to_have_attribute("data-status", st.RUNNING)
    timings = []
    for status in (st.FINALIZING, st.RUNNING, st.COMPLETED):
        page.wait_for_timeout(1500)  # well away from the last read
        changed = time.monotonic()
        Workspace(server.store_uri).store.update_run(run.id, status=status, ended=time.time())
        expect(target).to_have_attribute("data-status", status, timeout=5_000)
        timings.append(time.monotonic() - changed)
    screenshot(page, "lab-sidebar-live")
    assert max(timings) < 2.0, timings
