"""How a metric point is kept as a row of ``rw_metrics``, and read back.

value holds the float (NULL for NaN, with text and data NULL); text a string metric; data
the JSON of a row's or table's columns, or, beside value, the exact text of an int.
"""

from __future__ import annotations

import json
import math
from typing import Any, NamedTuple

from runwidget.store.records import MetricPoint


class MetricRow(NamedTuple):
    """A metric point as the columns of its ``rw_metrics`` row (without its seq)."""

    run_key: int
    name: str
    kind: str
    step: float | None
    value: float | None
    text: str | None
    data: str | None
    time: float

    @property
    def is_number(self) -> bool:
        """A number (NaN included): no text, and no data unless it is an int's."""
        return self.text is None and (self.data is None or self.value is not None)


def encode_metric(key: int, m: tuple[str, str, float | None, Any, float]) -> MetricRow:
    """A buffered point ``(name, kind, step, value, time)`` of run ``key`` as its row."""
    name, kind, step, value, at = m
    if value.__class__ is float:
        # SQLite turns NaN into NULL anyway; doing it for both backends keeps one rule.
        return MetricRow(key, name, kind, step, None if value != value else value, None, None, at)
    if isinstance(value, str):
        return MetricRow(key, name, kind, step, None, value, None, at)
    if isinstance(value, dict):
        return MetricRow(key, name, kind, step, None, None, json.dumps(value), at)
    if value.__class__ is int:
        # The float for charts and blocks; the exact int, as JSON, to give back.
        return MetricRow(key, name, kind, step, float(value), None, str(value), at)
    return MetricRow(key, name, kind, step, float(value), None, None, at)


def decode_metric(row: Any) -> MetricPoint:
    """A row read as ``seq, name, kind, step, value, text, data, time`` as a point."""
    seq, name, kind, step, value, text, data, at = row
    if value is None:
        if text is not None:
            value = text
        elif data is not None:
            value = json.loads(data)
        else:
            value = math.nan
    elif data is not None:
        value = int(data)  # an int point: both columns are set
    return MetricPoint(seq, name, kind, step, value, at)
