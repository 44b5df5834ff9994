"""Runs side by side: the view model of a comparison, made from each run's own view.

It decides, in one place, what the compare view draws: a colour per run; one chart per
metric with a line per run (and per column, for rows and tables); the runs' properties,
tags, metrics logged once and arguments in one table, a row marked where the runs differ;
and last / min / max of each charted metric per run. The series are the runs' own
downsampled series (each bucket's first, lowest, highest and last points), so min, max
and last are those of every point logged.

``refresh()`` reads the live runs again and returns what changed since the last version
(``compare_delta``), which ``apply_compare_delta`` (and js/components/compare.js in the
browser) merges into the comparison of the version before:

* ``runs``: the runs' entries that changed (their status), matched by ``id``;
* ``charts``: a new chart, or one whose lines or toolbar changed (a run gained a series, a
  value at 0 took the log axis away), with its stats but without its lines' points: a line
  of the chart before (the same run and series id) keeps its points, a new one starts
  empty; ``order`` gives every chart's name in the comparison's order when a chart came (or
  went);
* ``series``: ``{"chart", "index", "start", "x", "y"}``: line ``index`` of chart ``chart``
  keeps its first ``start`` points and takes ``x``/``y`` after them (new points; the whole
  line, ``start`` 0, once the run's series was downsampled again);
* ``stats``: ``{"chart", "index", "row"}``: a line's new last / min / max row;
* ``table``, ``terminal``: the new value, replacing the old one.
"""

from __future__ import annotations

import copy
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
        #: The comparison's version: one more for each refresh that changed something.
        self.version = 0
        self._snaps: list[Mapping[str, Any]] | None = None  # each run's view, as last read
        self._current: dict[str, Any] | None = None

    @property
    def terminal(self) -> bool:
        """Whether every run has ended (nothing will change)."""
        return all(v.terminal for v in self.views)

    @property
    def sources(self) -> list[RunSource]:
        return [v.source for v in self.views]

    def refresh(self) -> dict[str, Any] | None:
        """Read the live runs again.

        Returns:
            What changed since the last version (``{"version", "base", ...parts}``, see the
            module), or None when nothing did.
        """
        before = self.snapshot()
        snaps = list(self._snaps or ())
        changed = False
        for i, view in enumerate(self.views):
            if not view.terminal and view.refresh() is not None:
                snaps[i] = view.snapshot()  # a run that did not change keeps its lines
                changed = True
        if not changed:
            return None
        self._snaps = snaps
        after = self._compare(snaps)
        delta = compare_delta(before, after)
        if delta is None:
            return None
        self.version += 1
        self._current = {**after, "version": self.version}
        return {"version": self.version, "base": self.version - 1, **delta}

    def snapshot(self) -> dict[str, Any]:
        """The whole comparison at ``version``, as the front end draws it (JSON-ready).
        Refresh first: a new comparison has read nothing."""
        if self._current is None:
            self._snaps = [v.snapshot() for v in self.views]
            self._current = {**self._compare(self._snaps), "version": self.version}
        return self._current

    def _compare(self, snaps: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
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
            "terminal": all(s["terminal"] for s in snaps),
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


def _layout(chart: Mapping[str, Any]) -> dict[str, Any]:
    """A chart without its lines' points: what is sent when it changes (its stats with it)."""
    lines = [{k: v for k, v in s.items() if k not in ("x", "y")} for s in chart["series"]]
    return {**chart, "series": lines}


def _line_key(line: Mapping[str, Any]) -> tuple[Any, Any]:
    return line["run"], line["id"]


def _kept(old: list[Any], new: list[Any]) -> int:
    """How many first points of ``old`` ``new`` starts with."""
    if old is new:
        return len(old)
    n = min(len(old), len(new))
    if old[:n] == new[:n]:
        return n
    i = 0
    while old[i] == new[i]:
        i += 1
    return i


def compare_delta(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any] | None:
    """The parts of comparison ``new`` that differ from ``old`` (see the module), or None."""
    delta: dict[str, Any] = {}
    runs = [r for r, was in zip(new["runs"], old["runs"], strict=True) if r != was]
    if runs:
        delta["runs"] = runs
    before = {c["name"]: c for c in old["charts"]}
    specs, tails, stats = [], [], []
    empty: dict[str, Any] = {"x": [], "y": []}
    for chart in new["charts"]:
        was = before.get(chart["name"])
        layout = _layout(chart)
        if was is None or {**_layout(was), "stats": None} != {**layout, "stats": None}:
            specs.append(layout)  # its lines keep their points (matched by run and id)
            lines = {_line_key(s): s for s in (was or {"series": ()})["series"]}
            olds = [lines.get(_line_key(s), empty) for s in chart["series"]]
        else:
            olds = was["series"]
            for i, (row, w) in enumerate(zip(chart["stats"], was["stats"], strict=True)):
                if row != w:
                    stats.append({"chart": chart["name"], "index": i, "row": row})
        for i, (s, w) in enumerate(zip(chart["series"], olds, strict=True)):
            start = min(_kept(w["x"], s["x"]), _kept(w["y"], s["y"]))
            if not start == len(s["x"]) == len(w["x"]):
                tails.append(
                    {"chart": chart["name"], "index": i, "start": start,
                     "x": s["x"][start:], "y": s["y"][start:]}
                )  # fmt: skip
    if specs:
        delta["charts"] = specs
    names = [c["name"] for c in new["charts"]]
    if names != list(before):
        delta["order"] = names
    if tails:
        delta["series"] = tails
    if stats:
        delta["stats"] = stats
    for key in ("table", "terminal"):
        if new[key] != old[key]:
            delta[key] = new[key]
    return delta or None


def apply_compare_delta(compare: Mapping[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """A new comparison: ``compare`` with ``delta`` merged in (``compare`` is not changed).
    The reference of js/components/compare.js ``applyCompareDelta``.

    Raises:
        ValueError: ``delta["base"]`` is not ``compare["version"]``.
    """
    if delta["base"] != compare["version"]:
        raise ValueError(
            f"delta from version {delta['base']} cannot apply to version {compare['version']}"
        )
    out = copy.deepcopy(dict(compare))
    out["version"] = delta["version"]
    changed = {r["id"]: r for r in delta.get("runs", ())}
    out["runs"] = [copy.deepcopy(changed.get(r["id"], r)) for r in out["runs"]]
    charts = {c["name"]: c for c in out["charts"]}
    for spec in delta.get("charts", ()):
        was = charts.get(spec["name"], {"series": ()})
        lines = {_line_key(s): s for s in was["series"]}
        chart = copy.deepcopy(spec)
        for line in chart["series"]:
            kept = lines.get(_line_key(line), {"x": [], "y": []})
            line["x"], line["y"] = list(kept["x"]), list(kept["y"])
        charts[spec["name"]] = chart
    for tail in delta.get("series", ()):
        line = charts[tail["chart"]]["series"][tail["index"]]
        line["x"] = line["x"][: tail["start"]] + list(tail["x"])
        line["y"] = line["y"][: tail["start"]] + list(tail["y"])
    for stat in delta.get("stats", ()):
        charts[stat["chart"]]["stats"][stat["index"]] = copy.deepcopy(stat["row"])
    names = delta.get("order", [c["name"] for c in out["charts"]])
    out["charts"] = [charts[name] for name in names]
    for key in ("table", "terminal"):
        if key in delta:
            out[key] = copy.deepcopy(delta[key])
    return out
