"""What run lists show beyond the store's records: which statuses a filter means, how a
target's runs are counted, a run's primary metric, and the list totals (counted once per
change of the store, not once per request)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from runwidget import status as st
from runwidget.store import RunFilter, RunRecord, RunStore, RunTotal

# How a target's runs are counted: waiting for it, on it, done.
WAITING = frozenset({st.NOT_STARTED, st.QUEUED})
LOCAL_TARGET = "local"
# A count that depends on heartbeats (a status filter) is made again at least this often.
STATUS_COUNT_TTL = 5.0
# A list's total is counted again at most this often while the store keeps changing.
RECOUNT_SECONDS = 2.0


def target_of(record: RunRecord) -> str:
    """The compute target a run was submitted to (``local`` when none is recorded)."""
    return record.target or LOCAL_TARGET


def count_kind(status: str) -> str:
    """``queued``, ``running`` or ``ended``: the column of a target's counts ``status`` adds
    to (NotResponding counts as running: nothing said that it ended)."""
    if status in st.TERMINAL:
        return "ended"
    return "queued" if status in WAITING else "running"


def primary_metric(record: RunRecord, stats: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The metric a run list shows for a run: its ``primary_metric`` property when it
    logged it, else the first numeric metric it logged."""
    name = record.properties.get("primary_metric")
    if not isinstance(name, str) or name not in stats:
        name = next(iter(stats), None)
    if name is None:
        return None
    return {"name": name, "value": stats[name]["last"]}


class CursorCache:
    """Answers that read every run (counts by experiment, by target), made again only when
    the store's change cursor moved, or after ``ttl`` seconds (heartbeats, which move no
    cursor, turn runs NotResponding).

    Args:
        store: the run store.
        ttl: the longest an answer is kept, in seconds.
    """

    def __init__(self, store: RunStore, *, ttl: float = STATUS_COUNT_TTL) -> None:
        self.store = store
        self.ttl = ttl
        self._answers: dict[str, tuple[int, float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        cursor = self.store.change_cursor()
        now = time.monotonic()
        with self._lock:
            known = self._answers.get(key)
        if known is not None and known[0] == cursor and now - known[1] < self.ttl:
            return known[2]
        answer = make()
        with self._lock:
            self._answers[key] = (cursor, now, answer)
        return answer


class CountCache:
    """The total of the runs a filter selects (``RunStore.total_runs``: exact while small,
    else the database's estimate), made again only when the store's change cursor moved (at
    most every ``RECOUNT_SECONDS``), or, for a status filter, when heartbeats may have
    turned runs NotResponding.

    Args:
        store: the run store.
        max_filters: the most filters whose totals are kept.
    """

    def __init__(self, store: RunStore, *, max_filters: int = 256) -> None:
        self.store = store
        self.max_filters = max_filters
        self._totals: dict[RunFilter, tuple[int, float, RunTotal]] = {}
        self._lock = threading.Lock()

    def total(self, where: RunFilter, cursor: int | None = None) -> RunTotal:
        """``cursor``: the store's change cursor when the caller has just read it."""
        if cursor is None:
            cursor = self.store.change_cursor()
        now = time.monotonic()
        with self._lock:
            known = self._totals.get(where)
        if known is not None:
            age = now - known[1]
            # A busy store (runs created every moment) is counted at most every
            # RECOUNT_SECONDS.
            fresh = known[0] == cursor or age < RECOUNT_SECONDS
            if fresh and (where.statuses is None or age < STATUS_COUNT_TTL):
                return known[2]
        total = self.store.total_runs(where)
        with self._lock:
            if len(self._totals) >= self.max_filters:
                self._totals.clear()
            self._totals[where] = (cursor, now, total)
        return total
