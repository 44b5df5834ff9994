"""What the store derives from what it is given: a run's search text and tag rows, and
the summary of a metric's numeric points. One rule each, for the writer and for the
migration that fills them in for runs stored before."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# The metric kinds whose numbers are summed up (``run.log`` and ``run.log_list``).
SUMMARISED_KINDS = frozenset({"scalar", "list"})

# The SQL test for a numeric point of ``rw_metrics`` (alias ``m``): logged by ``run.log`` or
# ``run.log_list`` with a number (NaN is stored as NULL value, NULL text and NULL data; an
# int as its float with its exact text in data).
NUMERIC_POINT = (
    "m.kind IN ('scalar', 'list') AND m.text IS NULL AND (m.data IS NULL OR m.value IS NOT NULL)"
)


def search_text(
    name: str, run_id: str, experiment: str, run_type: str, tags: Mapping[str, Any]
) -> str:
    """The lower-case text a run list's search looks in, words separated by one space."""
    words = [name, run_id, experiment, run_type]
    for key, value in tags.items():
        words += [str(key), "" if value is None else str(value)]
    return normalise_search(" ".join(words))


def normalise_search(text: str) -> str:
    """A search text as stored and as searched for: lower case, runs of blanks as one space."""
    return " ".join(text.lower().split())


def tag_rows(run_key: int, tags: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A run's tags as rows of ``rw_run_tags``."""
    return [
        {"run_key": run_key, "name": str(k), "value": json.dumps(v, default=str)}
        for k, v in tags.items()
    ]


@dataclass(slots=True)
class Summary:
    """A metric's numeric points summed up. ``last`` is NaN when the last value was;
    ``low`` and ``high`` leave NaN out and are NaN only when every value was NaN."""

    count: int
    last: float
    low: float
    high: float
    first_seq: int
    last_seq: int

    def as_dict(self) -> dict[str, float | int]:
        return {"last": self.last, "min": self.low, "max": self.high, "count": self.count}


def summarise(points: Iterable[tuple[int, float]]) -> Summary | None:
    """``(seq, value)`` pairs, in seq order, summed up; None when there are none."""
    found: Summary | None = None
    for seq, value in points:
        if found is None:
            found = Summary(1, value, value, value, seq, seq)
            continue
        found.count += 1
        found.last, found.last_seq = value, seq
        if not math.isnan(value):
            found.low = value if math.isnan(found.low) else min(found.low, value)
            found.high = value if math.isnan(found.high) else max(found.high, value)
    return found
