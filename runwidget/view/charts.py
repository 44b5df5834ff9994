"""Metric points into properties (single values, strings) and chart specs (series).

How a metric was logged decides how it is drawn (see DESIGN.md):

* ``run.log`` once, or with a string: a property row;
* ``run.log`` repeatedly: a line of one variable, x = ``step`` when given, else the index;
* ``run.log_list``: a line of one variable, x = the index over all its points;
* ``run.log_row`` / ``run.log_table``: lines of two variables, x = the first column and one
  line per other numeric column (a single column is drawn against the index).

Series are downsampled with ``MinMaxSeries``; NaN and infinities are not drawn but counted
(``skipped``), so a chart can say so.

System metrics (``system/...``, sampled by runwidget: see ``runwidget.tracking.system_metrics``)
are always charts, even of one point, in the view's own "System" section
(``"section": "system"`` in their spec), against the seconds since sampling started.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runwidget.store import MetricColumns, MetricKind, MetricPoint
from runwidget.store.blocks import MetricBlocks
from runwidget.store.records import metric_columns
from runwidget.view._values import finite_number, json_value
from runwidget.view.downsample import MinMaxSeries
from runwidget.view.palette import series_colour

CHART_ID_PREFIX = "m:"
SYSTEM_PREFIX = "system/"
SYSTEM_X_LABEL = "seconds since start"


@dataclass
class _Series:
    id: str
    label: str
    data: MinMaxSeries
    count: int = 0
    skipped: int = 0

    def meta(self, index: int) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "colour": series_colour(index)}


@dataclass
class _Chart:
    id: str
    name: str
    kind: str  # "line" (one variable) or "xy" (two variables)
    x_label: str
    series: dict[str, _Series] = field(default_factory=dict)
    positive: bool = True  # every value drawn is > 0: a log y axis can show them all
    times: bool = False  # each point has its own time: x can be the time

    def controls(self) -> dict[str, Any]:
        """What the chart's toolbar offers: a log y axis when every value is above 0, x as
        time when the points have their own times, the CSV of the full series."""
        return {
            "log_y": self.positive,
            "x_axes": ["data", "relative", "wall"] if self.times else ["data"],
            "csv": True,
        }

    def meta(self) -> dict[str, Any]:
        single = len(self.series) == 1
        spec = {
            "id": self.id,
            "name": self.name,
            "title": self.name,
            "kind": self.kind,
            "x_label": self.x_label,
            "y_label": next(iter(self.series.values())).label if single else "",
            "series": [s.meta(i) for i, s in enumerate(self.series.values())],
            "controls": self.controls(),
        }
        if self.name.startswith(SYSTEM_PREFIX):
            spec["section"] = "system"
            spec["title"] = self.name[len(SYSTEM_PREFIX) :]
        return spec


@dataclass
class _Metric:
    name: str
    kind: str
    points: int = 0  # every point of this name, the index of a point without step
    numeric: int = 0
    has_step: bool = False
    first: tuple[float, float] | None = None  # a scalar's first point, until a second comes
    last_text: str | None = None
    last_value: Any = None
    chart: _Chart | None = None


class ChartSet:
    """Every metric of one run: property values and chart series, updated point by point.

    Args:
        max_points: the most points a series keeps (about 2,000 reads well and draws fast).
    """

    def __init__(self, max_points: int = 2000) -> None:
        self.max_points = max_points
        self._metrics: dict[str, _Metric] = {}
        self._charts: dict[str, _Chart] = {}
        self._changed_specs: set[str] = set()
        self._properties_changed = False
        self._skipped_changed = False

    # -- adding ----------------------------------------------------------------------------
    def add(self, points: Iterable[MetricPoint]) -> None:
        """Add metric points (records)."""
        self.add_columns(metric_columns(points))

    def add_columns(self, columns: Iterable[MetricColumns]) -> None:
        """Add metric points given as columns (``RunSource.metric_columns``)."""
        for col in columns:
            metric = self._metrics.get(col.name)
            if metric is None:
                metric = self._metrics[col.name] = _Metric(col.name, col.kind)
            if metric.kind in (MetricKind.ROW, MetricKind.TABLE):
                self._add_rows(metric, col.others)
            else:
                self._add_values(metric, col)

    def _add_values(self, metric: _Metric, col: MetricColumns) -> None:
        is_list = metric.kind == MetricKind.LIST
        if col.blocks is not None and len(col.blocks):
            self._add_blocks(metric, col.blocks)
        n = len(col.seq)
        # Each point's index among all points of this metric (strings included).
        if col.others:
            seqs = np.concatenate([col.seq, [p.seq for p in col.others]])
            rank = np.empty(len(seqs), dtype=np.int64)
            rank[np.argsort(seqs, kind="stable")] = np.arange(len(seqs))
            index = metric.points + rank[:n]
            texts = [p.value for p in col.others if isinstance(p.value, str)]
            if texts:
                metric.last_text = texts[-1]
                self._properties_changed = True
        else:
            index = metric.points + np.arange(n)
        metric.points += n + len(col.others)
        if n == 0:
            return
        steps = col.step
        given = ~np.isnan(steps)
        if is_list or not given.any():
            xs = index.astype(float)
        else:
            metric.has_step = True
            xs = np.where(given, steps, index)
        ys = col.value
        metric.numeric += n
        metric.last_value = float(ys[-1])
        system = metric.name.startswith(SYSTEM_PREFIX)
        if metric.chart is None and not is_list and metric.numeric == 1 and not system:
            metric.first = (float(xs[0]), float(ys[0]))  # a property until a second comes
            self._properties_changed = True
            return
        if metric.chart is None:
            if metric.first is not None:
                xs = np.r_[metric.first[0], xs]
                ys = np.r_[metric.first[1], ys]
                metric.first = None
                self._properties_changed = True
            x_label = "step" if metric.has_step and not is_list else "index"
            metric.chart = self._new_chart(
                metric.name, "line", SYSTEM_X_LABEL if system else x_label
            )
            label = metric.name[len(SYSTEM_PREFIX) :] if system else metric.name
            metric.chart.times = not system and not is_list
            self._series(metric.chart, "value", label)
        elif system:
            pass
        elif metric.has_step and metric.chart.x_label != "step" and not is_list:
            metric.chart.x_label = "step"
            self._changed_specs.add(metric.chart.id)
        self._extend(metric.chart, metric.chart.series["value"], xs, ys)

    def _add_blocks(self, metric: _Metric, blocks: MetricBlocks) -> None:
        """Start a metric's chart from the block summaries of its first points."""
        index = metric.points + blocks.index
        if metric.kind == MetricKind.LIST or np.isnan(blocks.step).all():
            x = index.astype(float)
        else:
            metric.has_step = True
            x = np.where(np.isnan(blocks.step), index, blocks.step)
        metric.points += blocks.points
        metric.numeric += blocks.points
        metric.last_value = float(blocks.value[-1, 3])
        metric.first = None
        if metric.chart is None:
            x_label = "step" if metric.has_step else "index"
            metric.chart = self._new_chart(metric.name, "line", x_label)
            metric.chart.times = metric.kind != MetricKind.LIST
            self._series(metric.chart, "value", metric.name)
        series = metric.chart.series["value"]
        if blocks.size and len(blocks):
            self._check_positive(metric.chart, blocks.value[:, 1])
        series.count += blocks.points
        skipped = blocks.points - blocks.size * len(blocks)
        if skipped:
            series.skipped += skipped
            self._skipped_changed = True
        series.data.extend_blocks(blocks.size, blocks.rank, x, blocks.value)

    def _add_rows(self, metric: _Metric, group: list[MetricPoint]) -> None:
        columns: dict[str, tuple[list[float], list[float]]] = {}
        x_name: str | None = None if metric.chart is None else metric.chart.x_label
        for p in group:
            index = metric.points
            metric.points += 1
            row = p.value if isinstance(p.value, dict) else {}
            names = list(row)
            if not names:
                continue
            if x_name is None:
                x_name = names[0] if len(names) > 1 else "index"
            if x_name == "index":
                x = float(index)
                y_names = names
            else:
                x_value = finite_number(row.get(x_name))
                x = x_value if x_value is not None else math.nan
                y_names = [n for n in names if n != x_name]
            for column in y_names:
                xs, ys = columns.setdefault(column, ([], []))
                y = finite_number(row[column])
                xs.append(x)
                ys.append(math.nan if y is None else y)
        if not columns:
            return
        if metric.chart is None:
            metric.chart = self._new_chart(metric.name, "xy", x_name or "index")
        for column, (xs, ys) in columns.items():
            series = metric.chart.series.get(column)
            if series is None:
                series = self._series(metric.chart, column, column)
            self._extend(metric.chart, series, xs, ys)

    def _new_chart(self, name: str, kind: str, x_label: str) -> _Chart:
        chart = _Chart(CHART_ID_PREFIX + name, name, kind, x_label)
        self._charts[chart.id] = chart
        self._changed_specs.add(chart.id)
        return chart

    def _series(self, chart: _Chart, series_id: str, label: str) -> _Series:
        series = _Series(series_id, label, MinMaxSeries(self.max_points))
        chart.series[series_id] = series
        self._changed_specs.add(chart.id)
        return series

    def _extend(
        self,
        chart: _Chart,
        series: _Series,
        xs: np.ndarray | list[float],
        ys: np.ndarray | list[float],
    ) -> None:
        x = np.asarray(xs, dtype=float)
        y = np.asarray(ys, dtype=float)
        finite = np.isfinite(x) & np.isfinite(y)
        series.count += len(x)
        skipped = int(len(x) - np.count_nonzero(finite))
        if skipped:
            series.skipped += skipped
            self._skipped_changed = True
        series.data.extend(x[finite], y[finite])
        self._check_positive(chart, y[finite])

    def _check_positive(self, chart: _Chart, y: np.ndarray) -> None:
        if chart.positive and len(y) and not (y[np.isfinite(y)] > 0).all():
            chart.positive = False
            self._changed_specs.add(chart.id)

    # -- reading ---------------------------------------------------------------------------
    def properties(self) -> list[dict[str, Any]]:
        """Single-valued and string metrics, in logging order."""
        rows = []
        for metric in self._metrics.values():
            if metric.first is not None:
                rows.append(
                    {"group": "metric", "name": metric.name, "value": json_value(metric.last_value)}
                )
            elif metric.last_text is not None and metric.chart is None:
                rows.append({"group": "metric", "name": metric.name, "value": metric.last_text})
        return rows

    def skipped(self) -> dict[str, int]:
        """Values not drawn (NaN, infinities, non-numbers) by chart id."""
        out: dict[str, int] = {}
        for chart in self._charts.values():
            total = sum(s.skipped for s in chart.series.values())
            if total:
                out[chart.name] = total
        return out

    def snapshot(self, with_data: bool = True) -> list[dict[str, Any]]:
        out = []
        for chart in self._charts.values():
            spec = chart.meta()
            for meta, series in zip(spec["series"], chart.series.values(), strict=True):
                meta["count"] = series.count
                meta["skipped"] = series.skipped
                if with_data:
                    x, y = series.data.points()
                    meta["x"] = x.tolist()
                    meta["y"] = y.tolist()
            out.append(spec)
        return out

    def series_arrays(self, chart_id: str, series_id: str) -> tuple[np.ndarray, np.ndarray]:
        return self._charts[chart_id].series[series_id].data.points()

    def take_changes(self) -> tuple[bool, dict[str, Any] | None]:
        """``(properties changed, charts delta or None)`` since the last call."""
        props = self._properties_changed
        self._properties_changed = False
        specs = [self._charts[cid].meta() for cid in self._charts if cid in self._changed_specs]
        self._changed_specs.clear()
        data = []
        for chart in self._charts.values():
            for series in chart.series.values():
                delta = series.data.take_delta()
                if delta is None:
                    continue
                data.append(
                    {
                        "chart": chart.id,
                        "series": series.id,
                        "start": delta.start,
                        "x": delta.x.tolist(),
                        "y": delta.y.tolist(),
                        "count": series.count,
                        "skipped": series.skipped,
                    }
                )
        if not specs and not data:
            return props, None
        return props, {"specs": specs, "data": data}

    def take_skipped_changed(self) -> bool:
        changed = self._skipped_changed
        self._skipped_changed = False
        return changed
