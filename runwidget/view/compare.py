"""Runs side by side: the view model of a comparison, made from each run's own view.

It decides, in one place, what the compare view draws: a colour per run; one chart per
metric with a line per run (and per column, for rows and tables); the runs' properties,
tags, metrics logged once and arguments in one table, a row marked where the runs differ;
and last / min / max of each charted metric per run. The series are the runs' own
downsampled series (each bucket's first, lowest, highest and last points), so min, max
and last are those of every point logged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from runwidget.sources import RunSource
from runwidget.view.model import RunView
from runwidget.view.palette import SERIES
from runwidget.view.series import X_AXES

MAX_RUNS = 12
# Points per line: a comparison draws many lines at once.
COMPARE_POINTS = 500


def _finite(values: list[Any]) -> list[float]:
    return [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def shared_controls(controls: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the toolbar of a chart of several runs offers: what each run's own chart of that
    metric offers (a log y axis when every run's values are above 0, time axes when every
    run's points have times), and the CSV of every run's full series."""
    axes = [a for a in X_AXES if all(a in c.get("x_axes", ["data"]) for c in controls)]
    return {
        "log_y": bool(controls) and all(c.get("log_y") for c in controls),
        "x_axes": axes or ["data"],
        "csv": True,
    }


class CompareView:
    """The comparison of several runs, each read through its own ``RunView``.

    Args:
        sources: the runs (1 to ``MAX_RUNS``), in the order they are shown.
        max_points: points per line.
    """

    def __init__(self, sources: Sequence[RunSource], *, max_points: int = COMPARE_POINTS) -> None:
        self.views = [RunView(s, max_points=max_points) for s in sources]
        for view in self.views:  # the first reads of all runs at once, in the database
            view.prefetch_metrics()

    @property
    def terminal(self) -> bool:
        """Whether every run has ended (nothing will change)."""
        return all(v.terminal for v in self.views)

    @property
    def sources(self) -> list[RunSource]:
        return [v.source for v in self.views]

    def refresh(self) -> None:
        for view in self.views:
            if not view.terminal:
                view.refresh()

    def snapshot(self) -> dict[str, Any]:
        """The comparison as the front end draws it (JSON-ready)."""
        snaps = [v.snapshot() for v in self.views]
        runs = []
        for i, snap in enumerate(snaps):
            header = snap["header"]
            runs.append({
                "id": header["run_id"],
                "name": header["display_name"] or header["run_id"],
                "status": header["status"],
                "status_kind": header["status_kind"],
                "colour": SERIES[i % len(SERIES)],
                "portal_url": header.get("portal_url"),
            })  # fmt: skip
        return {
            "runs": runs,
            "charts": self._charts(snaps, runs),
            "table": self._table(snaps),
            "terminal": self.terminal,
        }

    @staticmethod
    def _charts(
        snaps: Sequence[Mapping[str, Any]], runs: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        charts: dict[str, dict[str, Any]] = {}
        controls: dict[str, list[Mapping[str, Any]]] = {}
        for snap, run in zip(snaps, runs, strict=True):
            for chart in snap["charts"]:
                if not chart["id"].startswith("m:"):
                    continue  # iteration charts belong to one parent run
                target = charts.setdefault(
                    chart["name"],
                    {"name": chart["name"], "x_label": chart["x_label"], "series": [],
                     "stats": []},
                )  # fmt: skip
                controls.setdefault(chart["name"], []).append(chart.get("controls") or {})
                single = len(chart["series"]) == 1
                for s in chart["series"]:
                    label = run["name"] if single else f"{run['name']} · {s['label']}"
                    target["series"].append({
                        "run": run["id"], "id": s["id"], "label": label, "colour": run["colour"],
                        "dash": not single and s is not chart["series"][0],
                        "x": s["x"], "y": s["y"],
                    })  # fmt: skip
                    values = _finite(s["y"])
                    target["stats"].append({
                        "run": run["id"], "label": label,
                        "last": s["y"][-1] if s["y"] else None,
                        "min": min(values) if values else None,
                        "max": max(values) if values else None,
                        "count": s["count"],
                    })  # fmt: skip
        for name, chart in charts.items():
            chart["controls"] = shared_controls(controls[name])
        return [charts[name] for name in sorted(charts)]

    @staticmethod
    def _table(snaps: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        rows: dict[tuple[str, str], list[str]] = {}
        for i, snap in enumerate(snaps):
            items = [(p["group"], p["name"], p["value"]) for p in snap["properties"]]
            arguments = snap["header"].get("arguments") or []
            if arguments:
                items.append(("run", "Arguments", " ".join(map(str, arguments))))
            for group, name, value in items:
                cells = rows.setdefault((group, name), [""] * len(snaps))
                cells[i] = _text(value)
        order = {"run": 0, "property": 1, "tag": 2, "metric": 3}
        return [
            {"group": group, "name": name, "values": cells, "differs": len(set(cells)) > 1}
            for (group, name), cells in sorted(
                rows.items(), key=lambda item: (order.get(item[0][0], 9), item[0][1])
            )
        ]
