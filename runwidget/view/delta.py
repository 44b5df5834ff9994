"""The delta protocol: how a snapshot of version ``v - 1`` becomes version ``v``.

A delta is ``{"version": v, "base": v - 1, "time": t, ...parts}`` with only the parts that
changed:

* ``header``, ``properties``, ``error``, ``notices``, ``iterations``, ``terminal``,
  ``plots`` (rich metrics; absent from a snapshot of a run without them): the new value,
  replacing the old one;
* ``charts``: ``{"specs": [chart without series data], "data": [series tail]}``. A spec
  adds a chart or replaces its metadata (series keep their points; a new series starts
  empty). A series tail ``{"chart", "series", "start", "x", "y", "count", "skipped"}``
  keeps the first ``start`` points and appends ``x``/``y``;
* ``images``: ``{"add": [image], "remove": [image id]}``;
* ``children``: ``{"columns": [...]?, "upsert": [row]?}``; rows are matched by ``id``, and
  new rows go at the end;
* ``log``: ``{"append": [line], "total": n}``; only the last ``log.limit`` lines are kept.

This module is the reference implementation; ``js/state.js`` does the same in the browser,
and the golden files in ``tests/fixtures/view/`` (written from the view model by
``tests/test_view_fixtures.py``) check that both give the same result. The shapes are typed
in ``runwidget.view.schema``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

_REPLACED: tuple[str, ...]
_REPLACED = ("header", "properties", "error", "notices", "iterations", "terminal", "plots")
# The run's alerts (absent from a snapshot of a run without any): the new list, replacing.
_REPLACED += ("alerts",)


class DeltaMismatchError(ValueError):
    """A delta does not follow the snapshot's version."""


def apply_delta(snapshot: Mapping[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """A new snapshot: ``snapshot`` with ``delta`` applied (``snapshot`` is not changed).

    Raises:
        DeltaMismatchError: ``delta["base"]`` is not ``snapshot["version"]``.
    """
    if delta.get("base") != snapshot.get("version"):
        raise DeltaMismatchError(
            f"delta from version {delta.get('base')!r} cannot apply to version "
            f"{snapshot.get('version')!r}"
        )
    out = copy.deepcopy(dict(snapshot))
    out["version"] = delta["version"]
    out["time"] = delta.get("time", out.get("time"))
    for key in _REPLACED:
        if key in delta:
            out[key] = copy.deepcopy(delta[key])
    if "charts" in delta:
        _apply_charts(out["charts"], delta["charts"])
    if "images" in delta:
        removed = set(delta["images"].get("remove", ()))
        out["images"] = [i for i in out["images"] if i["id"] not in removed]
        out["images"] += copy.deepcopy(delta["images"].get("add", []))
    if "children" in delta:
        part = delta["children"]
        if "columns" in part:
            out["children"]["columns"] = copy.deepcopy(part["columns"])
        rows = out["children"]["rows"]
        where = {row["id"]: i for i, row in enumerate(rows)}
        for row in part.get("upsert", ()):
            if row["id"] in where:
                rows[where[row["id"]]] = copy.deepcopy(row)
            else:
                where[row["id"]] = len(rows)
                rows.append(copy.deepcopy(row))
    if "log" in delta:
        log = out["log"]
        log["lines"] = (log["lines"] + copy.deepcopy(delta["log"]["append"]))[-log["limit"] :]
        log["total"] = delta["log"]["total"]
    return out


def _apply_charts(charts: list[dict[str, Any]], part: dict[str, Any]) -> None:
    by_id = {c["id"]: c for c in charts}
    for spec in part.get("specs", ()):
        chart = by_id.get(spec["id"])
        old_series = {} if chart is None else {s["id"]: s for s in chart["series"]}
        new = copy.deepcopy(spec)
        new["series"] = [
            old_series.get(s["id"]) or {**s, "count": 0, "skipped": 0, "x": [], "y": []}
            for s in spec["series"]
        ]
        for s, meta in zip(new["series"], spec["series"], strict=True):
            s.update(meta)  # a kept series takes the spec's label and colour
        if chart is None:
            charts.append(new)
        else:
            charts[charts.index(chart)] = new
        by_id[new["id"]] = new
    for tail in part.get("data", ()):
        series = next(s for s in by_id[tail["chart"]]["series"] if s["id"] == tail["series"])
        start = tail["start"]
        series["x"] = series["x"][:start] + list(tail["x"])
        series["y"] = series["y"][:start] + list(tail["y"])
        series["count"] = tail["count"]
        series["skipped"] = tail["skipped"]
