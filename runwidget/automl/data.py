"""Checks on the training data of an AutoML search, made before anything starts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from runwidget.automl import catalog
from runwidget.errors import InvalidValueError

_SHOWN = 8  # column names or values shown in a message
# A numeric label with more distinct values than this, some in a single row, is taken for a
# regression target given to a classification.
_MANY_CLASSES = 20


@dataclass
class DataSummary:
    """What the search needs to know of the data without reading it."""

    task: str
    n_rows: int
    numeric_columns: list[str]
    categorical_columns: list[str]
    # Classification: how many rows each class has (smallest first); None for regression.
    class_counts: list[tuple[Any, int]] | None = None

    @property
    def n_classes(self) -> int | None:
        return None if self.class_counts is None else len(self.class_counts)

    def check_validation(self, validation: dict[str, Any]) -> None:
        """Check that the data can be split as ``validation`` says.

        Raises:
            InvalidValueError: too few rows (or too few rows of a class) for the split.
        """
        if "folds" in validation:
            folds = validation["folds"]
            if self.n_rows < 2 * folds:
                raise InvalidValueError(
                    f"training_data has {self.n_rows} rows: too few for {folds}-fold "
                    f"cross-validation (at least {2 * folds}); lower n_cross_validations"
                )
            if self.class_counts is not None:
                label, count = self.class_counts[0]
                if count < folds:
                    raise InvalidValueError(
                        f"class {label!r:.40} of the label has {count} row(s): each class needs "
                        f"at least {folds} for {folds}-fold cross-validation (lower "
                        "n_cross_validations, or drop that class)"
                    )
            return
        size = validation["size"]
        held = math.ceil(size * self.n_rows)
        kept = self.n_rows - held
        needed = max(self.n_classes or 1, 1)
        if held < needed or kept < max(needed, 2):
            raise InvalidValueError(
                f"validation_size={size!r} of {self.n_rows} rows leaves {kept} rows to train "
                f"on and {held} to validate; each part needs at least {max(needed, 2)}"
            )
        if self.class_counts is not None and self.class_counts[0][1] < 2:
            label = self.class_counts[0][0]
            raise InvalidValueError(
                f"class {label!r:.40} of the label has a single row: each class needs at "
                "least 2 for a validation split (drop that class)"
            )

    def min_train_rows(self, validation: dict[str, Any]) -> int:
        """The fewest rows any fit of an iteration is trained on."""
        held_out: int
        if "folds" in validation:
            held_out = math.ceil(self.n_rows / validation["folds"])
        else:
            held_out = math.ceil(validation["size"] * self.n_rows)
        return self.n_rows - held_out


def check_training_data(data: Any, label: str, task: str) -> DataSummary:
    """Check ``data`` for a ``task`` search predicting column ``label``.

    Raises:
        InvalidValueError: not a DataFrame, empty, no such label column, column names that
            are not unique strings, a column of a type the pipelines cannot use, a label with
            missing values, or a label that does not fit the task (continuous values for a
            classification, text for a regression).
    """
    if not isinstance(data, pd.DataFrame):
        raise InvalidValueError(
            "training_data must be a pandas DataFrame with the features and the label, got "
            f"{type(data).__name__}"
        )
    if data.shape[0] == 0:
        raise InvalidValueError("training_data is empty: it has no rows")
    names = list(data.columns)
    odd = [n for n in names if not isinstance(n, str)]
    if odd:
        raise InvalidValueError(
            f"training_data's column names must be strings; these are not: {_list(odd)} "
            "(rename them, e.g. data.columns = data.columns.map(str))"
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InvalidValueError(f"training_data has duplicated column names: {_list(duplicated)}")
    if label not in data.columns:
        raise InvalidValueError(
            f"label_column_name {label!r:.80} is not a column of training_data; its columns "
            f"are: {_list(names)}"
        )
    features = [n for n in names if n != label]
    if not features:
        raise InvalidValueError(
            f"training_data has no feature columns: {label!r} is its only column"
        )
    numeric: list[str] = []
    categorical: list[str] = []
    unusable: list[str] = []
    for name in features:
        kind = _column_kind(data[name])
        {"numeric": numeric, "categorical": categorical}.get(kind, unusable).append(name)
    if unusable:
        shown = ", ".join(f"{n!r} ({data[n].dtype})" for n in unusable[:_SHOWN])
        raise InvalidValueError(
            f"training_data has columns of a type AutoML cannot use: {shown}; accepted: "
            "numbers, booleans, strings and categoricals (convert dates to numbers, make "
            "columns that mix strings with other values all strings with .astype(str), or "
            "drop those columns)"
        )
    target = data[label]
    missing = int(target.isna().sum())
    if missing:
        raise InvalidValueError(
            f"label column {label!r} has {missing} missing value(s) of {len(target)}; drop "
            f"those rows first (data.dropna(subset=[{label!r}]))"
        )
    summary = DataSummary(task, int(data.shape[0]), numeric, categorical)
    if task == catalog.CLASSIFICATION:
        summary.class_counts = _check_classes(target, label)
    else:
        _check_regression_target(target, label)
    return summary


def _column_kind(column: pd.Series) -> str:
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "numeric"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "numeric"
    if pd.api.types.is_object_dtype(dtype):
        # One-hot encoding needs values of one kind: all strings (or all booleans).
        kinds = {"text" if isinstance(v, str) else type(v).__name__ for v in column.dropna()}
        return "categorical" if kinds <= {"text"} or kinds <= {"bool"} else "unusable"
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
        return "categorical"
    return "unusable"


def _check_classes(target: pd.Series, label: str) -> list[tuple[Any, int]]:
    dtype = target.dtype
    if pd.api.types.is_float_dtype(dtype):
        values = target.to_numpy(dtype=float)
        fractional = values[np.isfinite(values) & (values != np.round(values))]
        if fractional.size:
            raise InvalidValueError(
                f"label column {label!r} holds continuous values (e.g. {fractional[0]:g}): "
                "that is a regression target; use task='regression'"
            )
    counts = target.value_counts(sort=True, ascending=True)
    if len(counts) < 2:
        raise InvalidValueError(
            f"label column {label!r} has a single class ({_plain(counts.index[0])!r:.40}); a "
            "classification needs at least two"
        )
    rare = int((counts < 2).sum())
    if rare and pd.api.types.is_numeric_dtype(dtype) and len(counts) > _MANY_CLASSES:
        raise InvalidValueError(
            f"label column {label!r} has {len(counts)} distinct numbers, {rare} of them in a "
            "single row: that looks like a regression target; use task='regression'"
        )
    return [(_plain(k), int(v)) for k, v in counts.items()]


def _check_regression_target(target: pd.Series, label: str) -> None:
    dtype = target.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        example = target.iloc[0]
        raise InvalidValueError(
            f"label column {label!r} is not numeric ({dtype}, e.g. {example!r:.40}): a "
            "regression predicts numbers; use task='classification' for classes"
        )
    if pd.api.types.is_complex_dtype(dtype):
        raise InvalidValueError(f"label column {label!r} holds complex numbers ({dtype})")
    values = target.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise InvalidValueError(
            f"label column {label!r} holds infinite values; a regression target must be finite"
        )
    if np.unique(values).size < 2:
        raise InvalidValueError(
            f"label column {label!r} has a single value ({values[0]:g}); nothing to learn"
        )


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (for messages and JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def _list(names: list[Any]) -> str:
    shown = ", ".join(repr(n) for n in names[:_SHOWN])
    more = len(names) - _SHOWN
    return shown + (f" (and {more} more)" if more > 0 else "")
