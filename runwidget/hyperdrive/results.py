"""Reading a sweep's children: their hyperparameters and their primary metric."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from runwidget.store import MetricPoint, RunRecord

# Properties of a sweep's child that are not hyperparameters.
RESERVED = frozenset({"iteration"})
INTERNAL_PREFIX = "runwidget."


def numeric_values(points: Iterable[MetricPoint]) -> list[float]:
    """The finite numbers among logged points, in order."""
    out = []
    for point in points:
        value = point.value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out.append(float(value))
    return out


def best_of(values: list[float], goal: str) -> float | None:
    if not values:
        return None
    return max(values) if goal == "maximize" else min(values)


def is_better(value: float, than: float | None, goal: str) -> bool:
    return than is None or (value > than if goal == "maximize" else value < than)


def hyperparameters(record: RunRecord) -> dict[str, Any]:
    """A child's sampled values, by parameter name (without leading dashes)."""
    return {
        name: value
        for name, value in record.properties.items()
        if name not in RESERVED and not name.startswith(INTERNAL_PREFIX)
    }
