"""The drill-down of a RunDetails: the run shown now, and the runs opened above it (each
with its view, its chart widgets and its refresh loop, so that going back shows it as it
was and goes on reading it only if it was not finished)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runwidget.view import RunView
from runwidget.widgets._charts import ChartFigures
from runwidget.widgets._refresh import RefreshLoop


@dataclass
class Level:
    """One run in the trail: what is read of it, and its charts in the browser."""

    view: RunView
    figures: ChartFigures
    loop: RefreshLoop

    def close(self) -> None:
        """Close its chart widgets and its source (its loop is stopped already)."""
        self.figures.close()
        self.view.source.close()


class Navigation:
    """The run shown (``current``) and the runs above it, outermost first.

    Args:
        level: the run shown first (the top of the trail).
    """

    def __init__(self, level: Level) -> None:
        self.current = level
        self._above: list[Level] = []
        #: The runs above the one shown, outermost first: ``[{run_id, name}]``.
        self.trail: list[dict[str, Any]] = []

    @property
    def depth(self) -> int:
        """How many runs are above the one shown."""
        return len(self._above)

    def open(self, level: Level) -> None:
        """Show ``level``'s run, below the one shown now."""
        header = self.current.view.snapshot(with_series=False)["header"]
        self.trail = [*self.trail, {"run_id": header["run_id"], "name": header["display_name"]}]
        self._above.append(self.current)
        self.current = level

    def back(self) -> Level | None:
        """Show the run above again; returns the level left (for the caller to close), or
        None at the top."""
        if not self._above:
            return None
        left, self.current = self.current, self._above.pop()
        self.trail = self.trail[:-1]
        return left

    def levels(self) -> list[Level]:
        """Every level: those above, then the one shown."""
        return [*self._above, self.current]
