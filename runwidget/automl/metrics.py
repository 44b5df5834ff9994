"""The metrics of one iteration, computed on held-out rows (names in ``catalog``).

A metric that cannot be computed for some data (AUC with a class missing from a fold,
Spearman's correlation of constant predictions) is NaN, and left out when averaging folds.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from runwidget.automl import catalog


def scores_of(model: Any, X: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(probabilities, ranking scores)`` of a fitted classifier for ``X``.

    Probabilities come from ``predict_proba`` (None without it). Ranking scores, used for
    AUC and average precision, are the probabilities, else the decision function turned into
    one column per class (a softmax for several classes).
    """
    if hasattr(model, "predict_proba"):
        try:
            proba = np.asarray(model.predict_proba(X), dtype=float)
        except AttributeError:  # e.g. an SVC without probability=True
            proba = None
        if proba is not None:
            return proba, proba
    if not hasattr(model, "decision_function"):
        return None, None
    decision = np.asarray(model.decision_function(X), dtype=float)
    if decision.ndim == 1:
        return None, np.column_stack([-decision, decision])
    shifted = np.exp(decision - decision.max(axis=1, keepdims=True))
    return None, shifted / shifted.sum(axis=1, keepdims=True)


def classification(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: np.ndarray,
    proba: np.ndarray | None,
    scores: np.ndarray | None,
) -> dict[str, float]:
    """Every classification metric of ``catalog.CLASSIFICATION_METRICS``.

    ``classes`` orders the columns of ``proba`` and ``scores`` (the model's ``classes_``).
    """
    from sklearn import metrics as m
    from sklearn.preprocessing import label_binarize

    k = len(classes)
    out: dict[str, float] = {}
    computations: dict[str, Callable[[], float]] = {
        "accuracy": lambda: m.accuracy_score(y_true, y_pred),
        "balanced_accuracy": lambda: m.balanced_accuracy_score(y_true, y_pred),
        "f1_score_weighted": lambda: m.f1_score(
            y_true, y_pred, average="weighted", zero_division=0
        ),
        "f1_score_macro": lambda: m.f1_score(y_true, y_pred, average="macro", zero_division=0),
        "precision_score_weighted": lambda: m.precision_score(
            y_true, y_pred, average="weighted", zero_division=0
        ),
        "recall_score_weighted": lambda: m.recall_score(
            y_true, y_pred, average="weighted", zero_division=0
        ),
        "norm_macro_recall": lambda: (
            (m.recall_score(y_true, y_pred, average="macro", zero_division=0) - 1 / k) / (1 - 1 / k)
        ),
    }
    if scores is not None:
        if k == 2:
            positive = y_true == classes[1]
            computations["AUC_weighted"] = lambda: m.roc_auc_score(positive, scores[:, 1])
            computations["average_precision_score_weighted"] = lambda: m.average_precision_score(
                positive, scores[:, 1]
            )
        else:
            computations["AUC_weighted"] = lambda: m.roc_auc_score(
                y_true, scores, multi_class="ovr", average="weighted", labels=classes
            )
            computations["average_precision_score_weighted"] = lambda: m.average_precision_score(
                label_binarize(y_true, classes=classes), scores, average="weighted"
            )
    if proba is not None:
        computations["log_loss"] = lambda: m.log_loss(y_true, proba, labels=classes)
    for name in catalog.CLASSIFICATION_METRICS:
        out[name] = _safely(computations.get(name))
    return out


def regression(y_true: np.ndarray, y_pred: np.ndarray, y_range: float) -> dict[str, float]:
    """Every regression metric of ``catalog.REGRESSION_METRICS``; the normalised errors are
    divided by ``y_range``, the range of the whole training target."""
    from scipy import stats
    from sklearn import metrics as m

    def rmse() -> float:
        return float(np.sqrt(m.mean_squared_error(y_true, y_pred)))

    computations: dict[str, Callable[[], float]] = {
        "r2_score": lambda: m.r2_score(y_true, y_pred),
        "explained_variance": lambda: m.explained_variance_score(y_true, y_pred),
        "spearman_correlation": lambda: stats.spearmanr(y_true, y_pred)[0],
        "root_mean_squared_error": rmse,
        "mean_absolute_error": lambda: m.mean_absolute_error(y_true, y_pred),
        "median_absolute_error": lambda: m.median_absolute_error(y_true, y_pred),
        "normalized_root_mean_squared_error": lambda: rmse() / y_range,
        "normalized_mean_absolute_error": lambda: m.mean_absolute_error(y_true, y_pred) / y_range,
    }
    return {name: _safely(computations[name]) for name in catalog.REGRESSION_METRICS}


def average(folds: list[dict[str, float]]) -> dict[str, float]:
    """The mean of each metric over the folds where it is a number (NaN where it is none)."""
    out: dict[str, float] = {}
    for name in folds[0]:
        values = np.array([fold.get(name, np.nan) for fold in folds], dtype=float)
        finite = values[np.isfinite(values)]
        out[name] = float(finite.mean()) if finite.size else float("nan")
    return out


def _safely(compute: Callable[[], float] | None) -> float:
    if compute is None:
        return float("nan")
    try:
        with warnings.catch_warnings():
            # Undefined cases (one class in a fold, constant predictions) give NaN here.
            warnings.simplefilter("ignore")
            value = float(compute())
    except (ValueError, ZeroDivisionError, FloatingPointError):
        return float("nan")
    return value if np.isfinite(value) else float("nan")
