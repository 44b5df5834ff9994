"""A real AutoML search and a real Optuna study, watched in the browser: iterations appear in
the AutoML (and sweep) view while a cell is busy. Screenshots go to tests/ui/screenshots/."""

from __future__ import annotations

import time

from playwright.sync_api import Locator, Page, expect

from tests.ui.test_run_details import WIDGET, _busy, _running_source, _shot

AUTOML = """
import threading, time
from sklearn.datasets import load_breast_cancer
from runwidget import AutoMLConfig, Experiment, RunDetails

data = load_breast_cancer(as_frame=True).frame
run = Experiment(name="ui-automl").submit(AutoMLConfig(
    task="classification",
    primary_metric="AUC_weighted",
    training_data=data,
    label_column_name="target",
    iterations=12,
    n_cross_validations=3,
    allowed_models=["LogisticRegression", "KNN"],
    random_state=0,
))
"""
SHOW = "details = RunDetails(run, interval=1)\ndetails.show()"
# Busy until the search has ended: the widget must fill in meanwhile.
WAIT = "run.wait_for_completion()\ntime.sleep(3)"
CHECK = (
    "time.sleep(1)\n"
    "print('polling', details.polling, "
    "[t.name for t in threading.enumerate() if t.name.startswith('runwidget-poll')])"
)


def _wait_busy_with(page: Page, source: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (_busy(page) and source in _running_source(page)):
        assert time.monotonic() < deadline, f"the cell {source!r} never started"
        time.sleep(0.2)


def _counts(widget: Locator) -> tuple[int, int]:
    cells = widget.locator(".rw-strip-cell")
    return cells.count(), widget.locator('.rw-strip-cell[data-status="Completed"]').count()


def test_automl_iterations_appear_live(jupyter_server, page, screenshot) -> None:
    server = jupyter_server("lab")
    server.write_notebook("automl-live.ipynb", AUTOML, SHOW, WAIT, CHECK)
    server.open_notebook(page, "automl-live.ipynb")
    server.run_all(page)

    widget = page.locator(WIDGET)
    expect(widget).to_be_visible(timeout=90_000)
    expect(widget.locator(".rw-section-title", has_text="AutoML iterations")).to_be_visible(
        timeout=60_000
    )
    _wait_busy_with(page, "run.wait_for_completion()")
    # Watch the heat strip fill in while the cell is busy.
    seen: list[tuple[int, int]] = []
    deadline = time.monotonic() + 180
    while _busy(page) and time.monotonic() < deadline:
        seen.append(_counts(widget))
        if seen[-1][1] >= 6 and len({s for s in seen}) >= 3:
            break
        time.sleep(0.3)
    assert _busy(page), f"the search ended before the check: {seen}"
    assert len({s for s in seen}) >= 3, seen  # the strip changed several times under a busy cell
    screenshot(page, "automl-live-lab")
    _shot(widget, "widget-automl-live")

    status = widget.locator(".rw-header .rw-status")
    expect(status).to_have_text("Completed", timeout=180_000)
    expect(widget.locator(".rw-strip-cell")).to_have_count(12, timeout=30_000)
    expect(widget.locator('.rw-strip-cell[data-status="Completed"]')).to_have_count(12)
    expect(widget.locator(".rw-best")).to_contain_text("AUC_weighted")
    expect(page.locator(".jp-OutputArea-output", has_text="polling False []")).to_be_visible(
        timeout=60_000
    )
    _shot(widget, "widget-automl-completed")
    # An iteration opens with its pipeline's hyperparameters.
    widget.locator(".rw-iterations tbody tr").first.click()
    expect(widget.locator(".rw-properties")).to_contain_text("pipeline", timeout=15_000)
    expect(widget.locator(".rw-properties")).to_contain_text("AUC_weighted")
    _shot(widget, "widget-automl-iteration")


STUDY = """
import threading, time
import optuna
from runwidget import RunDetails
from runwidget.sources.optuna import OptunaSource

optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(directions=["maximize", "minimize"])

def objective(trial):
    x = trial.suggest_float("x", 0, 1)
    y = trial.suggest_int("depth", 1, 8)
    time.sleep(0.4)
    return x + 0.05 * y, (1 - x) ** 2 + 0.01 * y

optimizer = threading.Thread(target=study.optimize, args=(objective,), kwargs={"n_trials": 20})
optimizer.start()

# A single-objective study that reports intermediate values (and prunes).
curves = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=3))

def learning(trial):
    rate = trial.suggest_float("rate", 0.01, 1.0, log=True)
    loss = 1.0
    for epoch in range(8):
        loss *= 1 - rate / 2
        trial.report(loss, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return loss

curves.optimize(learning, n_trials=12)
"""
SHOW_STUDY = "details = RunDetails(OptunaSource(study, idle_timeout=2), interval=1)\ndetails.show()"
SHOW_CURVES = "RunDetails(curves).show()"
WAIT_STUDY = "optimizer.join()\ntime.sleep(4)"


def test_optuna_study_trials_appear_live(jupyter_server, page, screenshot) -> None:
    server = jupyter_server("notebook")
    server.write_notebook("study-live.ipynb", STUDY, SHOW_STUDY, WAIT_STUDY, CHECK, SHOW_CURVES)
    server.open_notebook(page, "study-live.ipynb")
    server.run_all(page)

    widget = page.locator(WIDGET).first
    expect(widget).to_be_visible(timeout=90_000)
    _wait_busy_with(page, "optimizer.join()")
    first = _counts(widget)
    time.sleep(3)
    assert _busy(page), "the study ended before the check"
    assert _counts(widget)[1] > first[1]
    status = widget.locator(".rw-header .rw-status")
    expect(status).to_have_text("Completed", timeout=60_000)
    expect(widget.locator(".rw-strip-cell")).to_have_count(20)
    # Each objective, and the Pareto front marked, in the sweep's table.
    expect(widget.locator(".rw-iterations thead")).to_contain_text("pareto_front")
    expect(widget.locator(".rw-parcoords polyline")).to_have_count(20)
    expect(page.locator(".jp-OutputArea-output", has_text="polling False []")).to_be_visible(
        timeout=60_000
    )
    _shot(widget, "widget-optuna-study")

    # The intermediate values: one line per trial in the study's chart.
    curves = page.locator(WIDGET).nth(1)
    chart = curves.locator('.rw-chart[data-chart="m:intermediate values"]')
    expect(chart).to_be_visible(timeout=60_000)
    expect(chart.locator("path.line")).to_have_count(12)
    expect(curves.locator('.rw-strip-cell[data-status="Canceled"]').first).to_be_visible()
    _shot(curves, "widget-optuna-curves")
