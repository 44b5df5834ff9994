"""Child runs: table rows with metric columns, and AutoML / sweep iterations.

A parent of type ``automl`` or ``sweep`` with properties ``primary_metric`` and ``goal``
(maximize or minimize) has iterations: its children, numbered by their ``iteration``
property. AutoML children name their ``pipeline`` (or ``preprocessor`` + ``algorithm``);
a sweep child's other properties are its hyperparameters. An iteration's metric is the
best value its run logged for the primary metric (by the goal); other metrics use their
last value. ``best`` is the best metric of all iterations up to this one.

The iterations part also carries, per metric, the points of the iteration chart and its
stepped best-so-far line (``series``): front ends draw them as sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from runwidget import status as st
from runwidget.store import MetricKind, MetricPoint, RunRecord, RunType
from runwidget.view._status import status_kind
from runwidget.view._values import finite_number, json_value
from runwidget.view.charts import SYSTEM_PREFIX
from runwidget.view.palette import BEST_SO_FAR, ITERATION_POINTS

ITERATION_TYPES = (RunType.AUTOML, RunType.SWEEP)
GOALS = ("maximize", "minimize")
# Properties of an iteration that are not hyperparameters.
_RESERVED = {"iteration", "pipeline", "preprocessor", "algorithm", "primary_metric", "goal"}
_LOWER_IS_BETTER = ("loss", "error", "mse", "rmse", "mae", "mape", "log_loss", "perplexity")


def goal_of(metric: str, primary: str | None, goal: str | None) -> str:
    """The goal of ``metric``: the run's goal for its primary metric, else a guess by name."""
    if metric == primary and goal is not None and goal in GOALS:
        return goal
    lowered = metric.lower()
    return "minimize" if any(word in lowered for word in _LOWER_IS_BETTER) else "maximize"


def _better(a: float, b: float | None, goal: str) -> bool:
    return b is None or (a > b if goal == "maximize" else a < b)


def iteration_series(
    ordered: list[dict[str, Any]], metric: str, goal: str
) -> dict[str, list[float]]:
    """The iteration chart of ``metric``: a point per iteration that logged it (``x``,
    ``y``) and the stepped best-so-far line (``best_x``, ``best_y``), which a failed
    iteration does not move. ``ordered``: the rows by iteration."""
    x: list[float] = []
    y: list[float] = []
    best_x: list[float] = []
    best_y: list[float] = []
    best: float | None = None
    for row in ordered:
        value = finite_number(row["metrics"].get(metric))
        if value is None:
            continue
        x.append(row["iteration"])
        y.append(value)
        if row["status"] != st.FAILED and _better(value, best, goal):
            best = value
        if best is not None:
            best_x.append(row["iteration"])
            best_y.append(best)
    return {"x": x, "y": y, "best_x": best_x, "best_y": best_y}


def iteration_controls(series: dict[str, list[float]]) -> dict[str, Any]:
    """What an iteration chart's toolbar offers: a log y axis when every value is above 0,
    x = iteration only, no smoothing (a point per iteration is no curve to smooth), and the
    CSV of its points (they are every iteration's)."""
    values = [*series["y"], *series["best_y"]]
    return {
        "log_y": bool(values) and all(v > 0 for v in values),
        "x_axes": ["data"],
        "csv": True,
        "smoothing": False,
    }


@dataclass
class _Child:
    record: RunRecord
    cursor: int = 0  # metric cursor
    done: bool = False  # terminal and read after it ended: no more metric reads
    last: dict[str, float] = field(default_factory=dict)
    high: dict[str, float] = field(default_factory=dict)
    low: dict[str, float] = field(default_factory=dict)


class ChildTable:
    """The children of one run, refreshed through cursors.

    Args:
        parent: the parent run's record (its type and properties decide on iterations).
        max_columns: the most metric columns the plain children table shows.
    """

    def __init__(self, parent: RunRecord, max_columns: int = 6) -> None:
        self.max_columns = max_columns
        self.cursor = 0
        self._children: dict[str, _Child] = {}
        self._changed: set[str] = set()
        self._metric_counts: Counter[str] = Counter()
        self._columns: list[dict[str, str]] = []
        self._iterations: dict[str, Any] | None = None
        self._iterations_changed = False
        self._rows_cache: dict[str, dict[str, Any]] = {}
        self.set_parent(parent)

    # -- the parent decides on iterations ------------------------------------------------
    def set_parent(self, parent: RunRecord) -> None:
        self.parent = parent
        props = parent.properties
        primary = props.get("primary_metric")
        goal = str(props.get("goal", "")).lower()
        meta: dict[str, Any] | None
        if parent.run_type in ITERATION_TYPES:
            meta = {
                "kind": parent.run_type,
                "primary_metric": primary if isinstance(primary, str) else None,
                "goal": goal if goal in GOALS else "maximize",
                "metrics": [],
                "params": [],
                "best": None,
                "series": {},
                "controls": {},
                "colours": {"points": ITERATION_POINTS, "best": BEST_SO_FAR},
            }
        else:
            meta = None
        if meta is not None and self._iterations is not None:
            meta["metrics"] = self._iterations["metrics"]
            meta["params"] = self._iterations["params"]
            meta["best"] = self._iterations["best"]
            meta["series"] = self._iterations["series"]
            meta["controls"] = self._iterations["controls"]
        if meta != self._iterations:
            self._iterations = meta
            self._iterations_changed = True
            self._changed.update(self._children)

    @property
    def is_iterations(self) -> bool:
        return self._iterations is not None

    # -- updating ----------------------------------------------------------------------------
    def update_records(self, records: Iterable[RunRecord]) -> None:
        for record in records:
            self.cursor = max(self.cursor, record.seq)
            child = self._children.get(record.id)
            if child is None:
                self._children[record.id] = _Child(record)
            else:
                child.record = record
                child.done = False  # re-read its metrics once more after a change
            self._changed.add(record.id)

    def pending_metric_reads(self) -> list[tuple[str, int, bool]]:
        """``(child id, metric cursor, ended)`` of every child whose metrics may still grow;
        ``ended``: its record is terminal already (the read after it is its last)."""
        return [
            (cid, c.cursor, c.record.status in st.TERMINAL)
            for cid, c in self._children.items()
            if not c.done
        ]

    def add_metrics(self, child_id: str, points: list[MetricPoint], *, ended: bool) -> None:
        """Points a child logged after its cursor; ``ended``: its record was terminal
        before the read, so nothing more will come."""
        child = self._children[child_id]
        for p in points:
            child.cursor = max(child.cursor, p.seq)
            # System metrics (CPU, memory...) are no columns: a child's own view has them.
            if p.kind != MetricKind.SCALAR or p.name.startswith(SYSTEM_PREFIX):
                continue
            value = finite_number(p.value)
            if value is None:
                continue
            if p.name not in child.last:
                self._metric_counts[p.name] += 1
            child.last[p.name] = value
            if p.name not in child.high or value > child.high[p.name]:
                child.high[p.name] = value
            if p.name not in child.low or value < child.low[p.name]:
                child.low[p.name] = value
        if points:
            self._changed.add(child_id)
        if ended:
            child.done = True

    def alive(self, now: float) -> bool:
        """Whether some child has not ended."""
        return any(c.record.current_status(now) not in st.TERMINAL for c in self._children.values())

    def refresh_liveness(self, now: float) -> None:
        """Mark rows whose shown status changed only by time (NotResponding)."""
        for cid, child in self._children.items():
            if child.record.status in st.ALIVE:
                self._changed.add(cid)

    # -- output ----------------------------------------------------------------------------
    def _row(self, child: _Child, now: float) -> dict[str, Any]:
        r = child.record
        status = r.current_status(now)
        row: dict[str, Any] = {
            "id": r.id,
            "number": r.number,
            "name": r.display_name,
            "type": r.run_type,
            "status": status,
            "status_kind": status_kind(status),
            "created": r.created,
            "started": r.started,
            "ended": r.ended,
            "metrics": {name: json_value(v) for name, v in child.last.items()},
        }
        if self._iterations is not None:
            self._iteration_fields(child, row)
        return row

    def _iteration_fields(self, child: _Child, row: dict[str, Any]) -> None:
        meta = self._iterations
        assert meta is not None
        props = child.record.properties
        iteration = props.get("iteration")
        row["iteration"] = iteration if isinstance(iteration, int) else child.record.number - 1
        if meta["kind"] == RunType.AUTOML:
            pre, algo = props.get("preprocessor"), props.get("algorithm")
            pipeline = props.get("pipeline")
            if pipeline is None and (pre or algo):
                pipeline = " + ".join(str(p) for p in (pre, algo) if p)
            row["pipeline"] = None if pipeline is None else str(pipeline)
            row["params"] = {}
        else:
            row["pipeline"] = None
            # runwidget's own properties (a submitted child's script, host...) are no
            # hyperparameters.
            row["params"] = {k: json_value(v) for k, v in props.items()
                             if k not in _RESERVED and not k.startswith("runwidget.")}  # fmt: skip
        primary = meta["primary_metric"]
        scores: dict[str, float] = {}
        for name, last in child.last.items():
            goal = goal_of(name, primary, meta["goal"])
            best = child.high[name] if goal == "maximize" else child.low[name]
            scores[name] = best if name == primary else last
        row["metrics"] = {name: json_value(v) for name, v in scores.items()}
        row["metric"] = json_value(scores.get(primary)) if primary else None

    def _recompute_iterations(self, rows: dict[str, dict[str, Any]]) -> set[str]:
        """Best-so-far per iteration, the iteration metrics and params; returns the ids of
        rows whose ``best`` changed."""
        meta = self._iterations
        assert meta is not None
        metrics: list[str] = []
        params: list[str] = []
        ordered = sorted(rows.values(), key=lambda r: (r["iteration"], r["number"]))
        changed: set[str] = set()
        best: float | None = None
        best_row: dict[str, Any] | None = None
        for row in ordered:
            for name in row["metrics"]:
                if name not in metrics:
                    metrics.append(name)
            for name in row["params"]:
                if name not in params:
                    params.append(name)
            value = finite_number(row.get("metric"))
            if (
                value is not None
                and row["status"] != st.FAILED
                and _better(value, best, meta["goal"])
            ):
                best, best_row = value, row
            if row.get("best") != best:
                row["best"] = best
                changed.add(row["id"])
        primary = meta["primary_metric"]
        if primary in metrics:
            metrics.remove(primary)
            metrics.insert(0, primary)
        meta_new = dict(meta)
        meta_new["metrics"] = metrics
        meta_new["params"] = params
        meta_new["series"] = {
            name: iteration_series(ordered, name, goal_of(name, primary, meta["goal"]))
            for name in metrics
        }
        meta_new["controls"] = {
            name: iteration_controls(series) for name, series in meta_new["series"].items()
        }
        meta_new["best"] = (
            None
            if best_row is None
            else {"id": best_row["id"], "iteration": best_row["iteration"], "value": best}
        )
        if meta_new != meta:
            self._iterations = meta_new
            self._iterations_changed = True
        return changed

    def columns(self) -> list[dict[str, str]]:
        names = [n for n, _ in self._metric_counts.most_common(self.max_columns)]
        primary = self._iterations and self._iterations["primary_metric"]
        if primary and primary in self._metric_counts and primary not in names:
            names = [primary, *names[: self.max_columns - 1]]
        return [{"key": name, "label": name} for name in names]

    def snapshot(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The table as of the last ``take_changes``."""
        rows = [dict(r) for r in self._rows_cache.values()]
        return {"columns": list(self._columns), "rows": rows}, self._iterations

    def take_changes(self, now: float) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """``(children delta, iterations meta if changed)`` since the last call."""
        delta: dict[str, Any] = {}
        columns = self.columns()
        if columns != self._columns:
            self._columns = columns
            delta["columns"] = columns
        previous = self._rows_cache
        if self._changed or self._iterations is not None:
            changed_ids = set(self._changed)
            rows = {
                cid: (
                    self._row(c, now)
                    if cid in changed_ids or cid not in previous
                    else dict(previous[cid])
                )
                for cid, c in self._children.items()
            }
            if self._iterations is not None:
                for cid, row in rows.items():
                    row.pop("best", None)
                    old = previous.get(cid)
                    if old is not None and "best" in old:
                        row["best"] = old["best"]
                changed_ids |= self._recompute_iterations(rows)
            upsert = [
                rows[cid]
                for cid in self._children
                if cid in changed_ids and rows[cid] != previous.get(cid)
            ]
            self._rows_cache = rows
            if upsert:
                delta["upsert"] = upsert
        self._changed.clear()
        iterations = None
        if self._iterations_changed:
            iterations = self._iterations
            self._iterations_changed = False
        return (delta or None), iterations

    def __len__(self) -> int:
        return len(self._children)
