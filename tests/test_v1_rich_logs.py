"""The reference (Azure ML v1) SDK's rich log methods, as its users write them:
``log_confusion_matrix``, ``log_accuracy_table``, ``log_predictions``, ``log_residuals``; what
``get_metrics`` gives back, and what the view model draws of them."""

from __future__ import annotations

import json

import pytest

from runwidget import Experiment, InvalidValueError, RunFinishedError, Workspace
from runwidget.sources import StoreSource
from runwidget.view import RunView, apply_delta

# The v1 documentation's own examples (its migration guide), as JSON text.
CONF_MATRIX = (
    '{"schema_type": "confusion_matrix", "schema_version": "v1", "data": {"class_labels": '
    '["0", "1", "2", "3"], "matrix": [[3, 0, 1, 0], [0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1]]}}'
)
PREDICTIONS = (
    '{"schema_type": "predictions", "schema_version": "v1", "data": {"bin_averages": [0.25,'
    ' 0.75], "bin_errors": [0.013, 0.042], "bin_counts": [56, 34], "bin_edges": [0.0, 0.5, 1.0]}}'
)


def accuracy_table(labels=("0", "1"), thresholds=(0.0, 0.5, 1.0)) -> dict:
    """As v1 users built it: per class and threshold, [TP, FP, TN, FN]."""
    tables = []
    for c in range(len(labels)):
        rows = []
        for t in thresholds:  # a classifier that is right more often than not
            tp = round(10 * (1 - t) * (0.9 if c else 0.8))
            fp = round(10 * (1 - t) * 0.3)
            rows.append([tp, fp, 10 - fp, 10 - tp])
        tables.append(rows)
    return {
        "schema_type": "accuracy_table",
        "schema_version": "1.0.1",
        "data": {
            "probability_tables": tables,
            "percentile_tables": tables,
            "probability_thresholds": list(thresholds),
            "percentile_thresholds": list(thresholds),
            "class_labels": list(labels),
        },
    }


@pytest.fixture
def run(store_uri: str):
    run = Experiment(Workspace(store_uri), "rich").start_logging()
    yield run
    if run.get_status() == "Running":
        run.complete()


def _view(run) -> RunView:
    view = RunView(StoreSource(run._store, run.id))
    view.refresh()
    return view


def test_rich_metrics_are_kept_and_read_back_as_logged(run) -> None:
    run.log_confusion_matrix("confusion", json.loads(CONF_MATRIX))
    run.log_accuracy_table("accuracy", json.dumps(accuracy_table()))
    run.log_predictions("predictions", PREDICTIONS)
    residuals = {
        "schema_type": "residuals",
        "schema_version": "1.0.0",
        "data": {"bin_edges": [-1.0, 0.0, 1.0], "bin_counts": [4, 6]},
    }
    run.log_residuals("residuals", residuals)
    run.log("accuracy_score", 0.9)
    run.complete()
    metrics = run.get_metrics()
    assert metrics["confusion"] == json.loads(CONF_MATRIX)
    assert metrics["accuracy"] == accuracy_table()
    assert metrics["predictions"]["data"]["bin_counts"] == [56, 34]
    assert metrics["residuals"] == residuals
    assert metrics["accuracy_score"] == 0.9
    assert run.get_metrics(name="confusion") == {"confusion": json.loads(CONF_MATRIX)}
    # They are metrics, not the user's files.
    assert run.get_file_names() == []


def test_the_view_draws_a_heat_map_curves_and_histograms(run) -> None:
    run.log_confusion_matrix("confusion", CONF_MATRIX)
    run.log_accuracy_table("accuracy", accuracy_table())
    run.log_predictions("predictions", PREDICTIONS)
    run.flush()
    plots = {p["name"]: p for p in _view(run).snapshot()["plots"]}
    heat = plots["confusion"]
    assert heat["kind"] == "heatmap" and heat["labels"] == ["0", "1", "2", "3"]
    assert heat["x_label"] == "Predicted label" and heat["y_label"] == "True label"
    assert heat["cells"][0] == [3, 0, 1, 0]
    assert heat["shade"][0] == [0.75, 0.0, 0.25, 0.0]  # the share of the true class's row
    curves = plots["accuracy"]
    assert curves["kind"] == "curves"
    roc, pr = curves["panels"]
    assert (roc["title"], roc["x_label"], roc["y_label"]) == (
        "ROC",
        "False positive rate",
        "True positive rate",
    )
    assert pr["title"] == "Precision-recall" and [s["label"] for s in pr["series"]] == ["0", "1"]
    # Class "1" at threshold 0.5: TP 4 (of 10 positives), FP 2 (of 10 negatives).
    one = roc["series"][1]
    assert (0.2, 0.4) in zip(one["x"], one["y"], strict=True)
    assert one["x"] == sorted(one["x"])
    hist = plots["predictions"]
    assert hist["kind"] == "histogram" and hist["counts"] == [56, 34]
    assert hist["bars"][0] == "0 to 0.5: 56; average prediction 0.25 \u00b1 0.013"


def test_a_new_value_of_a_name_replaces_the_drawn_one_in_a_delta(run) -> None:
    run.log_confusion_matrix("cm", _matrix(["cat", "dog"], [[1, 0], [0, 1]]))
    run.flush()
    view = _view(run)
    before = view.snapshot()
    run.log_confusion_matrix("cm", _matrix(["cat", "dog"], [[5, 1], [2, 7]]))
    run.flush()
    delta = view.refresh()
    assert delta is not None and [p["cells"] for p in delta["plots"]] == [[[5, 1], [2, 7]]]
    assert apply_delta(before, delta)["plots"] == view.snapshot()["plots"]
    assert run.get_metrics()["cm"][1]["data"]["matrix"] == [[5, 1], [2, 7]]  # both kept


def test_a_run_without_rich_metrics_has_no_plots_part(run) -> None:
    run.log("loss", 1.0)
    run.flush()
    assert "plots" not in _view(run).snapshot()


def test_names_and_labels_stay_text(run) -> None:
    evil = '<img src=x onerror="alert(1)">'
    run.log_confusion_matrix(evil, _matrix([evil, "b"], [[1, 0], [0, 1]]))
    run.flush()
    (plot,) = _view(run).snapshot()["plots"]
    assert plot["name"] == evil and plot["labels"][0] == evil  # as logged; drawn as text


def _matrix(labels, matrix) -> dict:
    data = {"class_labels": labels, "matrix": matrix}
    return {"schema_type": "confusion_matrix", "schema_version": "1.0.0", "data": data}


# -- malformed values ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "value", "message"),
    [
        ("log_confusion_matrix", "{not json", r"value is not valid JSON"),
        ("log_confusion_matrix", [[1, 2], [3, 4]], r"value must be a dict \(or its JSON text\)"),
        ("log_confusion_matrix", {"data": {}}, r"value has no 'schema_type' key"),
        (
            "log_confusion_matrix",
            {"schema_type": "accuracy_table", "data": {}},
            r"schema_type must be 'confusion_matrix', got 'accuracy_table'",
        ),
        (
            "log_confusion_matrix",
            _matrix(["a", "b"], [[1, 2]]),
            r"data\['matrix'\] must be a list of 2 rows \(one per class label\), got a list of 1",
        ),
        (
            "log_confusion_matrix",
            _matrix(["a", "b"], [[1, 2], [3]]),
            r"row 1 of data\['matrix'\] must hold 2 counts",
        ),
        ("log_confusion_matrix", _matrix(["a"], [[-1]]), r"must hold counts \(>= 0\), got -1"),
        ("log_confusion_matrix", _matrix(["a"], [["x"]]), r"must hold finite numbers, got 'x'"),
        ("log_confusion_matrix", _matrix([], []), r"class_labels'\] must be a non-empty list"),
        (
            "log_confusion_matrix",
            {"schema_type": "confusion_matrix", "data": {"class_labels": ["a"]}},
            r"data has no 'matrix'; it has \['class_labels'\]",
        ),
        (
            "log_accuracy_table",
            # The v1 migration guide's own example: 2 rows per table but 1 threshold.
            '{"schema_type": "accuracy_table", "schema_version": "v1", "data": {'
            '"probability_tables": [[[114311, 385689, 0, 0], [0, 0, 385689, 114311]], '
            '[[67998, 432002, 0, 0], [0, 0, 432002, 67998]]], "percentile_tables": '
            "[[[114311, 385689, 0, 0], [1, 0, 385689, 114310]], [[67998, 432002, 0, 0], "
            '[1, 0, 432002, 67997]]], "class_labels": ["0", "1"], "probability_thresholds": '
            '[0.52], "percentile_thresholds": [0.09]}}',
            r"table 0 of data\['probability_tables'\] must hold 1 rows \(one per threshold",
        ),
        (
            "log_accuracy_table",
            {**accuracy_table(), "data": {**accuracy_table()["data"], "class_labels": ["1"]}},
            r"must hold 1 tables \(one per class label\), got a list of 2",
        ),
        (
            "log_accuracy_table",
            {
                "schema_type": "accuracy_table",
                "data": {
                    "class_labels": ["1"],
                    "probability_thresholds": [0.5],
                    "probability_tables": [[[1, 2, 3]]],
                },
            },
            r"must be \[TP, FP, TN, FN\], got a list of 3",
        ),
        (
            "log_residuals",
            # The v1 migration guide's example: 3 edges, 4 counts.
            '{"schema_type": "residuals", "schema_version": "v1", "data": {"bin_edges": '
            '[100, 200, 300], "bin_counts": [0.88, 20, 30, 50.99]}}',
            r"one number more than data\['bin_counts'\] \(n \+ 1 edges of n bins\), got 3 edges "
            r"and 4 counts",
        ),
        (
            "log_residuals",
            {"schema_type": "residuals", "data": {"bin_edges": [1, 0], "bin_counts": [1]}},
            r"data\['bin_edges'\] must not decrease",
        ),
        (
            "log_predictions",
            {"schema_type": "predictions", "data": {"bin_edges": [0, 1], "bin_counts": [1]}},
            r"data has no 'bin_averages'",
        ),
        (
            "log_predictions",
            {
                "schema_type": "predictions",
                "data": {"bin_edges": [0, 1], "bin_counts": [1], "bin_averages": [1, 2]},
            },
            r"data\['bin_averages'\] must hold one value per bin \(1\), got 2",
        ),
        (
            "log_residuals",
            {"schema_type": "residuals", "data": {"bin_edges": [0, 1], "bin_counts": [True]}},
            r"bin_counts must hold finite numbers, got True",
        ),
    ],
)
def test_a_malformed_value_is_refused_with_what_is_wrong(run, method, value, message) -> None:
    with pytest.raises(InvalidValueError, match=message):
        getattr(run, method)("m", value)
    run.flush()
    assert run.get_metrics() == {}  # nothing half-written


def test_bad_names_and_ended_runs_are_refused(run) -> None:
    with pytest.raises(InvalidValueError, match="metric name must be a string, got int"):
        run.log_confusion_matrix(3, CONF_MATRIX)
    with pytest.raises(InvalidValueError, match="metric name must not be empty"):
        run.log_predictions(" ", PREDICTIONS)
    run.complete()
    with pytest.raises(RunFinishedError, match="accepts no more data"):
        run.log_confusion_matrix("late", CONF_MATRIX)


def test_the_saved_notebooks_summary_has_the_matrix_as_escaped_text(run) -> None:
    from runwidget.view.summary import summary_html

    evil = "<script>alert(1)</script>"
    run.log_confusion_matrix("cm", _matrix([evil, "b"], [[3, 1], [0, 4]]))
    run.log_accuracy_table("acc", accuracy_table())
    run.flush()
    html = summary_html(_view(run).snapshot())
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "True label \\ Predicted label" in html
    assert ">3</td>" in html and ">4</td>" in html
    assert "Accuracy table (ROC and Precision-recall curves, 2 classes)" in html


def test_sklearn_and_numpy_values_are_taken_as_v1_users_pass_them(run) -> None:
    import numpy as np
    from sklearn.metrics import confusion_matrix

    y_true, y_pred = [0, 1, 1, 2, 2, 2], [0, 1, 2, 2, 2, 1]
    matrix = confusion_matrix(y_true, y_pred)  # an int64 numpy array
    value = {"schema_type": "confusion_matrix", "schema_version": "1.0.0",
             "data": {"class_labels": np.array(["a", "b", "c"]), "matrix": matrix}}  # fmt: skip
    run.log_confusion_matrix("cm", value)
    edges = np.linspace(-1.0, 1.0, 5)
    counts, _ = np.histogram([-0.9, -0.2, 0.1, 0.15, 0.8], bins=edges)
    run.log_residuals("res", {"schema_type": "residuals", "schema_version": "1.0.0",
                              "data": {"bin_edges": edges, "bin_counts": counts}})  # fmt: skip
    run.flush()
    metrics = run.get_metrics()
    assert metrics["cm"]["data"] == {
        "class_labels": ["a", "b", "c"],
        "matrix": [[1, 0, 0], [0, 1, 1], [0, 1, 2]],
    }
    assert metrics["res"]["data"]["bin_counts"] == [1, 1, 2, 1]
    assert type(metrics["res"]["data"]["bin_counts"][0]) is int
