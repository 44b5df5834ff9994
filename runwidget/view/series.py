"""One metric's full series, read again from its points: the CSV export and the zoom reads.

A chart's points are downsampled (``runwidget.view.downsample``); what a user downloads is
every point as logged, and what a zoomed chart draws is the zoomed range downsampled again
from every point in it, so that the line stays min/max-true at every zoom level.

The x of a point is the chart's own (``runwidget.view.charts``): ``step`` when given, else the
index among the metric's points (``log_list``: always the index; ``log_row``/``log_table``:
the first column). ``relative`` is the seconds since the run started, ``wall`` the point's
time (seconds since the epoch).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from runwidget.errors import InvalidValueError, MetricNotFoundError
from runwidget.store import MetricKind, MetricPoint
from runwidget.view._values import finite_number
from runwidget.view.downsample import MinMaxSeries

X_AXES = ("data", "relative", "wall")


def _number_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    return "" if value is None else str(value)


def csv_rows(points: list[MetricPoint]) -> Iterator[list[str]]:
    """The CSV rows (header first) of every point of one metric, in logging order.

    Values logged one at a time (``log``, ``log_list``): ``index,step,value,time``, with
    ``step`` empty where none was given. Rows (``log_row``, ``log_table``): ``index,time``
    and one column per logged column, in order of first appearance (empty where a row
    lacks it). Numbers are written exactly (``repr``); NaN and infinities as ``NaN``,
    ``Infinity`` and ``-Infinity``; strings as logged.
    """
    rows = [p for p in points if p.kind in (MetricKind.ROW, MetricKind.TABLE)]
    if rows:
        columns: dict[str, None] = {}
        for p in rows:
            if isinstance(p.value, dict):
                columns.update(dict.fromkeys(p.value))
        yield ["index", "time", *columns]
        for index, p in enumerate(points):
            row = p.value if isinstance(p.value, dict) else {}
            yield [str(index), _number_text(p.time), *(_number_text(row.get(c)) for c in columns)]
        return
    yield ["index", "step", "value", "time"]
    for index, p in enumerate(points):
        step = "" if p.step is None else _number_text(p.step)
        yield [str(index), step, _number_text(p.value), _number_text(p.time)]


def csv_text(points: list[MetricPoint]) -> Iterator[str]:
    """``csv_rows`` as CSV text, a chunk per 1,000 rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    n = 0
    for row in csv_rows(points):
        writer.writerow(row)
        n += 1
        if n % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.getvalue() or n == 0:
        yield buffer.getvalue()


def runs_csv_text(runs: Iterable[tuple[str, list[MetricPoint]]]) -> str:
    """Several runs' points of one metric as one CSV: ``run`` (the run's id), then the
    union of the runs' ``csv_rows`` columns in order of first appearance."""
    tables = [(run_id, list(csv_rows(points))) for run_id, points in runs]
    columns: dict[str, None] = {}
    for _, rows in tables:
        columns.update(dict.fromkeys(rows[0]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["run", *columns])
    for run_id, rows in tables:
        header = rows[0]
        for row in rows[1:]:
            cells = dict(zip(header, row, strict=True))
            writer.writerow([run_id, *(cells.get(c, "") for c in columns)])
    return out.getvalue()


def series_of(
    points: Iterable[MetricPoint],
    *,
    axis: str = "data",
    start: float | None = None,
    x_from: float | None = None,
    x_to: float | None = None,
    max_points: int = 2000,
) -> dict[str, Any]:
    """One metric's series with x on ``axis``, cut to ``[x_from, x_to]`` and downsampled
    from every point in that range (each bucket's first, lowest, highest and last points).

    Args:
        points: every point of the metric, in logging order.
        axis: ``data`` (the chart's x), ``relative`` (seconds since ``start``) or ``wall``.
        start: the run's start time, for ``relative`` (default: the first point's time).
        x_from: the lowest x kept (default: no bound).
        x_to: the highest x kept (default: no bound).
        max_points: the most points per series (at least 8).

    Returns:
        ``{"axis", "series": [{"id", "label", "count", "x", "y"}]}``, series in the order
        of the chart's.

    Raises:
        InvalidValueError: ``axis`` or ``max_points`` is not one accepted.
    """
    if axis not in X_AXES:
        raise InvalidValueError(f"axis must be one of {', '.join(X_AXES)}, got {axis!r}")
    if not isinstance(max_points, int) or max_points < 8:
        raise InvalidValueError(f"max_points must be an integer >= 8, got {max_points!r}")
    cols: dict[str, tuple[list[float], list[float]]] = {}
    x_name: str | None = None
    has_step = False
    numeric: list[tuple[float, float | None, float, float]] = []  # index, step, value, time
    first_time: float | None = None
    for index, p in enumerate(points):
        if first_time is None:
            first_time = p.time
        t = p.time - (start if start is not None else first_time) if axis == "relative" else p.time
        if p.kind in (MetricKind.ROW, MetricKind.TABLE):
            row = p.value if isinstance(p.value, dict) else {}
            names = list(row)
            if not names:
                continue
            if x_name is None:
                x_name = names[0] if len(names) > 1 else "index"
            if axis != "data":
                x = t
            elif x_name == "index":
                x = float(index)
            else:
                value = finite_number(row.get(x_name))
                x = math.nan if value is None else value
            for name in names:
                if name == x_name and axis == "data":
                    continue
                y = finite_number(row[name])
                xs, ys = cols.setdefault(name, ([], []))
                xs.append(x)
                ys.append(math.nan if y is None else y)
        else:
            value = finite_number(p.value)
            if isinstance(p.value, str):
                continue
            if p.step is not None and p.kind != MetricKind.LIST:
                has_step = True
            numeric.append((float(index), p.step, math.nan if value is None else value, t))
    if numeric:
        index_col, step_col, value_col, time_col = zip(*numeric, strict=True)
        if axis != "data":
            x_col = np.asarray(time_col, dtype=float)
        elif has_step:
            x_col = np.asarray(
                [i if s is None else s for i, s in zip(index_col, step_col, strict=True)],
                dtype=float,
            )
        else:
            x_col = np.asarray(index_col, dtype=float)
        cols["value"] = (list(x_col), list(value_col))
    out = []
    for series_id, (xs, ys) in cols.items():
        x_arr = np.asarray(xs, dtype=float)
        y_arr = np.asarray(ys, dtype=float)
        keep = np.isfinite(x_arr) & np.isfinite(y_arr)
        if x_from is not None:
            keep &= x_arr >= x_from
        if x_to is not None:
            keep &= x_arr <= x_to
        data = MinMaxSeries(max_points)
        data.extend(x_arr[keep], y_arr[keep])
        px, py = data.points()
        out.append(
            {
                "id": series_id,
                "label": series_id,
                "count": int(np.count_nonzero(keep)),
                "x": px.tolist(),
                "y": py.tolist(),
            }
        )
    return {"axis": axis, "series": out}


def all_points(
    read: Callable[[int, int], list[MetricPoint]], run_id: str, name: str, page: int = 100_000
) -> list[MetricPoint]:
    """Every point of metric ``name``, read ``page`` points at a time with ``read(since,
    limit)`` (a store's or a source's read; points of other metrics are left out).

    Raises:
        MetricNotFoundError: the run has no metric of that name.
    """
    points: list[MetricPoint] = []
    cursor = 0
    while True:
        batch = read(cursor, page)
        points.extend(p for p in batch if p.name == name)
        if len(batch) < page:
            break
        cursor = batch[-1].seq
    if not points:
        raise MetricNotFoundError(f"run {run_id!r} has no metric {name!r}")
    return points


def source_points(source: Any, name: str) -> list[MetricPoint]:
    """Every point of metric ``name`` of a ``RunSource``'s run, in logging order.

    Raises:
        MetricNotFoundError: the run has no metric of that name.
    """
    return all_points(lambda since, limit: source.metrics(since, limit=limit), source.run_id, name)
