"""Rich metrics (``run.log_confusion_matrix`` and the others) as the plots front ends draw.

The reference's studio drew a confusion matrix as a heat map with its class labels, an
accuracy table as ROC and precision-recall curves, predictions and residuals as
histograms; so do the specs here. Each logged name shows its latest value. Every number a
front end draws is computed here (rates, shades, bar labels); the front ends place them.

Specs (``kind``):

* ``heatmap``: ``labels``, ``cells`` (rows = true class), ``shade`` (each cell's share of
  its row, 0..1), ``x_label``, ``y_label``;
* ``curves``: ``panels`` of ``{title, x_label, y_label, diagonal, series: [{label, colour,
  x, y}]}`` on 0..1 axes;
* ``histogram``: ``edges``, ``counts``, ``bars`` (a text per bar), ``x_label``, ``y_label``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from runwidget.store import FileInfo, rich
from runwidget.view.palette import series_colour

logger = logging.getLogger("runwidget")

# A confusion matrix with more classes is listed, not drawn (its cells would be unreadable).
MAX_CLASSES = 60


class PlotSet:
    """The latest rich metric of each name of a run.

    Args:
        load: reads a rich metric's stored bytes.
    """

    def __init__(self, load: Callable[[FileInfo], bytes]) -> None:
        self.load = load
        self.cursor = 0
        self._plots: dict[str, dict[str, Any]] = {}
        self._changed = False

    def add(self, files: list[FileInfo]) -> None:
        latest: dict[str, FileInfo] = {}
        for info in files:
            latest[info.name or info.path] = info
        for name, info in latest.items():
            try:
                value = rich.decode(self.load(info))
                spec = plot_spec(name, value)
            except (ValueError, KeyError, TypeError, IndexError) as e:
                # Written by a version that stored another shape: left out, not fatal.
                logger.warning("rich metric %r of %s cannot be drawn: %s", name, info.path, e)
                continue
            self._plots.pop(name, None)  # the newest goes last
            self._plots[name] = spec
            self._changed = True
        if files:
            self.cursor = files[-1].seq

    def snapshot(self) -> list[dict[str, Any]]:
        return list(self._plots.values())

    def take_changes(self) -> list[dict[str, Any]] | None:
        """Every plot, when one changed since the last call."""
        if not self._changed:
            return None
        self._changed = False
        return self.snapshot()


def plot_spec(name: str, value: dict[str, Any]) -> dict[str, Any]:
    """The spec of one stored rich metric (see ``runwidget.store.rich``)."""
    schema_type, data = value["schema_type"], value["data"]
    base = {"id": f"{schema_type}:{name}", "name": name, "schema_type": schema_type}
    if schema_type == rich.CONFUSION_MATRIX:
        return {**base, **_heatmap(data)}
    if schema_type == rich.ACCURACY_TABLE:
        return {**base, **_curves(data)}
    if schema_type in (rich.PREDICTIONS, rich.RESIDUALS):
        return {**base, **_histogram(schema_type, data)}
    raise ValueError(f"unknown schema_type {schema_type!r}")


def _heatmap(data: dict[str, Any]) -> dict[str, Any]:
    labels, matrix = data["class_labels"], data["matrix"]
    spec: dict[str, Any] = {
        "kind": "heatmap",
        "title": "Confusion matrix",
        "x_label": "Predicted label",
        "y_label": "True label",
        "labels": labels,
        "cells": [],
        "shade": [],
        "note": None,
    }
    if len(labels) > MAX_CLASSES:
        spec["note"] = (
            f"{len(labels)} classes: too many to draw (at most {MAX_CLASSES}); "
            "run.get_metrics() has the matrix."
        )
        spec["labels"] = []
        return spec
    spec["cells"] = matrix
    for row in matrix:
        total = sum(row)
        spec["shade"].append([round(v / total, 4) if total else 0.0 for v in row])
    return spec


def _rate(num: float, den: float) -> float | None:
    return num / den if den else None


def _curves(data: dict[str, Any]) -> dict[str, Any]:
    labels, tables = data["class_labels"], data["probability_tables"]
    roc, pr = [], []
    for i, (label, table) in enumerate(zip(labels, tables, strict=True)):
        colour = series_colour(i)
        fpr, tpr, recall, precision = [], [], [], []
        for tp, fp, tn, fn in table:
            x, y = _rate(fp, fp + tn), _rate(tp, tp + fn)
            if x is not None and y is not None:
                fpr.append(round(x, 6))
                tpr.append(round(y, 6))
            p = _rate(tp, tp + fp)
            if y is not None and p is not None:
                recall.append(round(y, 6))
                precision.append(round(p, 6))
        roc.append(_ordered(label, colour, fpr, tpr))
        pr.append(_ordered(label, colour, recall, precision))
    return {
        "kind": "curves",
        "title": "Accuracy table",
        "panels": [
            {"title": "ROC", "x_label": "False positive rate", "y_label": "True positive rate",
             "diagonal": True, "series": roc},
            {"title": "Precision-recall", "x_label": "Recall", "y_label": "Precision",
             "diagonal": False, "series": pr},
        ],
    }  # fmt: skip


def _ordered(label: str, colour: str, x: list[float], y: list[float]) -> dict[str, Any]:
    # Thresholds may come in either order: a curve is drawn along its x axis.
    points = sorted(zip(x, y, strict=True))
    return {
        "label": label,
        "colour": colour,
        "x": [p[0] for p in points],
        "y": [p[1] for p in points],
    }


def _number(v: float) -> str:
    return f"{v:.4g}"


def _histogram(schema_type: str, data: dict[str, Any]) -> dict[str, Any]:
    edges, counts = data["bin_edges"], data["bin_counts"]
    averages = data.get("bin_averages")
    errors = data.get("bin_errors")
    bars = []
    for i, count in enumerate(counts):
        text = f"{_number(edges[i])} to {_number(edges[i + 1])}: {_number(count)}"
        if averages is not None and averages[i] is not None:
            text += f"; average prediction {_number(averages[i])}"
            if errors is not None and errors[i] is not None:
                text += f" \u00b1 {_number(errors[i])}"
        bars.append(text)
    predictions = schema_type == rich.PREDICTIONS
    return {
        "kind": "histogram",
        "title": "Predictions" if predictions else "Residuals",
        "x_label": "True value" if predictions else "Residual",
        "y_label": "Count",
        "edges": edges,
        "counts": counts,
        "bars": bars,
        "colour": series_colour(0),
    }
