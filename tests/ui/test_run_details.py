"""RunDetails in a real JupyterLab 4 and Notebook 7: live updates while a cell is busy, the
end of polling, drill-down, iterations, failures. Screenshots go to tests/ui/screenshots/."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect

# Where the harness's screenshot fixture saves too (git-ignored).
SCREENSHOTS = Path(__file__).parent / "screenshots"

XSS = "<img src=x onerror=alert(1)>"
# The widget's page (the sidebar of the JupyterLab extension has a .rw-page too).
WIDGET = ".runwidget > .rw-page"

SETUP = """
import math, threading, time
from runwidget import Experiment, RunDetails
from runwidget.store import Batch

run = Experiment(name="ui").start_logging(display_name="<img src=x onerror=alert(1)>")
run.log("learning_rate", 0.01)
run.tag("team", "vision")

def train():
    # What a training loop logs; the output lines go in as a submitted script's capture does.
    for i in range(100_000):
        run.log("loss", 1 / (i + 1) + 0.05 * math.sin(i / 3), step=i)
        run.log_row("accuracy curve", epoch=i, train=1 - 1 / (i + 2), valid=1 - 1.3 / (i + 2))
        stream = "stderr" if i % 7 == 3 else "stdout"
        line = (stream, f"epoch {i}: loss={1 / (i + 1):.4f}", time.time())
        run._store.write({run.id: Batch(logs=[line])})
        if done.wait(0.25):
            return

done = threading.Event()
trainer = threading.Thread(target=train, daemon=True)
trainer.start()
with run.child_run("evaluation") as child:
    child.log("auc", 0.91)
"""
SHOW = "details = RunDetails(run, interval=1)\ndetails.show()"
# Busy for a while: the widget must keep updating while this cell runs.
BUSY = "time.sleep(9)\ndone.set(); trainer.join()\nrun.complete()\ntime.sleep(4)"
CHECK = (
    "time.sleep(1)\n"
    "print('polling', details.polling, "
    "[t.name for t in threading.enumerate() if t.name.startswith('runwidget-poll')])"
)


def _shot(widget: Locator, name: str) -> None:
    """Save a picture of the widget alone (tests/ui/screenshots/NAME.png)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page = widget.page
    size = page.viewport_size
    # A viewport taller than the widget, so that the picture is the widget alone.
    box = widget.bounding_box()
    page.set_viewport_size(
        {"width": size["width"], "height": max(size["height"], int(box["height"]) + 300)}
    )
    # JupyterLab may re-attach a cell's DOM after the resize (its notebook windowing): the
    # locator finds the widget again on the next try.
    for attempt in range(3):
        try:
            widget.scroll_into_view_if_needed()
            widget.screenshot(path=SCREENSHOTS / f"{name}.png", animations="disabled")
            break
        except PlaywrightError:
            if attempt == 2:
                raise
            page.wait_for_timeout(500)
    page.set_viewport_size(size)


def _busy(page: Page) -> bool:
    """Whether a cell is running (its prompt shows [*])."""
    return page.locator(".jp-InputPrompt", has_text="[*]").count() > 0


def _line_points(page: Page, chart: str) -> int:
    d = page.locator(f'.rw-chart[data-chart="{chart}"] path.line').first.get_attribute("d") or ""
    return len(re.findall(r"[LM]", d))


@pytest.mark.parametrize("kind", ["lab", "notebook"])
def test_live_run_updates_while_a_cell_is_busy(jupyter_server, page, screenshot, kind) -> None:
    server = jupyter_server(kind)
    name = f"live-{kind}.ipynb"
    server.write_notebook(name, SETUP, SHOW, BUSY, CHECK)
    server.open_notebook(page, name)
    server.run_all(page)

    widget = page.locator(WIDGET)
    expect(widget).to_be_visible(timeout=90_000)
    status = widget.locator(".rw-header .rw-status")
    expect(status).to_have_text("Running")
    # The name is drawn as text: no <img> was made from it.
    expect(widget.locator(".rw-title")).to_have_text(XSS)
    assert page.locator(f"{WIDGET} img[src='x']").count() == 0

    lines = widget.locator(".rw-log-lines .rw-line")
    expect(lines.first).to_be_visible(timeout=15_000)
    expect(widget.locator('.rw-chart[data-chart="m:loss"] path.line')).to_be_visible(timeout=15_000)
    # Wait until the busy cell runs, then watch the widget change under it.
    deadline = time.monotonic() + 30
    while not (_busy(page) and "time.sleep(9)" in _running_source(page)):
        assert time.monotonic() < deadline, "the busy cell never started"
        time.sleep(0.2)
    first_lines, first_points = lines.count(), _line_points(page, "m:loss")
    first_duration = widget.locator(".rw-duration").text_content()
    time.sleep(3.5)
    assert _busy(page), "the cell ended before the check"
    assert lines.count() > first_lines
    assert _line_points(page, "m:loss") > first_points
    assert widget.locator(".rw-duration").text_content() != first_duration
    assert widget.locator(".rw-log-lines .rw-stderr").count() > 0
    screenshot(page, f"run-details-live-{kind}")
    _shot(widget, f"widget-live-{kind}")

    expect(status).to_have_text("Completed", timeout=30_000)
    expect(widget.locator(".rw-live")).to_have_text("", timeout=15_000)
    expect(page.locator(".jp-OutputArea-output", has_text="polling False []")).to_be_visible(
        timeout=30_000
    )
    assert page.locator(f"{WIDGET} img[src='x']").count() == 0
    screenshot(page, f"run-details-completed-{kind}")
    _shot(widget, f"widget-completed-{kind}")

    # The notebook as saved carries a final static summary beside the widget.
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    deadline = time.monotonic() + 15
    while "(Completed)" not in (summary := _saved_summary(server.root_dir / name)):
        assert time.monotonic() < deadline, f"saved summary: {summary[:300]}"
        time.sleep(0.3)
    assert XSS not in summary and "&lt;img src=x onerror=alert(1)&gt;" in summary
    assert "accuracy curve" in summary and "evaluation" in summary
    # ... and the widget's own final state, with its series (the lines' points).
    state = _saved_widget_state(server.root_dir / name)
    (view,) = [m["state"]["_snapshot"] for m in state.values() if "_snapshot" in m["state"]]
    assert view["header"]["status"] == "Completed" and view["header"]["display_name"] == XSS
    series = [m["state"]["x"] for m in state.values() if isinstance(m["state"].get("x"), dict)]
    assert max(x["shape"][0] for x in series) > 10, series  # bqplot arrays: dtype, shape, bytes

    # Drill down into the child run and back (the kernel is free now).
    widget.locator(".rw-children tbody tr", has_text="evaluation").click()
    expect(widget.locator(".rw-title")).to_have_text("evaluation", timeout=15_000)
    expect(widget.locator(".rw-properties")).to_contain_text("auc")
    _shot(widget, f"widget-child-{kind}")
    widget.locator(".rw-crumb").click()
    expect(widget.locator(".rw-title")).to_have_text(XSS, timeout=15_000)
    expect(widget.locator('.rw-chart[data-chart="m:loss"] path.line')).to_be_visible()


def _saved_summary(path) -> str:  # noqa: ANN001
    """The text/html beside the widget in the notebook file."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                return "".join(data.get("text/html", ""))
    return ""


def _saved_widget_state(path) -> dict:  # noqa: ANN001
    """The widget models saved in the notebook's metadata, by model id."""
    nb = json.loads(path.read_text())
    return nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]


def _running_source(page: Page) -> str:
    cell = page.locator(".jp-CodeCell", has=page.locator(".jp-InputPrompt", has_text="[*]"))
    return cell.first.locator(".jp-InputArea-editor").inner_text() if cell.count() else ""


VIEWS = """
import io, random, time
from runwidget import Run
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from runwidget import Experiment, RunDetails, Workspace
from runwidget.store import Batch

random.seed(4)
store = Workspace().store
now = time.time()

def iterations(kind, n, params):
    parent = store.create_run(kind, run_type=kind, status="Running", started=now - 900,
                              display_name=f"{kind} search",
                              properties={"primary_metric": "AUC", "goal": "maximize"})
    store.beat([parent.id], time.time())
    for i in range(n):
        props = {"iteration": i, **params(i)}
        last = ["Running", "Running", "Failed", "Canceled", "NotStarted", "NotStarted"]
        status = "Completed" if i < n - 6 else last[i - (n - 6)]
        child = store.create_run(kind, parent_id=parent.id, run_type="child", properties=props,
                                 status=status,
                                 started=None if status == "NotStarted" else now - 900 + 20 * i)
        store.beat([child.id], time.time())
        if status == "Completed":
            auc = 0.7 + 0.25 * random.random()
            store.write({child.id: Batch(metrics=[("AUC", "scalar", None, auc, now),
                                                  ("log_loss", "scalar", None, 1.2 - auc, now)])})
            store.update_run(child.id, status="Completed", ended=now - 880 + 20 * i)
        elif status in ("Failed", "Canceled"):
            store.update_run(child.id, status=status, ended=now - 890 + 20 * i,
                             error={"message": "MemoryError"} if status == "Failed" else None)
    return parent.id

algorithms = ["LightGBM", "XGBoost", "RandomForest", "LogisticRegression", "ExtraTrees"]
scalers = ["StandardScaler", "MaxAbsScaler"]
automl = iterations("automl", 40, lambda i: {"preprocessor": scalers[i % 2],
                                             "algorithm": algorithms[i % 5]})
sweep = iterations("sweep", 24, lambda i: {"learning_rate": round(10 ** random.uniform(-3, -1), 4),
                                           "max_depth": random.choice([3, 5, 7, 9]),
                                           "booster": random.choice(["gbtree", "dart"])})

failed = Experiment(name="scripts").start_logging(display_name="train.py")
for epoch in range(30):
    failed.log("loss", 1 / (epoch + 1), step=epoch)
fig, ax = plt.subplots(figsize=(3, 2.4))
ax.imshow([[50, 3, 1], [4, 45, 2], [0, 6, 48]], cmap="Blues")
ax.set_title("confusion matrix")
failed.log_image("confusion", plot=fig)
failed._store.write({failed.id: Batch(logs=[
    ("stdout", "loading data: 50000 rows", now), ("stdout", "epoch 29: loss=0.0333", now),
    ("stderr", "Traceback (most recent call last):", now),
    ("stderr", "ValueError: <b>bad</b> input shape (3, 4)", now)])})
failed.flush()
try:
    raise ValueError("<b>bad</b> input shape (3, 4)")
except ValueError as e:
    failed.fail(e)
"""


def test_automl_sweep_and_failed_views(jupyter_server, page, screenshot) -> None:
    server = jupyter_server("lab")
    server.write_notebook(
        "views.ipynb",
        VIEWS,
        "RunDetails(Run.get(Workspace(), automl), interval=2).show()",
        "RunDetails(Run.get(Workspace(), sweep), interval=2).show()",
        "RunDetails(failed).show()",
    )
    server.open_notebook(page, "views.ipynb")
    server.run_all(page)
    pages = page.locator(WIDGET)
    expect(pages).to_have_count(3, timeout=90_000)
    automl, sweep, failed = pages.nth(0), pages.nth(1), pages.nth(2)

    expect(automl.locator(".rw-section-title", has_text="AutoML iterations")).to_be_visible()
    expect(automl.locator(".rw-strip-cell")).to_have_count(40)
    expect(automl.locator('.rw-strip-cell[data-status="Failed"]')).to_have_count(1)
    expect(automl.locator(".rw-iterations tbody tr")).to_have_count(10)
    expect(automl.locator(".rw-best")).to_contain_text("Best AUC (maximize)")
    expect(
        automl.locator(
            '.rw-chart[data-chart="it:AUC"] .scatter, .rw-chart[data-chart="it:AUC"] path.dot'
        ).first
    ).to_be_attached(timeout=15_000)
    # Sorted by the goal: the first row has the best metric.
    first_metric = float(
        automl.locator(".rw-iterations tbody tr").first.locator("td").nth(2).text_content()
    )
    best_text = automl.locator(".rw-best strong").text_content()
    assert first_metric == pytest.approx(float(best_text), abs=1e-5)
    # Paging works in the browser.
    automl.locator(".rw-iterations .rw-page-next").click()
    expect(automl.locator(".rw-iterations .rw-page-info")).to_contain_text("2 / 4")
    # The metric choice switches charts without the kernel.
    automl.locator(".rw-metric-select").select_option("log_loss")
    expect(automl.locator('.rw-chart[data-chart="it:log_loss"]')).to_be_visible()
    expect(automl.locator('.rw-chart[data-chart="it:AUC"]')).to_be_hidden()
    automl.locator(".rw-metric-select").select_option("AUC")
    _shot(automl, "widget-automl")

    expect(sweep.locator(".rw-parcoords polyline")).to_have_count(18)
    expect(sweep.locator(".rw-iterations thead")).to_contain_text("learning_rate")
    _shot(sweep, "widget-sweep")

    expect(failed.locator(".rw-header .rw-status")).to_have_text("Failed")
    expect(failed.locator(".rw-error-message")).to_have_text(
        "ValueError: <b>bad</b> input shape (3, 4)"
    )
    expect(failed.locator(".rw-log-lines .rw-stderr")).to_have_count(2)
    expect(failed.locator(".rw-gallery img")).to_have_count(1)
    assert page.locator(f"{WIDGET} b").count() == 0
    _shot(failed, "widget-failed")
    # The full log is one click away, in a tab of its own, as text.
    with page.context.expect_page() as opened:
        failed.locator(".rw-full-log").click()
    log_tab = opened.value
    expect(log_tab.locator("body")).to_contain_text("ValueError: <b>bad</b> input shape (3, 4)")
    assert log_tab.locator("b").count() == 0
    log_tab.close()

    # JupyterLab's dark theme: the widget follows it.
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', "
        "{theme: 'JupyterLab Dark'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'")
    time.sleep(1)
    _shot(failed, "widget-failed-dark")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', "
        "{theme: 'JupyterLab Light'})"
    )
    screenshot(page, "run-details-views")


def test_a_reloaded_page_shows_the_run(jupyter_server, page, screenshot) -> None:
    server = jupyter_server("lab")
    server.write_notebook("reload.ipynb", SETUP, SHOW)
    server.open_notebook(page, "reload.ipynb")
    server.run_all(page)
    widget = page.locator(WIDGET)
    lines = widget.locator(".rw-log-lines .rw-line")
    expect(lines.nth(5)).to_be_attached(timeout=90_000)
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    deadline = time.monotonic() + 15
    while not _saved_summary(server.root_dir / "reload.ipynb"):
        assert time.monotonic() < deadline, "the notebook was not saved"
        time.sleep(0.3)
    # Reloaded while the run goes on: the widget comes back from the kernel's copy of the
    # view, with its charts and log, not from the first (empty) view.
    page.reload()
    page.wait_for_selector(".jp-Notebook")
    expect(widget.locator(".rw-header .rw-status")).to_have_text("Running", timeout=60_000)
    expect(widget.locator('.rw-chart[data-chart="m:loss"] path.line')).to_be_visible()
    # ... and goes on from there.
    count = lines.count()
    expect(lines.nth(count + 3)).to_be_attached(timeout=15_000)
    assert page.locator(".rw-notice", has_text="updates were missed").count() == 0
    screenshot(page, "run-details-reloaded")
    # Clicks of the reloaded page reach the kernel: into the child run and back.
    widget.locator(".rw-children tbody tr", has_text="evaluation").click()
    expect(widget.locator(".rw-title")).to_have_text("evaluation", timeout=15_000)
    widget.locator(".rw-crumb").click()
    expect(widget.locator(".rw-title")).to_have_text(XSS, timeout=15_000)
    expect(lines.nth(3)).to_be_attached(timeout=15_000)
