"""bqplot figures for the charts of a view: one figure per chart spec, one line per series.

Python creates the figures and lines; the series points of each poll travel in the view
delta and the browser puts them into the lines itself (no point is sent twice). Python
sets the lines' points only when a whole snapshot is pushed (first display, the final
state, a resync), so that the widget state saved with a notebook holds them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from runwidget.view.palette import BEST_SO_FAR, ITERATION_POINTS, SERIES

if TYPE_CHECKING:
    from bqplot import Figure, Lines, Scatter

# The view model's palette (each series it sends names its colour; these are the defaults).
COLOURS = SERIES
_MARGIN = {"top": 36, "bottom": 44, "left": 64, "right": 16}
ITERATION_PREFIX = "it:"


def _figure(title: str, x_label: str, y_label: str, marks: list[Any], scales: dict) -> Figure:
    # bqplot is imported when a first chart is drawn: ``import runwidget`` stays fast.
    from bqplot import Axis, Figure
    from ipywidgets import Layout

    axes = [
        Axis(scale=scales["x"], label=x_label, tick_format=".4~g"),
        Axis(
            scale=scales["y"],
            side="left",
            label=y_label,
            tick_format=".3~g",
            label_offset="48px",
        ),
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


def _array(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=float)


class ChartFigures:
    """The bqplot widgets of one view's charts (metric charts and iteration charts)."""

    def __init__(self) -> None:
        self.figures: dict[str, Figure] = {}
        self.lines: dict[str, dict[str, Lines]] = {}
        self._iteration_marks: dict[str, tuple[Scatter, Lines]] = {}

    # -- metric charts ---------------------------------------------------------------------
    def ensure(self, spec: dict[str, Any]) -> bool:
        """Create the figure and lines of a chart spec; True when a widget was created."""
        from bqplot import LinearScale, Lines

        created = False
        figure = self.figures.get(spec["id"])
        if figure is None:
            scales = {"x": LinearScale(), "y": LinearScale()}
            figure = self.figures[spec["id"]] = _figure(
                spec["title"], spec["x_label"], spec["y_label"], [], scales
            )
            self.lines[spec["id"]] = {}
            created = True
        else:
            figure.axes[0].label = spec["x_label"]
        lines = self.lines[spec["id"]]
        scales = {"x": figure.axes[0].scale, "y": figure.axes[1].scale}
        for series in spec["series"]:
            if series["id"] in lines:
                continue
            colour = series.get("colour") or COLOURS[len(lines) % len(COLOURS)]
            lines[series["id"]] = Lines(
                x=np.empty(0),
                y=np.empty(0),
                scales=scales,
                colors=[colour],
                labels=[series["label"]],
                stroke_width=1.5,
            )
            created = True
        marks = list(lines.values())
        if figure.marks != marks:
            figure.marks = marks
        return created

    def set_data(self, charts: list[dict[str, Any]], send: bool = True) -> None:
        """Put a snapshot's series points into the lines, and send them to the browser
        (or not: the browser built them from deltas; the kernel-side copy is for pages
        that load the widget later)."""
        for spec in charts:
            self.ensure(spec)
            for series in spec["series"]:
                line = self.lines[spec["id"]][series["id"]]
                set_quietly(line, x=_array(series["x"]), y=_array(series["y"]))
                if send:
                    line.send_state(["x", "y"])

    # -- iteration charts ------------------------------------------------------------------
    def ensure_iterations(self, meta: dict[str, Any] | None) -> bool:
        from bqplot import LinearScale, Lines, Scatter

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
            created = True
        return created

    def set_iteration_data(self, meta: dict[str, Any] | None, send: bool = True) -> None:
        """Put the iteration series the view model sent into the iteration charts."""
        if not meta:
            return
        self.ensure_iterations(meta)
        empty: dict[str, list[float]] = {"x": [], "y": [], "best_x": [], "best_y": []}
        for metric in meta["metrics"]:
            series = meta.get("series", {}).get(metric, empty)
            points, best = self._iteration_marks[ITERATION_PREFIX + metric]
            set_quietly(points, x=_array(series["x"]), y=_array(series["y"]))
            set_quietly(best, x=_array(series["best_x"]), y=_array(series["best_y"]))
            if send:
                points.send_state(["x", "y"])
                best.send_state(["x", "y"])

    # -- the browser's map -----------------------------------------------------------------
    def model_map(self) -> dict[str, Any]:
        """``{chart id: {"figure": model id, "series": {series id: model id}}}``."""
        out: dict[str, Any] = {}
        for chart_id, figure in self.figures.items():
            if chart_id in self._iteration_marks:
                points, best = self._iteration_marks[chart_id]
                series = {"points": points.model_id, "best": best.model_id}
            else:
                series = {sid: line.model_id for sid, line in self.lines[chart_id].items()}
            out[chart_id] = {"figure": figure.model_id, "series": series}
        return out

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
        self.figures.clear()
        self.lines.clear()
        self._iteration_marks.clear()


def set_quietly(widget: Any, **values: Any) -> None:
    """Change synced traits without a message to the browser (the caller sends them, or the
    browser has them already): traitlets keeps trait values in ``_trait_values``."""
    traits = widget.traits()
    for name, value in values.items():
        widget._trait_values[name] = traits[name].validate(widget, value)
