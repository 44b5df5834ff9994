"""RunDetails on an MLflow run, updating live in a real JupyterLab while a cell is busy."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.ui.test_run_details import WIDGET, _busy, _shot

pytest.importorskip("mlflow")

SETUP = """
import math, threading, time
import mlflow
from mlflow.tracking import MlflowClient
from runwidget import RunDetails

mlflow.set_tracking_uri("sqlite:///mlflow-ui.db")
experiment = mlflow.set_experiment("ui")
parent = MlflowClient().create_run(experiment.experiment_id, run_name="mlflow <b>live</b>")
done = threading.Event()

def train():
    client = MlflowClient()
    with mlflow.start_run(run_id=parent.info.run_id):
        for fold in range(100):
            with mlflow.start_run(run_name=f"fold {fold}", nested=True):
                for epoch in range(4):
                    loss = math.exp(-(fold * 4 + epoch) / 20)
                    mlflow.log_metric("loss", loss, step=epoch)
                    client.log_metric(parent.info.run_id, "cv_loss", loss, step=fold * 4 + epoch)
                    if done.wait(0.15):
                        return

trainer = threading.Thread(target=train, daemon=True)
trainer.start()
"""
SHOW = "details = RunDetails.from_mlflow(parent.info.run_id, interval=1)\ndetails.show()"
BUSY = "time.sleep(8)\ndone.set(); trainer.join()\ntime.sleep(3)"


def _points(page) -> int:
    chart = page.locator(f'{WIDGET} .rw-chart[data-chart="m:cv_loss"] path.line').first
    return len(re.findall(r"[LM]", chart.get_attribute("d") or ""))


def test_mlflow_run_updates_live(jupyter_server, page, screenshot) -> None:
    server = jupyter_server("lab")
    server.write_notebook("mlflow-live.ipynb", SETUP, SHOW, BUSY)
    server.open_notebook(page, "mlflow-live.ipynb")
    server.run_all(page)

    widget = page.locator(WIDGET)
    expect(widget).to_be_visible(timeout=90_000)
    expect(widget.locator(".rw-title")).to_have_text("mlflow <b>live</b>")
    expect(widget.locator(".rw-header .rw-status")).to_have_text("Running", timeout=15_000)
    chart = widget.locator('.rw-chart[data-chart="m:cv_loss"] path.line')
    expect(chart).to_be_visible(timeout=20_000)
    deadline = time.monotonic() + 30
    while not _busy(page):
        assert time.monotonic() < deadline, "the busy cell never started"
        time.sleep(0.2)
    rows = widget.locator(".rw-children tbody tr")
    first_points, first_rows = _points(page), rows.count()
    time.sleep(4)
    assert _busy(page), "the cell ended before the check"
    assert _points(page) > first_points
    assert rows.count() > first_rows
    screenshot(page, "mlflow-live-lab")
    _shot(widget, "widget-mlflow-live")
    expect(widget.locator(".rw-header .rw-status")).to_have_text("Completed", timeout=40_000)
