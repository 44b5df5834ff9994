"""The notebook widget's chart requests, answered by the kernel from the run's source: every
point of a metric as CSV, and a zoomed range read again at full resolution; the widgets the
browser's controls use (overlay lines, the log y axis) in the chart map."""

from __future__ import annotations

import csv
import io
import math

import pytest

from runwidget import Experiment, Workspace
from runwidget.errors import InvalidValueError, MetricNotFoundError
from runwidget.sources import source_for
from runwidget.view.charts import ChartSet
from runwidget.widgets._charts import ChartFigures, chart_request


@pytest.fixture
def source(store_uri: str):
    run = Experiment(Workspace(store_uri), "requests").start_logging()
    for step in range(4000):
        run.log("loss", 1 + math.sin(step / 50) + (5.0 if step == 1234 else 0.0), step=step)
    run.log("loss", math.nan, step=4000)
    run.complete()
    return source_for(run)


def test_csv_is_every_point_of_the_store(source) -> None:
    answer, buffers = chart_request(source, {"type": "metric_csv", "name": "loss", "request": 7})
    assert answer == {"type": "metric_csv", "name": "loss", "request": 7}
    rows = list(csv.reader(io.StringIO(buffers[0].decode())))
    points = [p for p in source.metrics(0) if p.name == "loss"]
    assert len(rows) == len(points) + 1 == 4002
    assert [float(r[2]) for r in rows[1:-1]] == [p.value for p in points[:-1]]
    assert rows[-1][2] == "NaN"


def test_a_zoomed_range_keeps_its_spike_at_full_resolution(source) -> None:
    charts = ChartSet()
    charts.add(source.metrics(0))
    x, _ = charts.series_arrays("m:loss", "value")
    assert len(x) <= 2000
    answer, _ = chart_request(
        source, {"type": "metric_range", "name": "loss", "from": 1000, "to": 1499}
    )
    (series,) = answer["series"]
    assert series["x"] == [float(s) for s in range(1000, 1500)]  # every point
    assert max(series["y"]) == pytest.approx(6 + math.sin(1234 / 50))


def test_bad_requests_say_what_is_wrong(source) -> None:
    with pytest.raises(MetricNotFoundError, match="no metric 'nope'"):
        chart_request(source, {"type": "metric_csv", "name": "nope"})
    with pytest.raises(InvalidValueError, match="from and to must be numbers"):
        chart_request(source, {"type": "metric_range", "name": "loss", "from": "a"})
    with pytest.raises(InvalidValueError, match="axis must be one of"):
        chart_request(source, {"type": "metric_range", "name": "loss", "axis": "up"})


def test_each_metric_chart_has_overlays_a_log_axis_and_a_wall_time_axis() -> None:
    figures = ChartFigures()
    spec = {
        "id": "m:loss",
        "title": "loss",
        "x_label": "step",
        "y_label": "loss",
        "series": [{"id": "value", "label": "loss", "colour": "#1f77b4"}],
    }
    figures.ensure(spec)
    entry = figures.model_map()["m:loss"]
    assert set(entry) == {"figure", "series", "overlay", "scales", "axes"}
    overlay = figures.overlays["m:loss"]["value"]
    assert overlay.visible is False and overlay in figures.figures["m:loss"].marks
    assert figures.log_axes["m:loss"].scale.model_id == entry["scales"]["log_y"]
    date_axis = figures.date_axes["m:loss"]
    assert type(date_axis.scale).__name__ == "DateScale"
    assert (entry["scales"]["date_x"], entry["axes"]["date_x"]) == (
        date_axis.scale.model_id,
        date_axis.model_id,
    )
    figures.close()
