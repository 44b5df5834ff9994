"""What a RunDetails output keeps for a notebook reopened without its kernel: the run's id, its
store as the Jupyter server names it, and its name (runwidget/widgets/reopen.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from runwidget import Experiment, RunDetails, Workspace
from runwidget.server.service import RunService
from runwidget.sources.store import StoreSource
from runwidget.widgets.reopen import (
    BUNDLE_VERSION,
    RUN_MIME,
    RUNS_MIME,
    run_reference,
    runs_reference,
)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def experiment(sqlite_uri: str) -> Experiment:
    return Experiment(Workspace(sqlite_uri), "reopen-tests")


def test_the_output_names_the_run_and_its_store_as_the_server_does(
    experiment: Experiment,
) -> None:
    run = experiment.start_logging(display_name="<b>bold</b> run")
    run.log("loss", 0.5)
    run.flush()
    widget = RunDetails(run, interval=0.2)
    try:
        bundle, model_id = widget._mimebundle(), widget.model_id
    finally:
        widget.close()
    # Every part is still there: the live widget, the summary for other viewers, the text.
    assert bundle[WIDGET_VIEW]["model_id"] == model_id
    assert "text/html" in bundle and "text/plain" in bundle
    served = RunService(run._store, api_url="/runwidget/api").status()["store"]
    assert bundle[RUN_MIME] == {
        "version": BUNDLE_VERSION,
        "run_id": run.id,
        "store": served,
        "name": "<b>bold</b> run",  # drawn as text by the front end
    }


def test_after_a_drill_down_the_output_names_the_run_shown(experiment: Experiment) -> None:
    run = experiment.start_logging(display_name="parent")
    with run.child_run("child") as child:
        child.log("auc", 0.9)
    run.complete()
    widget = RunDetails(run, interval=0.2)
    try:
        widget.open_child(child.id)
        assert widget._mimebundle()[RUN_MIME]["run_id"] == child.id
    finally:
        widget.close()


def _view_of(source: object) -> SimpleNamespace:
    header = {"run_id": "r-1", "display_name": ""}
    return SimpleNamespace(source=source, snapshot=lambda with_series: {"header": header})


def test_a_password_in_the_store_uri_never_reaches_the_notebook() -> None:
    source = StoreSource.__new__(StoreSource)  # a PostgreSQL store, not opened here
    source._run_id = "r-1"
    source._store = SimpleNamespace(uri="postgresql+psycopg://team:s3cret@db.example/runs")
    reference = run_reference(_view_of(source))[RUN_MIME]
    assert reference["store"] == "postgresql+psycopg://team:***@db.example/runs"
    assert "s3cret" not in repr(reference)
    assert reference["name"] == "r-1"  # no display name: the id


def test_sources_no_server_serves_carry_no_reference() -> None:
    mlflow_like = SimpleNamespace(run_id="abc")
    assert run_reference(_view_of(mlflow_like)) == {}


def test_a_comparison_names_its_runs_and_their_store(experiment: Experiment, tmp_path) -> None:
    runs = []
    for name in ("<b>a</b>", "b"):
        run = experiment.start_logging(display_name=name)
        run.log("loss", 0.5)
        run.complete()
        runs.append(run)
    widget = RunDetails(runs)
    try:
        data, _metadata = widget._repr_mimebundle_()
        model_id = widget.model_id
    finally:
        widget.close()
    assert data[WIDGET_VIEW]["model_id"] == model_id
    served = RunService(runs[0]._store, api_url="/runwidget/api").status()["store"]
    assert data[RUNS_MIME] == {
        "version": BUNDLE_VERSION,
        "store": served,
        "runs": [{"run_id": r.id, "name": n} for r, n in zip(runs, ("<b>a</b>", "b"), strict=True)],
    }
    # The summary for viewers without widgets, and when the server serves another store.
    assert "Compare 2 runs" in data["text/html"] and "&lt;b&gt;a&lt;/b&gt;" in data["text/html"]
    assert "<b>a</b>" not in data["text/html"]

    other = Experiment(Workspace(f"sqlite:///{tmp_path / 'other.db'}"), "other")
    elsewhere = other.start_logging()
    elsewhere.complete()
    mixed = RunDetails([runs[0], elsewhere])
    try:
        assert RUNS_MIME not in mixed._repr_mimebundle_()[0]  # no one server serves both
    finally:
        mixed.close()


def test_a_comparison_of_sources_no_server_serves_carries_no_reference() -> None:
    assert runs_reference([SimpleNamespace(run_id="abc")], [{"name": "x"}]) == {}
    assert runs_reference([], []) == {}
