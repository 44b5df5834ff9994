"""bqplot figures for the charts of a view: one figure per chart spec, one line per series.

Who owns the charts' points: the view model, drawn by the browser. Python creates the
figures and their lines, empty, and never writes a point into them. The points travel in
the view: a page that loads the widget (first display, a second view, a reload, a reopened
notebook with its kernel) gets the whole view in the widget's ``_snapshot`` state, series
as binary buffers, and then each poll's delta with only the points that are new; the
browser puts both into the lines (js/widget.js). So no point is sent twice, the lines of
an output drawn anew are the same models with their points, and the notebook's saved
widget state holds the lines as the browser drew them. (The other way, the kernel setting
every line's points, would send each line whole at every poll.)

The chart controls are the browser's (they must work while a cell runs): each metric chart
also has a log y scale, a wall-time x scale (bqplot's dates) and, per series, an overlay
line, hidden and empty here, that the browser fills with the smoothed series or a zoomed
range (``js/widgetcharts.js``). What only the kernel can read, every point of a metric, it
answers to ``chart_request``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from runwidget.errors import InvalidValueError, MetricNotFoundError
from runwidget.view.palette import BEST_SO_FAR, ITERATION_POINTS, SERIES
from runwidget.view.series import csv_text, runs_csv_text, series_of, source_points

if TYPE_CHECKING:
    from bqplot import Figure, Lines, Scatter

# The view model's palette (each series it sends names its colour; these are the defaults).
COLOURS = SERIES
_MARGIN = {"top": 36, "bottom": 44, "left": 64, "right": 16}
ITERATION_PREFIX = "it:"


def _y_axis(scale: Any, label: str, fmt: str = ".3~g") -> Any:
    from bqplot import Axis

    return Axis(scale=scale, side="left", label=label, tick_format=fmt, label_offset="48px")


def _figure(
    title: str, x_label: str, y_label: str, marks: list[Any], scales: dict[str, Any]
) -> Figure:
    # bqplot is imported when a first chart is drawn: ``import runwidget`` stays fast.
    from bqplot import Axis, Figure
    from ipywidgets import Layout

    axes = [
        Axis(scale=scales["x"], label=x_label, tick_format=".4~g"),
        _y_axis(scales["y"], y_label),
    ]
    return Figure(
        marks=marks,
        axes=axes,
        title=title,
        fig_margin=dict(_MARGIN),
        animation_duration=0,
        legend_location="top-right",
        layout=Layout(width="100%", height="240px", min_width="200px"),
        title_style={"font-size": "13px"},
    )


class ChartFigures:
    """The bqplot widgets of one view's charts (metric charts and iteration charts)."""

    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}
        self.lines: dict[str, dict[str, Lines]] = {}
        self.overlays: dict[str, dict[str, Lines]] = {}
        self.log_axes: dict[str, Any] = {}  # the log y axis the browser swaps in
        self.date_axes: dict[str, Any] = {}  # the wall-time x axis the browser swaps in
        self._iteration_marks: dict[str, tuple[Scatter, Lines]] = {}

    # -- metric charts ---------------------------------------------------------------------
    def ensure(self, spec: dict[str, Any]) -> bool:
        """Create the figure and lines of a chart spec; True when a widget was created."""
        from bqplot import Axis, DateScale, LinearScale, Lines, LogScale

        created = False
        figure = self.figures.get(spec["id"])
        if figure is None:
            scales = {"x": LinearScale(), "y": LinearScale()}
            figure = self.figures[spec["id"]] = _figure(
                spec["title"], spec["x_label"], spec["y_label"], [], scales
            )
            self.lines[spec["id"]] = {}
            self.overlays[spec["id"]] = {}
            self.log_axes[spec["id"]] = _y_axis(LogScale(), spec["y_label"], ".2~g")
            # No tick format: bqplot picks one for the span (times of day, or dates).
            self.date_axes[spec["id"]] = Axis(scale=DateScale(), label="wall time")
            created = True
        else:
            figure.axes[0].label = spec["x_label"]
        lines = self.lines[spec["id"]]
        overlays = self.overlays[spec["id"]]
        scales = {"x": figure.axes[0].scale, "y": figure.axes[1].scale}
        for series in spec["series"]:
            if series["id"] in lines:
                continue
            colour = series.get("colour") or COLOURS[len(lines) % len(COLOURS)]
            for group, width, visible in ((lines, 1.5, True), (overlays, 2.0, False)):
                group[series["id"]] = Lines(
                    x=np.empty(0),
                    y=np.empty(0),
                    scales=scales,
                    colors=[colour],
                    labels=[series["label"]],
                    stroke_width=width,
                    visible=visible,
                )
            created = True
        marks = [*lines.values(), *overlays.values()]
        if figure.marks != marks:
            figure.marks = marks
        return created

    # -- iteration charts ------------------------------------------------------------------
    def ensure_iterations(self, meta: dict[str, Any] | None) -> bool:
        from bqplot import LinearScale, Lines, LogScale, Scatter

        created = False
        colours = (meta or {}).get("colours") or {}
        for metric in (meta or {}).get("metrics", []):
            chart_id = ITERATION_PREFIX + metric
            if chart_id in self.figures:
                continue
            scales = {"x": LinearScale(), "y": LinearScale()}
            points = Scatter(
                x=np.empty(0),
                y=np.empty(0),
                scales=scales,
                colors=[colours.get("points", ITERATION_POINTS)],
                default_size=24,
                labels=[metric],
            )
            best = Lines(
                x=np.empty(0),
                y=np.empty(0),
                scales=scales,
                colors=[colours.get("best", BEST_SO_FAR)],
                interpolation="step-after",
                labels=["best so far"],
                stroke_width=2,
            )
            self._iteration_marks[chart_id] = (points, best)
            self.figures[chart_id] = _figure(metric, "iteration", metric, [points, best], scales)
            self.log_axes[chart_id] = _y_axis(LogScale(), metric, ".2~g")
            created = True
        return created

    # -- the browser's map -----------------------------------------------------------------
    def model_map(self) -> dict[str, Any]:
        """``{chart id: {"figure", "series": {series id: model id}, "scales", "axes"}}``, model
        ids; scales and axes are ``x``, ``y``, ``log_y`` (and ``date_x`` on a metric chart,
        which also names its ``overlay`` lines)."""
        out: dict[str, Any] = {}
        for chart_id, figure in self.figures.items():
            if chart_id in self._iteration_marks:
                points, best = self._iteration_marks[chart_id]
                series = {"points": points.model_id, "best": best.model_id}
                out[chart_id] = {
                    "figure": figure.model_id,
                    "series": series,
                    **self._axes(chart_id),
                }
                continue
            series = {sid: line.model_id for sid, line in self.lines[chart_id].items()}
            out[chart_id] = {
                "figure": figure.model_id,
                "series": series,
                "overlay": {sid: line.model_id for sid, line in self.overlays[chart_id].items()},
                **self._axes(chart_id),
            }
        return out

    def _axes(self, chart_id: str) -> dict[str, dict[str, str]]:
        """A figure's scales and axes, and those the browser swaps in (log y, wall time)."""
        figure = self.figures[chart_id]
        axes = {"x": figure.axes[0], "y": figure.axes[1], "log_y": self.log_axes[chart_id]}
        if chart_id in self.date_axes:
            axes["date_x"] = self.date_axes[chart_id]
        return {
            "scales": {key: axis.scale.model_id for key, axis in axes.items()},
            "axes": {key: axis.model_id for key, axis in axes.items()},
        }

    def close(self) -> None:
        """Close every widget (figures, marks, scales, axes)."""
        for figure in self.figures.values():
            for axis in figure.axes:
                axis.scale.close()
                axis.close()
            for mark in figure.marks:
                mark.close()
            figure.scale_x.close()
            figure.scale_y.close()
            if figure.interaction is not None:
                figure.interaction.close()
            figure.close()
        for axis in [*self.log_axes.values(), *self.date_axes.values()]:
            axis.scale.close()
            axis.close()
        self.figures.clear()
        self.lines.clear()
        self.overlays.clear()
        self.log_axes.clear()
        self.date_axes.clear()
        self._iteration_marks.clear()


CHART_REQUESTS = ("metric_csv", "metric_range")


def _request(content: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """A chart request's type and metric name, checked, and the head of its answer."""
    kind = content.get("type")
    name = content.get("name")
    if kind not in CHART_REQUESTS or not isinstance(name, str):
        raise InvalidValueError(f"a chart request needs a type and a metric name, got {content!r}")
    return kind, name, {"type": kind, "name": name, "request": content.get("request")}


def chart_request(source: Any, content: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
    """The kernel's answer to a chart's request from the browser: every point of a metric as
    CSV (``metric_csv``, the text in one buffer), or its series on an x axis cut to a range
    and downsampled again from every point in it (``metric_range``).

    Raises:
        InvalidValueError: a field of the request is not one accepted.
        MetricNotFoundError: the run has no such metric.
    """
    kind, name, answer = _request(content)
    points = source_points(source, name)
    if kind == "metric_csv":
        return answer, ["".join(csv_text(points)).encode("utf-8")]
    bounds = [content.get("from"), content.get("to")]
    if not all(b is None or isinstance(b, (int, float)) for b in bounds):
        raise InvalidValueError(f"from and to must be numbers, got {bounds!r}")
    record = source.record()
    answer.update(
        series_of(
            points,
            axis=content.get("axis") or "data",
            start=record.started or record.created,
            x_from=bounds[0],
            x_to=bounds[1],
        )
    )
    return answer, []


def compare_chart_request(
    sources: list[Any], content: dict[str, Any]
) -> tuple[dict[str, Any], list[bytes]]:
    """``chart_request`` for a chart of several runs' lines: each run that has the metric
    answers, its series named with its run (``metric_range``), or its points in one CSV
    with the run's id as the first column (``metric_csv``).

    Raises:
        InvalidValueError: a field of the request is not one accepted.
        MetricNotFoundError: none of the runs has such a metric.
    """
    kind, name, head = _request(content)
    if kind == "metric_csv":
        runs = []
        for source in sources:
            try:
                runs.append((source.run_id, source_points(source, name)))
            except MetricNotFoundError:
                continue  # a run without this metric has no rows
        if not runs:
            raise MetricNotFoundError(f"none of these runs has a metric {name!r}")
        return head, [runs_csv_text(runs).encode("utf-8")]
    series: list[dict[str, Any]] = []
    found = False
    for source in sources:
        try:
            answer, _ = chart_request(source, content)
        except MetricNotFoundError:
            continue  # a run without this metric draws no line in its chart
        found = True
        series.extend({**s, "run": source.run_id} for s in answer["series"])
    if not found:
        raise MetricNotFoundError(f"none of these runs has a metric {name!r}")
    return {**answer, "series": series}, []
