"""Settings read from the environment, each when it is needed, with a clear error when bad."""

from __future__ import annotations

import os

from runwidget.errors import InvalidValueError


def seconds(name: str, default: float, *, minimum: float = 0.0) -> float:
    """The number of seconds in ``$name``, or ``default`` when it is unset or empty.

    Raises:
        InvalidValueError: the variable is not a number, or is below ``minimum``.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise InvalidValueError(
            f"{name} must be a number of seconds, got {text!r} (default {default:g})"
        ) from None
    if not value >= minimum:  # also refuses NaN
        raise InvalidValueError(f"{name} must be at least {minimum:g} seconds, got {text!r}")
    return value


def connect_timeout() -> float:
    """How long opening a connection to a store or a cluster may take."""
    return seconds("RUNWIDGET_CONNECT_TIMEOUT", 10.0, minimum=1.0)
