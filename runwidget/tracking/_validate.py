"""Checks on what users pass to the tracking API. Each error names the value and the rule."""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any, cast

from runwidget.errors import InvalidValueError

MAX_NAME = 255

_good_names: set[str] = set()


def check_name(name: Any, what: str = "name") -> str:
    """A non-empty string of at most 255 characters that a store can hold."""
    if name.__class__ is str and name in _good_names:  # log() is a hot path; names repeat
        return name
    if not isinstance(name, str):
        raise InvalidValueError(
            f"{what} must be a string, got {type(name).__name__}: {_short(name)}"
        )
    check_text(name, what)
    if not name.strip():
        raise InvalidValueError(f"{what} must not be empty, got {name!r}")
    if len(name) > MAX_NAME:
        raise InvalidValueError(
            f"{what} must be at most {MAX_NAME} characters, got {len(name)}: {_short(name)}"
        )
    if len(_good_names) < 100_000:
        _good_names.add(name)
    return name


def check_text(text: str, what: str) -> str:
    """A string every store can hold: valid UTF-8 (no lone surrogate) and no NUL character.

    PostgreSQL refuses NUL in text and neither store can encode a lone surrogate, so such a
    string is refused here, in the caller's thread, instead of failing in the writer.
    """
    if "\x00" in text:
        raise InvalidValueError(
            f"{what} must not contain the NUL character (\\x00), got {_short(text)}"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidValueError(
            f"{what} is not valid Unicode text (a lone surrogate {text[e.start]!r} at "
            f"position {e.start}), got {_short(text)}"
        ) from None
    return text


def check_path(value: Any, what: str, *, optional: bool = False) -> Path:
    """A file or folder path (a str or os.PathLike), ``~`` expanded. ``optional``: the
    argument may be None, which the caller handles (the error says so)."""
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidValueError(
            f"{what} must be a path{' or None' if optional else ''}, got "
            f"{type(value).__name__}: {_short(value)}"
        )
    return Path(value).expanduser()


def clean_text(text: str) -> str:
    """``text`` made storable by replacement, for what must never be refused (log lines,
    error messages): NUL and lone surrogates become U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text


def to_number(value: Any, what: str) -> float | int:
    """A real number: a float as a float (NaN and ±inf allowed), an integer (numpy's too) as
    an int. A bool, and an integer beyond the range of a 64-bit float, are refused."""
    cls = value.__class__
    if cls is float:
        return cast(float, value)
    if cls is int:
        return _check_int(value, what)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        # numpy scalars register as numbers.Real; anything else is refused.
        raise InvalidValueError(
            f"{what} must be a number, got {type(value).__name__}: {_short(value)}"
        )
    if isinstance(value, numbers.Integral):
        return _check_int(int(value), what)
    try:
        return float(value)
    except OverflowError:
        raise InvalidValueError(
            f"{what} is too large for a 64-bit float: {_short(value)}"
        ) from None


def _check_int(value: int, what: str) -> int:
    try:
        float(value)
    except OverflowError:
        raise InvalidValueError(
            f"{what} is too large for a 64-bit float: {_short(value)}"
        ) from None
    return value


def to_metric_value(value: Any, name: str) -> float | int | str:
    """What ``run.log`` accepts: one number (NaN and ±inf included) or a string. Integers
    (numpy's too) stay ints; a bool becomes 1.0 or 0.0."""
    cls = value.__class__
    if cls is float:
        return cast(float, value)
    if cls is int:
        try:
            float(value)  # only to refuse what no float holds; the int is kept
        except OverflowError:
            raise InvalidValueError(
                f"value of metric {name!r} is too large for a 64-bit float: {_short(value)}"
            ) from None
        return cast(int, value)
    if cls is str:
        return check_text(value, f"value of metric {name!r}")
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        return check_text(str(value), f"value of metric {name!r}")
    if (
        isinstance(value, (list, tuple, set, dict))
        or hasattr(value, "__array__")
        and not (isinstance(value, numbers.Real))
    ):
        raise InvalidValueError(
            f"run.log({name!r}, ...) takes one number or string, got {type(value).__name__}: "
            f"{_short(value)}. For several values use run.log_list({name!r}, values); "
            f"for columns use run.log_row or run.log_table."
        )
    return to_number(value, f"value of metric {name!r}")


def to_cell(value: Any, what: str) -> float | int | str:
    """One cell of a row or table: a number (an integer stays an int, as ``log`` keeps
    it; a bool becomes 1.0 or 0.0) or a string."""
    if isinstance(value, str):
        return check_text(str(value), what)
    if isinstance(value, bool):
        return float(value)
    return to_number(value, what)


def to_step(step: Any) -> float | None:
    if step is None:
        return None
    number = float(to_number(step, "step"))
    if not math.isfinite(number):
        raise InvalidValueError(f"step must be a finite number, got {step!r}")
    return number


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
