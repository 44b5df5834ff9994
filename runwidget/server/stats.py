"""``MetricStats``: each run's metrics summed up as last / min / max, read incrementally.

A run's points are read once through the store's metric cursor; later reads ask only for
what is new, and a run that had ended when it was read is never read again.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from runwidget import status as st
from runwidget.store import MetricKind, RunRecord, RunStore

# Points read per query, so that a long history never sits in memory whole.
READ_PAGE = 50_000


@dataclass(slots=True)
class _Stat:
    last: float
    low: float
    high: float
    count: int = 1


@dataclass(slots=True)
class _RunStats:
    cursor: int = 0
    ended: bool = False
    metrics: dict[str, _Stat] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class MetricStats:
    """Last, minimum and maximum of every numeric single-value metric of each run read.

    ``run.log`` and ``run.log_list`` points count; rows and tables (several columns) and
    strings do not. ``last`` is the last value as logged, NaN and infinities included (a
    loss that went NaN reads NaN, not the number before it); ``min`` and ``max`` leave NaN
    out, and are NaN only when every value is.

    Args:
        store: the run store.
        max_runs: the most runs kept (least recently used are forgotten).
    """

    def __init__(self, store: RunStore, *, max_runs: int = 20_000) -> None:
        self.store = store
        self.max_runs = max_runs
        self._runs: OrderedDict[str, _RunStats] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, record: RunRecord) -> dict[str, dict[str, float | int]]:
        """``{metric: {"last", "min", "max", "count"}}`` of a run, in logging order."""
        with self._lock:
            stats = self._runs.pop(record.id, None) or _RunStats()
            self._runs[record.id] = stats
            while len(self._runs) > self.max_runs:
                self._runs.popitem(last=False)
        with stats.lock:
            if not stats.ended:
                ended = record.status in st.TERMINAL
                self._read(record.id, stats)
                stats.ended = ended
            return {
                name: {"last": s.last, "min": s.low, "max": s.high, "count": s.count}
                for name, s in stats.metrics.items()
            }

    def _read(self, run_id: str, stats: _RunStats) -> None:
        while True:
            points = self.store.read_metrics(run_id, since=stats.cursor, limit=READ_PAGE)
            for p in points:
                if p.kind not in (MetricKind.SCALAR, MetricKind.LIST):
                    continue
                value = _number(p.value)
                if value is None:
                    continue
                s = stats.metrics.get(p.name)
                if s is None:
                    stats.metrics[p.name] = _Stat(value, value, value)
                else:
                    s.last = value
                    s.count += 1
                    if not math.isnan(value):
                        # NaN so far (only NaN was logged) gives way to the first number.
                        s.low = value if math.isnan(s.low) else min(s.low, value)
                        s.high = value if math.isnan(s.high) else max(s.high, value)
            if points:
                stats.cursor = points[-1].seq
            if len(points) < READ_PAGE:
                return


def primary_metric(record: RunRecord, stats: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The metric a run list shows for a run: its ``primary_metric`` property when it
    logged it, else the first numeric metric it logged."""
    name = record.properties.get("primary_metric")
    if not isinstance(name, str) or name not in stats:
        name = next(iter(stats), None)
    if name is None:
        return None
    return {"name": name, "value": stats[name]["last"]}
