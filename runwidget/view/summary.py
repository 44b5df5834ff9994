"""A static HTML summary of a view snapshot, for places that cannot run the widget
(GitHub, nbviewer, an HTML export, a notebook opened without its kernel).

Every user-written string goes through ``html.escape``; styles are inline because those
viewers drop ``<style>`` elements.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from html import escape
from typing import Any

from runwidget.view._status import status_kind

STATUS_COLOURS = {
    "running": "#1565c0",
    "completed": "#2e7d32",
    "failed": "#c62828",
    "canceled": "#ef6c00",
    "waiting": "#616161",
    "warning": "#8e24aa",
}
MAX_ROWS = 50
MAX_ALERTS = 5  # the latest
ALERT_COLOURS = {"info": "#1565c0", "warn": "#ef6c00", "error": "#c62828"}
_CELL = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:left"


def _time(at: float | None) -> str:
    if at is None:
        return ""
    return datetime.fromtimestamp(at, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration_text(seconds: float | None) -> str:
    """``1h 02m 03s``, ``2m 05s``, ``4.2s``."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    total = int(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"


def _duration(started: float | None, ended: float | None, now: float) -> str:
    if started is None:
        return ""
    return duration_text((ended if ended is not None else now) - started)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f'<th style="{_CELL}">{escape(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{escape(c)}</td>' for c in row) + "</tr>"
        for row in rows
    )
    return (
        f'<table style="border-collapse:collapse;margin:4px 0">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _plot(plot: dict[str, Any]) -> str:
    """A rich metric: a confusion matrix as a table of counts, the others by what they are."""
    what = plot["title"]
    if plot["kind"] == "curves":
        classes = len(plot["panels"][0]["series"]) if plot["panels"] else 0
        what += f" ({' and '.join(p['title'] for p in plot['panels'])} curves, {classes} classes)"
    elif plot["kind"] == "histogram":
        what += f" ({len(plot['counts'])} bins)"
    out = f"<div><b>{escape(str(plot['name']))}</b>: {escape(what)}</div>"
    if plot["kind"] == "heatmap" and plot["cells"]:
        corner = f"{plot['y_label']} \\ {plot['x_label']}"
        rows = [
            [label, *map(_value, row)]
            for label, row in zip(plot["labels"], plot["cells"], strict=True)
        ]
        out += _table([corner, *plot["labels"]], rows)
    return out


def _is_web_url(url: Any) -> bool:
    """Only http(s) links are made: a ``javascript:`` URL from a source is not."""
    return isinstance(url, str) and url.lower().startswith(("http://", "https://"))


def summary_html(snapshot: Mapping[str, Any]) -> str:
    """The summary of a ``RunView.snapshot()``: status, key metrics, error, child table."""
    h = snapshot["header"]
    now = snapshot.get("time") or 0.0
    colour = STATUS_COLOURS[status_kind(h["status"])]
    parts = [
        '<div class="runwidget-summary" style="font-family:sans-serif;font-size:13px">',
        f'<div style="font-size:15px;font-weight:600">{escape(str(h["display_name"]))} '
        f'<span style="color:{colour}">({escape(h["status"])})</span></div>',
        '<div style="color:#555">'
        f"{escape(str(h['type']))} run {escape(h['run_id'])} in experiment "
        f"{escape(str(h['experiment']))}"
        + (f" · started {_time(h['started'])}" if h.get("started") else "")
        + (f" · duration {_duration(h['started'], h['ended'], now)}" if h.get("started") else "")
        + "</div>",
    ]
    if _is_web_url(h.get("portal_url")):
        parts.append(
            f'<div><a href="{escape(h["portal_url"], quote=True)}" target="_blank" '
            'rel="noopener">View run in portal</a></div>'
        )
    error = snapshot.get("error")
    if error:
        parts.append(
            '<div style="margin:4px 0;padding:4px 8px;border-left:4px solid #c62828;'
            f'background:#fdecea">Error: {escape(error["message"])}</div>'
        )
    for alert in snapshot.get("alerts", ())[-MAX_ALERTS:]:
        border = ALERT_COLOURS.get(alert["level"], ALERT_COLOURS["warn"])
        text = f" — {alert['text']}" if alert.get("text") else ""
        parts.append(
            f'<div style="margin:4px 0;padding:4px 8px;border-left:4px solid {border}">'
            f"Alert ({escape(str(alert['level']))}, {escape(_time(alert['time']))}): "
            f"<b>{escape(str(alert['title']))}</b>{escape(text)}</div>"
        )
    metrics = [
        [p["name"], _value(p["value"])] for p in snapshot["properties"] if p["group"] == "metric"
    ]
    system = []
    for chart in snapshot["charts"]:
        if chart.get("section") == "system":
            ys = (chart["series"][0].get("y") or []) if chart["series"] else []
            if ys:
                system.append([chart["title"], _value(ys[-1])])
            continue
        for series in chart["series"]:
            ys = series.get("y") or []
            if ys:
                label = (
                    chart["name"]
                    if len(chart["series"]) == 1
                    else f"{chart['name']} ({series['label']})"
                )
                metrics.append([label, f"{_value(ys[-1])} (last of {series['count']})"])
    if metrics:
        parts.append(_table(["Metric", "Value"], metrics))
    if system:
        parts.append(_table(["System", "Last"], system))
    for plot in snapshot.get("plots", ()):
        parts.append(_plot(plot))
    iterations = snapshot.get("iterations")
    if iterations and iterations.get("best"):
        best = iterations["best"]
        parts.append(
            f"<div>Best {escape(str(iterations['primary_metric']))} "
            f"({escape(iterations['goal'])}): {escape(_value(best['value']))} at iteration "
            f"{escape(str(best['iteration']))}</div>"
        )
    rows = snapshot["children"]["rows"]
    if rows:
        columns = [c["key"] for c in snapshot["children"]["columns"]]
        table = [
            [
                str(r["number"]),
                str(r["name"]),
                r["status"],
                _time(r["started"]),
                _duration(r["started"], r["ended"], now),
            ]
            + [_value(r["metrics"].get(c)) for c in columns]
            for r in rows[:MAX_ROWS]
        ]
        parts.append(f"<div>Child runs: {len(rows)}</div>")
        parts.append(_table(["Run", "Name", "Status", "Started", "Duration", *columns], table))
        if len(rows) > MAX_ROWS:
            parts.append(f"<div>… and {len(rows) - MAX_ROWS} more</div>")
    parts.append("</div>")
    return "".join(parts)


def compare_summary_html(snapshot: Mapping[str, Any]) -> str:
    """The summary of a ``CompareView.snapshot()``: each run with its status and portal link."""
    items = []
    for run in snapshot["runs"]:
        colour = STATUS_COLOURS[status_kind(run["status"])]
        item = (
            f"{escape(str(run['name']))} "
            f'<span style="color:{colour}">({escape(str(run["status"]))})</span>'
        )
        if _is_web_url(run.get("portal_url")):
            item += (
                f' · <a href="{escape(run["portal_url"], quote=True)}" target="_blank" '
                'rel="noopener">View run in portal</a>'
            )
        items.append(f"<li>{item}</li>")
    return (
        '<div class="runwidget-summary runwidget-compare-summary" '
        'style="font-family:sans-serif;font-size:13px">'
        f'<div style="font-size:15px;font-weight:600">Compare {len(items)} runs</div>'
        f'<ul style="margin:4px 0">{"".join(items)}</ul></div>'
    )
