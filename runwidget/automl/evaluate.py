"""One iteration's work: fit a pipeline spec on the training folds, score it on the held-out
rows, and fit the model to keep. Runs in the iteration process (``worker.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from runwidget.automl import catalog, metrics, pipelines


@dataclass
class Data:
    """The training data and its fixed splits: every iteration is scored on the same rows."""

    X: pd.DataFrame
    y: pd.Series
    splits: list[tuple[np.ndarray, np.ndarray]]  # (train rows, validation rows)
    refit_on_all: bool  # cross-validation: the kept model is refitted on every row
    y_range: float = 1.0
    _classes: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def prepare(cls, frame: pd.DataFrame, settings: dict[str, Any]) -> Data:
        label = settings["label_column_name"]
        columns = list(settings["numeric_columns"]) + list(settings["categorical_columns"])
        X = frame[columns]
        y = frame[label]
        classify = settings["task"] == catalog.CLASSIFICATION
        seed = int(settings["random_state"])
        validation = settings["validation"]
        rows = np.arange(len(frame))
        if "folds" in validation:
            from sklearn.model_selection import KFold, StratifiedKFold

            kind = StratifiedKFold if classify else KFold
            splitter = kind(n_splits=int(validation["folds"]), shuffle=True, random_state=seed)
            splits = [(a, b) for a, b in splitter.split(rows, y if classify else None)]
            refit = True
        else:
            from sklearn.model_selection import train_test_split

            train, held = train_test_split(
                rows,
                test_size=float(validation["size"]),
                random_state=seed,
                stratify=y if classify else None,
            )
            splits, refit = [(np.sort(train), np.sort(held))], False
        data = cls(X, y, splits, refit)
        if not classify:
            values = y.to_numpy(dtype=float)
            span = float(values.max() - values.min())
            data.y_range = span if span > 0 else 1.0
        return data


@dataclass
class Evaluation:
    """What ``evaluate`` found: the held-out metrics, and the model to keep if asked."""

    metrics: dict[str, float]
    model: Any = None  # fitted on the training split (validation split); None for folds


def evaluate(spec: dict[str, Any], data: Data, settings: dict[str, Any]) -> Evaluation:
    """Fit ``spec`` on each training split and score it on its held-out rows.

    Raises:
        Exception: whatever fitting or predicting raises; the iteration is then Failed.
    """
    from sklearn.base import clone

    template = pipelines.build(spec, settings)
    classify = settings["task"] == catalog.CLASSIFICATION
    per_fold: list[dict[str, float]] = []
    model = None
    for train, held in data.splits:
        model = clone(template)
        model.fit(data.X.iloc[train], data.y.iloc[train])
        X_held, y_held = data.X.iloc[held], data.y.iloc[held].to_numpy()
        predicted = np.asarray(model.predict(X_held))
        if classify:
            proba, scores = metrics.scores_of(model, X_held)
            per_fold.append(
                metrics.classification(y_held, predicted, model.classes_, proba, scores)
            )
        else:
            per_fold.append(metrics.regression(y_held.astype(float), predicted, data.y_range))
    found = metrics.average(per_fold)
    return Evaluation(found, None if data.refit_on_all else model)


def final_model(
    spec: dict[str, Any], data: Data, settings: dict[str, Any], found: Evaluation
) -> Any:
    """The model an iteration keeps: refitted on every row after cross-validation, else
    the one fitted on the training split."""
    if found.model is not None:
        return found.model
    model = pipelines.build(spec, settings)
    model.fit(data.X, data.y)
    return model
