"""``HyperDriveRun``: the sweep's run, with the reference SDK's methods for its children."""

from __future__ import annotations

from typing import Any

from runwidget.errors import InvalidValueError
from runwidget.hyperdrive.results import best_of, hyperparameters, is_better, numeric_values
from runwidget.tracking.run import Run


class HyperDriveRun(Run):
    """The run of a sweep (type ``sweep``), as returned by ``experiment.submit``.

    ``HyperDriveRun(experiment, run_id)`` gets one again later.
    """

    @property
    def primary_metric(self) -> str | None:
        value = self.refresh().properties.get("primary_metric")
        return value if isinstance(value, str) else None

    @property
    def goal(self) -> str:
        return str(self._record.properties.get("goal", "maximize")).lower()

    def _scores(self) -> list[tuple[Run, float | None]]:
        """Each child and its best primary metric value (by the goal), oldest child first."""
        metric, goal = self.primary_metric, self.goal
        out = []
        for record in sorted(self._store.get_children(self.id), key=lambda r: r.number):
            values = (
                []
                if metric is None
                else numeric_values(self._store.read_metrics(record.id, name=metric))
            )
            out.append((Run(self.experiment, record.id, _record=record), best_of(values, goal)))
        return out

    def get_best_run_by_primary_metric(self) -> Run | None:
        """The child with the best primary metric (any status), or None if none logged it."""
        best: tuple[Run, float] | None = None
        for child, score in self._scores():
            if score is not None and is_better(score, None if best is None else best[1], self.goal):
                best = (child, score)
        return None if best is None else best[0]

    def get_children_sorted_by_primary_metric(
        self, top: int = 0, reverse: bool = False, discard_no_metric: bool = False
    ) -> list[dict[str, Any]]:
        """The children, best first (``reverse``: worst first), as dicts of ``run_id``,
        ``hyperparameters``, ``best_primary_metric`` and ``status``; ``top`` > 0 keeps
        that many. Children without the metric come last (or are left out)."""
        if not isinstance(top, int) or isinstance(top, bool) or top < 0:
            raise InvalidValueError(f"top must be a non-negative integer, got {top!r}")
        rows: list[dict[str, Any]] = []
        for child, score in self._scores():
            if score is None and discard_no_metric:
                continue
            rows.append({"run_id": child.id, "hyperparameters": hyperparameters(child.record),
                         "best_primary_metric": score, "status": child.record.status})  # fmt: skip
        sign = -1 if self.goal == "maximize" else 1
        scored = sorted((r for r in rows if r["best_primary_metric"] is not None),
                        key=lambda r: sign * r["best_primary_metric"], reverse=reverse)  # fmt: skip
        rows = scored + [r for r in rows if r["best_primary_metric"] is None]
        return rows[:top] if top else rows

    def get_hyperparameters(self) -> dict[str, dict[str, Any]]:
        """Each child's sampled values: ``{run_id: {name: value}}``."""
        return {r.id: hyperparameters(r) for r in self._store.get_children(self.id)}

    def get_metrics(self, name: str | None = None, recursive: bool = False) -> dict[str, Any]:
        """Each child's metrics, as the reference's sweep run: ``{run_id: metrics}``."""
        children = self.get_children()
        return {child.id: child.get_metrics(name, recursive=recursive) for child in children}

    def cancel(self) -> None:
        """Cancel the sweep and its running children; returns once the sweep has ended."""
        from runwidget.execution.cancel import request_cancel

        if self._is_own_context():
            super().cancel()
            return
        request_cancel(self)
        self._ended = True
