"""Turning stored values into plain JSON values (no NaN or infinity, which JSON lacks)."""

from __future__ import annotations

import math
from typing import Any


def json_value(value: Any) -> Any:
    """A value JSON can carry: non-finite floats become the strings ``"NaN"``, ``"inf"``,
    ``"-inf"``; containers are converted recursively; anything else becomes its ``str``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if value != value else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return json_value(number)


def finite_number(value: Any) -> float | None:
    """``value`` as a finite float, or None when it is not a finite number."""
    if value is None or isinstance(value, (bool, str)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
