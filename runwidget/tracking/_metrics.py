"""Assembling stored metric points into what ``get_metrics`` returns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runwidget.store import FileInfo, MetricKind, MetricPoint


def metrics_dict(
    points: Iterable[MetricPoint],
    images: Iterable[FileInfo] = (),
    rich: Iterable[tuple[str, dict[str, Any]]] = (),
) -> dict[str, Any]:
    """The reference SDK's shape: a scalar logged once is a value; a repeated scalar or a
    list is a list; rows and tables are ``{column: [values]}``; images are file paths;
    rich metrics (``(name, value)``: confusion matrices...) are their values, a list when
    one name was logged more than once."""
    grouped: dict[str, list[MetricPoint]] = {}
    for point in points:
        grouped.setdefault(point.name, []).append(point)
    out: dict[str, Any] = {}
    for name, group in grouped.items():
        kind = group[0].kind
        if kind in (MetricKind.ROW, MetricKind.TABLE):
            columns: dict[str, list[Any]] = {}
            for point in group:
                if isinstance(point.value, dict):
                    for column, value in point.value.items():
                        columns.setdefault(column, []).append(value)
            out[name] = columns
        else:
            values = [p.value for p in group]
            out[name] = values[0] if kind == MetricKind.SCALAR and len(values) == 1 else values
    by_name: dict[str, list[str]] = {}
    for image in images:
        by_name.setdefault(image.name or image.path, []).append(image.path)
    for name, paths in by_name.items():
        out.setdefault(name, paths[0] if len(paths) == 1 else paths)
    rich_values: dict[str, list[dict[str, Any]]] = {}
    for name, value in rich:
        rich_values.setdefault(name, []).append(value)
    for name, logged in rich_values.items():
        out.setdefault(name, logged[0] if len(logged) == 1 else logged)
    return out


def metrics_rows(run_id: str, points: Iterable[MetricPoint]) -> list[dict[str, Any]]:
    """Long-form numeric rows ``run_id, name, step, value, time``.

    A point without a step gets its index among its metric's points. A row or table
    point gives one row per column after the first, named ``"<metric>.<column>"``, with
    the first column as the step. String values are left out (they are not series).
    """
    counters: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for p in points:
        index = counters.get(p.name, 0)
        counters[p.name] = index + 1
        if isinstance(p.value, dict):
            items = list(p.value.items())
            if not items:
                continue
            x = items[0][1] if isinstance(items[0][1], float | int) else index
            for column, value in items[1:]:
                if isinstance(value, float | int):
                    rows.append(_row(run_id, f"{p.name}.{column}", x, value, p.time))
        elif isinstance(p.value, float | int):
            step = p.step if p.step is not None else index
            rows.append(_row(run_id, p.name, step, p.value, p.time))
    return rows


def _row(run_id: str, name: str, step: float, value: float, at: float) -> dict[str, Any]:
    return {"run_id": run_id, "name": name, "step": step, "value": float(value), "time": at}
