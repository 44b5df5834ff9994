"""The reference SDK's rich metrics: confusion matrices, accuracy tables, predictions and
residuals, in its JSON shapes, and how a run keeps them.

Each call of ``run.log_confusion_matrix`` (``log_accuracy_table``, ``log_predictions``,
``log_residuals``) stores one JSON file with the run, of kind ``RICH_KIND``, named by the
metric (``FileInfo.name``) under ``metrics/<name>/``: as the reference SDK kept them (an
artifact of the run, not a point of a series), read incrementally through the files' cursor
like images, and as large as a file may be. This module is the one place that knows it:
the tracking API writes through ``rich_file``, readers parse with ``decode``.

A value is ``{"schema_type": ..., "schema_version": ..., "data": {...}}`` (a dict or its
JSON text; numpy arrays and numbers in ``data`` are taken as lists and numbers):

* ``confusion_matrix``: ``data = {"class_labels": [n labels], "matrix": [n rows of n
  counts]}``; rows are the true classes, columns the predicted ones.
* ``accuracy_table``: ``data = {"class_labels": [k labels], "probability_thresholds": [m
  numbers], "probability_tables": [k tables of m rows [TP, FP, TN, FN]]}``, optionally
  ``percentile_thresholds`` and ``percentile_tables`` of the same form.
* ``predictions``: ``data = {"bin_edges": [n + 1 numbers], "bin_counts": [n],
  "bin_averages": [n], "bin_errors": [n]}`` (averages and errors may be null for an empty
  bin; errors are optional).
* ``residuals``: ``data = {"bin_edges": [n + 1 numbers], "bin_counts": [n]}``.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from runwidget.errors import InvalidValueError
from runwidget.store.records import NewFile

#: ``FileInfo.kind`` of a rich metric's file.
RICH_KIND = "rich"
CONFUSION_MATRIX = "confusion_matrix"
ACCURACY_TABLE = "accuracy_table"
PREDICTIONS = "predictions"
RESIDUALS = "residuals"
SCHEMA_TYPES = (CONFUSION_MATRIX, ACCURACY_TABLE, PREDICTIONS, RESIDUALS)
_PREFIX = "metrics/"


def check_value(value: Any, schema_type: str, where: str) -> dict[str, Any]:
    """The value in its stored form (NaN as null), checked against ``schema_type``'s shape.

    Args:
        value: a dict, or its JSON text.
        schema_type: one of ``SCHEMA_TYPES``.
        where: the call, for messages (``run.log_residuals('res', value)``).

    Raises:
        InvalidValueError: the value is not of that shape; the message says what is wrong.
    """
    if isinstance(value, (str, bytes, bytearray)):
        try:
            value = json.loads(value)
        except ValueError as e:
            raise InvalidValueError(f"{where}: value is not valid JSON ({e})") from None
    if not isinstance(value, Mapping):
        raise InvalidValueError(
            f"{where}: value must be a dict (or its JSON text) with schema_type, "
            f"schema_version and data, got {type(value).__name__}: {value!r:.80}"
        )
    missing = [k for k in ("schema_type", "data") if k not in value]
    if missing:
        raise InvalidValueError(
            f"{where}: value has no {' or '.join(repr(k) for k in missing)} key; a "
            f"{schema_type} is {{'schema_type': {schema_type!r}, 'schema_version': '1.0.0', "
            f"'data': {{...}}}}"
        )
    if value["schema_type"] != schema_type:
        raise InvalidValueError(
            f"{where}: schema_type must be {schema_type!r}, got {value['schema_type']!r:.80}"
        )
    version = value.get("schema_version", "1.0.0")
    if not isinstance(version, str):
        raise InvalidValueError(
            f"{where}: schema_version must be a string such as '1.0.0', got {version!r:.80}"
        )
    data = value["data"]
    if not isinstance(data, Mapping):
        raise InvalidValueError(
            f"{where}: data must be a dict, got {type(data).__name__}: {data!r:.80}"
        )
    checked = _CHECKS[schema_type](_plain(data), where)
    return {"schema_type": schema_type, "schema_version": version, "data": checked}


def _check_confusion_matrix(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    labels = _labels(data, where)
    n = len(labels)
    matrix = _sized(_field(data, "matrix", where), n, where, "data['matrix'] must be a list of",
                    f"{n} rows (one per class label)")  # fmt: skip
    rows = [
        _numbers(
            _sized(row, n, where, f"row {i} of data['matrix'] must hold",
                   f"{n} counts (one per class label)"),
            f"data['matrix'][{i}]", where, minimum=0.0,
        )
        for i, row in enumerate(matrix)
    ]  # fmt: skip
    return {"class_labels": labels, "matrix": rows}


def _check_accuracy_table(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    labels = _labels(data, where)
    out: dict[str, Any] = {"class_labels": labels}
    for kind in ("probability", "percentile"):
        tables_key, thresholds_key = f"{kind}_tables", f"{kind}_thresholds"
        if kind == "percentile" and tables_key not in data and thresholds_key not in data:
            continue
        thresholds = _numbers(_field(data, thresholds_key, where), thresholds_key, where)
        m = len(thresholds)
        tables = _sized(_field(data, tables_key, where), len(labels), where,
                        f"data[{tables_key!r}] must hold",
                        f"{len(labels)} tables (one per class label)")  # fmt: skip
        checked = []
        for c, table in enumerate(tables):
            rows = _sized(table, m, where, f"table {c} of data[{tables_key!r}] must hold",
                          f"{m} rows (one per threshold of {thresholds_key})")  # fmt: skip
            checked.append([
                _numbers(
                    _sized(row, 4, where, f"row {t} of table {c} of data[{tables_key!r}] must be",
                           "[TP, FP, TN, FN]"),
                    f"{tables_key}[{c}][{t}]", where, minimum=0.0,
                )
                for t, row in enumerate(rows)
            ])  # fmt: skip
        out[thresholds_key], out[tables_key] = thresholds, checked
    return out


def _sized(value: Any, n: int, where: str, what: str, expected: str) -> list[Any]:
    """``value`` if it is a list of ``n`` items; else an error "<what> <expected>, got ..."."""
    if not _is_list(value) or len(value) != n:
        raise InvalidValueError(f"{where}: {what} {expected}, got {_describe(value)}")
    return list(value)


def _check_bins(data: Mapping[str, Any], where: str, extra: Sequence[str]) -> dict[str, Any]:
    edges = _numbers(_field(data, "bin_edges", where), "bin_edges", where)
    counts = _numbers(_field(data, "bin_counts", where), "bin_counts", where)
    if len(edges) < 2 or len(edges) != len(counts) + 1:
        raise InvalidValueError(
            f"{where}: data['bin_edges'] must hold one number more than data['bin_counts'] "
            f"(n + 1 edges of n bins), got {len(edges)} edges and {len(counts)} counts"
        )
    if any(b < a for a, b in zip(edges[:-1], edges[1:], strict=True)):
        raise InvalidValueError(f"{where}: data['bin_edges'] must not decrease, got {edges}")
    out: dict[str, Any] = {"bin_edges": edges, "bin_counts": counts}
    for key in extra:
        if key == "bin_errors" and key not in data:
            continue
        values = _numbers(_field(data, key, where), key, where, nullable=True)
        if len(values) != len(counts):
            raise InvalidValueError(
                f"{where}: data[{key!r}] must hold one value per bin ({len(counts)}), got "
                f"{len(values)}"
            )
        out[key] = values
    return out


_CHECKS: dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]] = {
    CONFUSION_MATRIX: _check_confusion_matrix,
    ACCURACY_TABLE: _check_accuracy_table,
    PREDICTIONS: lambda data, where: _check_bins(data, where, ("bin_averages", "bin_errors")),
    RESIDUALS: lambda data, where: _check_bins(data, where, ()),
}


def _plain(value: Any) -> Any:
    """``value`` with numpy arrays and numbers (sklearn's ``confusion_matrix(...)``, a pandas
    column) as lists and Python numbers."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if not isinstance(value, (str, bytes, bool, int, float)) and hasattr(value, "tolist"):
        return _plain(value.tolist())
    return value


def _field(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise InvalidValueError(
            f"{where}: data has no {key!r}; it has {sorted(map(str, data)) or 'no keys'}"
        )
    return data[key]


def _labels(data: Mapping[str, Any], where: str) -> list[str]:
    labels = _field(data, "class_labels", where)
    if not _is_list(labels) or not labels:
        raise InvalidValueError(
            f"{where}: data['class_labels'] must be a non-empty list, got {_describe(labels)}"
        )
    out = []
    for label in labels:
        if isinstance(label, bool) or not isinstance(label, (str, int, float)):
            raise InvalidValueError(
                f"{where}: class labels must be strings or numbers, got {label!r:.80}"
            )
        out.append(label if isinstance(label, str) else json.dumps(label))
    return out


def _numbers(
    values: Any, what: str, where: str, *, minimum: float | None = None, nullable: bool = False
) -> list[Any]:
    if not _is_list(values):
        raise InvalidValueError(f"{where}: data[{what!r}] must be a list, got {_describe(values)}")
    out: list[Any] = []
    for v in values:
        if nullable and (v is None or (isinstance(v, float) and math.isnan(v))):
            out.append(None)
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise InvalidValueError(f"{where}: {what} must hold finite numbers, got {v!r:.80}")
        if minimum is not None and v < minimum:
            raise InvalidValueError(f"{where}: {what} must hold counts (>= 0), got {v!r}")
        out.append(v)
    return out


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _describe(value: Any) -> str:
    if _is_list(value):
        return f"a list of {len(value)}"
    return f"{type(value).__name__}: {value!r:.60}"


def rich_file(name: str, value: Mapping[str, Any], number: int, at: float) -> NewFile:
    """The file that keeps a checked value (``check_value``) as the run's ``number``-th."""
    return NewFile(
        path=f"{_PREFIX}{name}/{number:05d}_{uuid.uuid4().hex[:6]}.json",
        data=json.dumps(value, allow_nan=False, separators=(",", ":")).encode("utf-8"),
        kind=RICH_KIND,
        content_type="application/json",
        name=name,
        step=float(number),
        time=at,
    )


def decode(data: bytes) -> dict[str, Any]:
    """A stored value, as it was logged (in its stored form)."""
    value: dict[str, Any] = json.loads(data)
    return value
