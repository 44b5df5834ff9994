"""v1's rich metrics and model registry as a person sees them: the confusion matrix's heat
map and the accuracy table's curves in the notebook widget (light and dark JupyterLab themes)
and on the standalone portal's run page, and the portal's Models page. Screenshots go to
tests/ui/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from runwidget import Experiment, Workspace
from tests.test_server_hardening import TOKEN, running_portal
from tests.ui.test_run_details import WIDGET, _shot

XSS = "<img src=x onerror=alert(1)>"

LOG = f"""
import json
from runwidget import Experiment, RunDetails

run = Experiment(name="rich").start_logging(display_name="evaluation")
labels = ["cat", "dog", {XSS!r}]
run.log_confusion_matrix("confusion_matrix", {{
    "schema_type": "confusion_matrix", "schema_version": "1.0.0",
    "data": {{"class_labels": labels, "matrix": [[41, 6, 3], [4, 37, 9], [2, 8, 40]]}},
}})
thresholds = [i / 20 for i in range(21)]
def table(shift):
    rows = []
    for t in thresholds:
        tp = round(50 * (1 - t ** (1 + shift)))
        fp = round(50 * (1 - t) ** (2 + shift))
        rows.append([tp, fp, 50 - fp, 50 - tp])
    return rows
run.log_accuracy_table("accuracy_table", json.dumps({{
    "schema_type": "accuracy_table", "schema_version": "1.0.1",
    "data": {{"class_labels": ["cat", "dog"], "probability_thresholds": thresholds,
             "probability_tables": [table(0), table(1.5)]}},
}}))
run.log_residuals("residuals", {{
    "schema_type": "residuals", "schema_version": "1.0.0",
    "data": {{"bin_edges": [-1.5, -1, -0.5, 0, 0.5, 1, 1.5], "bin_counts": [2, 7, 19, 23, 8, 3]}},
}})
run.log_predictions("predictions", {{
    "schema_type": "predictions", "schema_version": "v1",
    "data": {{"bin_averages": [0.25, 0.75], "bin_errors": [0.013, 0.042],
             "bin_counts": [56, 34], "bin_edges": [0.0, 0.5, 1.0]}},
}})
run.complete()
"""


def _check_drawn(root: Locator) -> None:
    """What the view model sent is on the page: 9 cells with their counts and labels as
    text, ROC and precision-recall panels with a curve per class, two histograms."""
    cells = root.locator(".rw-heat-cell")
    expect(cells).to_have_count(9)
    expect(cells.first).to_contain_text("41")
    heat = root.locator(".rw-plot-heatmap")
    expect(heat).to_contain_text("Predicted label")
    expect(heat).to_contain_text(XSS)  # a label drawn as text
    assert heat.locator("img").count() == 0
    panels = root.locator(".rw-plot-curves .rw-plot-panel")
    expect(panels).to_have_count(2)
    expect(panels.nth(0).locator(".rw-plot-subtitle")).to_have_text("ROC")
    expect(panels.nth(1).locator(".rw-plot-subtitle")).to_have_text("Precision-recall")
    expect(panels.nth(0).locator("polyline")).to_have_count(2)
    expect(root.locator(".rw-plot-histogram")).to_have_count(2)
    expect(root.locator(".rw-plot-histogram .rw-plot-bar")).to_have_count(8)
    # The diagonal and the curves are inside the 0..1 frame. Read until both are laid out:
    # a live refresh may redraw the panel between the two reads (a box is None then).
    frame, line = panels.nth(0).locator(".rw-plot-frame"), panels.nth(0).locator("polyline").first
    for _ in range(50):
        box, curve = frame.bounding_box(), line.bounding_box()
        if box and curve:
            break
        root.page.wait_for_timeout(100)
    assert box and curve and curve["width"] > box["width"] * 0.8, (box, curve)


def test_widget_draws_the_confusion_matrix_and_accuracy_table(jupyter_server, page: Page) -> None:
    server = jupyter_server("lab")
    server.write_notebook("rich.ipynb", LOG, "RunDetails(run).show()")
    server.open_notebook(page, "rich.ipynb")
    server.run_all(page)
    widget = page.locator(WIDGET)
    expect(widget.locator(".rw-status")).to_have_text("Completed", timeout=60_000)
    _check_drawn(widget)
    expect(widget.locator(".rw-plot-title").first).to_contain_text("confusion_matrix")
    _shot(widget, "lab-rich-metrics-light")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', "
                  "{theme: 'JupyterLab Dark'})")  # fmt: skip
    expect(page.locator("body[data-jp-theme-light='false']")).to_have_count(1, timeout=20_000)
    _check_drawn(widget)
    _shot(widget, "lab-rich-metrics-dark")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', "
                  "{theme: 'JupyterLab Light'})")  # fmt: skip


@pytest.fixture
def rich_portal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, str]]:
    """``runwidget portal`` over a store with the rich run and two registered model
    versions; yields (base URL, token, run id)."""
    uri = f"sqlite:///{tmp_path}/rich.db"
    monkeypatch.setenv("RUNWIDGET_STORE", uri)  # the default workspace of the notebook code
    namespace: dict = {}
    exec(LOG, namespace)  # the notebook's own cell
    run = namespace["run"]
    trained = Experiment(Workspace(uri), "train").start_logging(outputs=False)
    trained.upload_file("outputs/model.pkl", __file__)
    trained.complete()
    trained.register_model("churn-model", "outputs/model.pkl", tags={"stage": XSS},
                           description="Gradient boosting")  # fmt: skip
    trained.register_model("churn-model", "outputs/model.pkl", tags={"stage": "prod"})
    with running_portal(uri) as portal:  # `runwidget portal`'s serve, in a thread
        yield f"http://127.0.0.1:{portal.port}/runwidget/", TOKEN, run.id


def test_portal_draws_rich_metrics_and_lists_models(rich_portal, page: Page, screenshot) -> None:
    url, token, run_id = rich_portal
    page.goto(url)
    page.fill("#token", token)
    page.click("button[type=submit]")
    expect(page.locator(".rw-experiments")).to_contain_text("rich")
    page.goto(f"{url}runs/{run_id}")
    expect(page.locator(".rw-title")).to_have_text("evaluation")
    _check_drawn(page.locator(".rw-page").first)
    page.locator(".rw-plots").scroll_into_view_if_needed()
    screenshot(page, "portal-rich-metrics")

    page.locator(".rw-portal-nav a", has_text="Models").click()
    table = page.locator(".rw-models")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table.locator("tbody tr").first).to_contain_text("churn-model")
    expect(table.locator("tbody tr").first).to_contain_text("prod")
    expect(table).to_contain_text(XSS)  # a tag drawn as text
    assert table.locator("img").count() == 0
    expect(table).to_contain_text("Gradient boosting")
    screenshot(page, "portal-models")
    with page.expect_download() as download:
        table.locator("tbody tr").first.locator("a.rw-model-download").click()
    assert download.value.suggested_filename == "model.pkl"
    assert Path(download.value.path()).read_bytes() == Path(__file__).read_bytes()
