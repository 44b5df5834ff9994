"""``RunService``: what the REST API answers, as plain JSON, independent of the web server.

The handlers of the Jupyter server extension and of the standalone portal both call it.
Every method does blocking store I/O: call it from a worker thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from typing import Any
from urllib.parse import quote

from runwidget import status as st
from runwidget._version import __version__
from runwidget.errors import InvalidValueError, MetricNotFoundError
from runwidget.server.lists import (
    CountCache,
    CursorCache,
    count_kind,
    primary_metric,
    target_of,
)
from runwidget.server.targets import TargetDirectory
from runwidget.server.views import ViewCache
from runwidget.store import (
    LogLine,
    MetricPoint,
    RunFilter,
    RunRecord,
    RunStore,
    RunType,
    redact_uri,
)
from runwidget.view import status_kind
from runwidget.view.compare import shared_controls
from runwidget.view.series import all_points, csv_text, runs_csv_text, series_of

MAX_PAGE = 1000
# Runs whose metric statistics one request may ask for.
MAX_STATS_RUNS = 500
MAX_COMPARE_RUNS = 12
LOG_PAGE = 5000
STATUS_ALIASES = {"active": st.ACTIVE, "ended": tuple(st.TERMINAL)}


def run_json(record: RunRecord, now: float, children: int = 0) -> dict[str, Any]:
    """A run as a list row."""
    status = record.current_status(now)
    return {
        "id": record.id,
        "experiment": record.experiment,
        "parent_id": record.parent_id,
        "number": record.number,
        "name": record.display_name,
        "type": record.run_type,
        "status": status,
        "status_kind": status_kind(status),
        "created": record.created,
        "started": record.started,
        "ended": record.ended,
        "tags": record.tags,
        "target": target_of(record),
        "children": children,
        "seq": record.seq,
    }


def parse_statuses(text: str | None) -> frozenset[str] | None:
    """``"active"``, ``"ended"`` or a comma-separated list of statuses.

    Raises:
        InvalidValueError: a name that is neither a status nor an alias.
    """
    if not text:
        return None
    found: set[str] = set()
    known = {*st.ALL, st.NOT_RESPONDING}
    for part in (p.strip() for p in text.split(",")):
        if part in STATUS_ALIASES:
            found.update(STATUS_ALIASES[part])
        elif part in known:
            found.add(part)
        elif part:
            raise InvalidValueError(
                f"unknown status {part!r}; accepted: active, ended, " + ", ".join(sorted(known))
            )
    return frozenset(found) if found else None


def _stat_names(which: str | None) -> list[str] | None:
    """The metrics a ``stats`` request names; None for every metric (``*``, ``primary``)
    or none asked."""
    if not which or which in ("*", "primary"):
        return None
    return [n for n in which.split(",") if n]


def _limit(value: int | None, default: int, top: int, name: str = "limit") -> int:
    if value is None:
        return default
    if not 1 <= value <= top:
        raise InvalidValueError(f"{name} must be between 1 and {top}, got {value}")
    return value


class RunService:
    """The REST API's answers for one run store.

    Args:
        store: the run store served.
        api_url: the absolute path of the API (``/runwidget/api``), for links in answers.
        portal_url: the URL of a run's portal page.
    """

    def __init__(
        self,
        store: RunStore,
        *,
        api_url: str,
        portal_url: Callable[[str], str] | None = None,
    ) -> None:
        self.store = store
        self.api_url = api_url.rstrip("/")
        self.portal_url = portal_url
        self.counts = CountCache(store)
        self.whole_store = CursorCache(store)  # answers that read every run
        self.views = ViewCache(store, image_url=self.file_url, portal_url=portal_url)
        self.directory = TargetDirectory(store)

    def file_url(self, run_id: str, path: str) -> str:
        return f"{self.api_url}/runs/{quote(run_id, safe='')}/files/{quote(path, safe='/')}"

    def _record(self, run_id: str) -> RunRecord:
        return self.store.get_run(run_id)  # raises RunNotFoundError

    def _children(self, run_ids: Collection[str]) -> dict[str, int]:
        return self.store.child_counts(run_ids)

    # -- lists -----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        total = self.counts.total(RunFilter())
        return {
            "version": __version__,
            "store": redact_uri(self.store.uri),
            "runs": total.count,
            "runs_estimated": total.estimated,
            "cursor": self.store.change_cursor(),
            "time": time.time(),
        }

    def experiments(self) -> dict[str, Any]:
        """Each experiment with counts of its top-level runs, its active runs (children
        included), and its last activity; the most recently active first."""
        cursor = self.store.change_cursor()
        summaries = self.whole_store.get("experiments", self.store.experiment_summaries)
        found = [{"name": name, **summary} for name, summary in summaries.items()]
        found.sort(key=lambda e: e["last_created"] or e["created"], reverse=True)
        return {"experiments": found, "cursor": cursor, "time": time.time()}

    def targets(self) -> dict[str, Any]:
        """Every compute target, ``local`` first, with counts of its runs queued, running
        and ended; a target that runs name but that is no longer attached is listed too."""
        counts: dict[str, dict[str, int]] = {}
        by_target = self.whole_store.get("by target", self.store.target_summaries)
        for name, found in by_target.items():
            item = counts.setdefault(name or "local", {"queued": 0, "running": 0, "ended": 0})
            item["ended"] += found["runs"] - sum(found["active"].values())
            for status, n in found["active"].items():
                item[count_kind(status)] += n
        targets = self.directory.describe()
        names = {t["name"] for t in targets}
        for name in sorted(n for n in counts if n not in names):
            targets.append({
                "name": name,
                "kind": None,
                "address": None,
                "reachable": False,
                "problem": "not attached (its runs keep its name)",
            })  # fmt: skip
        for t in targets:
            t["counts"] = counts.get(t["name"], {"queued": 0, "running": 0, "ended": 0})
        return {"targets": targets, "time": time.time()}

    def runs(
        self,
        *,
        experiment: str | None = None,
        parent: str | None = None,
        status: str | None = None,
        search: str | None = None,
        since: int | None = None,
        offset: int = 0,
        limit: int | None = None,
        stats: str | None = None,
        target: str | None = None,
        tag: str | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        """A page of runs, newest first; with ``since``, the runs changed after that cursor.

        Every list is a query of the store (indexed: its cost does not grow with the store);
        ``after`` is the previous page's token (``offset`` jumps instead).

        Args:
            parent: ``"none"`` for top-level runs, a run id for its children, else all.
            status: see ``parse_statuses``.
            target: only the runs of this compute target.
            tag: only runs with these tags (comma-separated names).
            stats: ``"primary"`` adds each run's primary metric; ``"*"`` or a
                comma-separated list of names adds last / min / max of those metrics.

        Raises:
            InvalidValueError: a bad status, offset, limit or stats request.
        """
        limit = _limit(limit, 100, MAX_PAGE)
        if offset < 0:
            raise InvalidValueError(f"offset must be at least 0, got {offset}")
        where = RunFilter(
            experiment=experiment or None,
            parent=None if parent is None else ("" if parent in ("", "none") else parent),
            statuses=parse_statuses(status),
            search=(search or "").strip() or None,
            target=(target or "").strip() or None,
            tags=tuple((name, None) for name in (tag or "").split(",") if name.strip()),
        )
        if stats and limit > MAX_STATS_RUNS:
            raise InvalidValueError(
                f"stats are given for at most {MAX_STATS_RUNS} runs at once; "
                f"ask for limit={MAX_STATS_RUNS} or less"
            )
        # Read first: a run changed while the page is read shows in the next poll.
        cursor = store_cursor = self.store.change_cursor()
        after_token = None
        named = _stat_names(stats)
        summaries = None
        if since is not None:
            records = self.store.changed_runs(where, since=since, limit=limit)
            if len(records) == limit:
                cursor = records[-1].seq
        else:
            # Named metrics' columns are read with the page (one statement on PostgreSQL).
            page = self.store.find_runs(
                where, after=after, offset=offset, limit=limit, summaries=named or ()
            )
            records, after_token = page.records, page.after
            summaries = page.summaries if named else None
        now = time.time()
        children = self._children([r.id for r in records])
        rows = [run_json(r, now, children.get(r.id, 0)) for r in records]
        marks = self.store.alert_marks([r.id for r in records])  # {count, level, title}
        for row in rows:
            if row["id"] in marks:
                row["alerts"] = marks[row["id"]]
        if stats:
            self._add_stats(records, rows, stats, summaries)
        # Above RunStore.total_runs's bound, the database's estimate: shown as "about N".
        total = self.counts.total(where, store_cursor)
        return {
            "runs": rows,
            "total": total.count,
            "total_estimated": total.estimated,
            "offset": offset if since is None else 0,
            "after": after_token,
            "cursor": cursor,
            "time": now,
        }

    def _add_stats(
        self,
        records: list[RunRecord],
        rows: list[dict[str, Any]],
        which: str,
        summaries: dict[str, dict[str, dict[str, Any]]] | None = None,
    ) -> None:
        """The rows' metric columns: of the ``summaries`` read with the page, else read."""
        names = _stat_names(which)
        if summaries is None:
            summaries = self.store.metric_summaries([r.id for r in records], names)
        for record, row in zip(records, rows, strict=True):
            stats = summaries.get(record.id, {})
            if which == "primary":
                row["primary_metric"] = primary_metric(record, stats)
            else:
                row["metrics"] = stats if names is None else {
                    n: stats[n] for n in names if n in stats
                }  # fmt: skip

    def run(self, run_id: str) -> dict[str, Any]:
        """One run with its record's every field and its metric statistics."""
        record = self._record(run_id)
        row = run_json(record, time.time(), self._children([run_id]).get(run_id, 0))
        row.update(
            properties=record.properties,
            error=record.error,
            target=record.target,
            arguments=record.arguments,
            heartbeat=record.heartbeat,
            metrics=self.store.metric_summaries([run_id])[run_id],
            portal_url=None if self.portal_url is None else self.portal_url(run_id),
        )
        return row

    # -- one run's view and data ----------------------------------------------------------
    def view(self, run_id: str, epoch: str | None, version: int | None) -> dict[str, Any]:
        self._record(run_id)
        return self.views.view(run_id, epoch, version)

    def logs(self, run_id: str, since: int = 0, limit: int | None = None) -> dict[str, Any]:
        limit = _limit(limit, 1000, LOG_PAGE)
        self._record(run_id)
        lines = self.store.read_logs(run_id, since=since, limit=limit)
        return {
            "lines": [_line(x) for x in lines],
            "cursor": lines[-1].seq if lines else since,
            "more": len(lines) == limit,
        }

    def log_text(self, run_id: str) -> Iterator[str]:
        """The whole output log as text, a page at a time."""
        self._record(run_id)
        cursor = 0
        while True:
            lines = self.store.read_logs(run_id, since=cursor, limit=LOG_PAGE)
            if not lines:
                return
            yield "".join(x.text if x.text.endswith("\n") else x.text + "\n" for x in lines)
            cursor = lines[-1].seq

    def _metric_points(self, run_id: str, name: str) -> list[MetricPoint]:
        """Every point of one metric, read a page at a time.

        Raises:
            MetricNotFoundError: the run has no metric of that name.
        """
        return all_points(
            lambda since, limit: self.store.read_metrics(
                run_id, name=name, since=since, limit=limit
            ),
            run_id,
            name,
            LOG_PAGE,
        )

    def metric_csv(self, run_id: str, name: str) -> Iterator[str]:
        """Every point of one metric as CSV (``runwidget.view.series.csv_rows``)."""
        self._record(run_id)
        return csv_text(self._metric_points(run_id, name))

    def compare_csv(self, run_ids: Collection[str], name: str) -> Iterator[str]:
        """Every point of one metric of several runs as one CSV, the run's id first
        (``runwidget.view.series.runs_csv_text``); runs without the metric have no rows.

        Raises:
            InvalidValueError: no run, or more than ``MAX_COMPARE_RUNS``.
            RunNotFoundError: an id names no run.
            MetricNotFoundError: none of the runs has the metric.
        """
        runs = []
        for run_id in _compare_ids(run_ids):
            self._record(run_id)
            try:
                runs.append((run_id, self._metric_points(run_id, name)))
            except MetricNotFoundError:
                continue
        if not runs:
            raise MetricNotFoundError(f"none of these runs has a metric {name!r}")
        return iter([runs_csv_text(runs)])

    def metric_series(
        self,
        run_id: str,
        name: str,
        *,
        axis: str = "data",
        x_from: float | None = None,
        x_to: float | None = None,
        max_points: int = 2000,
    ) -> dict[str, Any]:
        """One metric's series on an x axis, cut to a range and downsampled from every point
        in it (``runwidget.view.series.series_of``): what a zoomed chart draws."""
        record = self._record(run_id)
        points = self._metric_points(run_id, name)
        return series_of(
            points,
            axis=axis,
            start=record.started or record.created,
            x_from=x_from,
            x_to=x_to,
            max_points=max_points,
        )

    def files(self, run_id: str, kind: str | None = None) -> dict[str, Any]:
        self._record(run_id)
        files = self.store.list_files(run_id, kind=kind or None)
        return {
            "files": [
                {
                    "path": f.path,
                    "kind": f.kind,
                    "size": f.size,
                    "content_type": f.content_type,
                    "time": f.time,
                    "name": f.name,
                    "step": f.step,
                    "url": self.file_url(run_id, f.path),
                }
                for f in files
            ]
        }

    def file(self, run_id: str, path: str) -> tuple[bytes, str]:
        """A stored file's bytes and content type.

        Raises:
            FileNotFoundError: the run has no such file.
        """
        self._record(run_id)
        info = next((f for f in self.store.list_files(run_id) if f.path == path), None)
        if info is None:
            raise FileNotFoundError(f"run {run_id!r} has no file {path!r}")
        return self.store.read_file(run_id, path), info.content_type

    def cancel(self, run_id: str) -> dict[str, Any]:
        """Cancel a run that has not ended: a submitted script is stopped (without waiting
        for it); any other run is marked Canceled."""
        record = self.store.get_run(run_id)
        if record.status in st.TERMINAL:
            return {"id": run_id, "status": record.status, "changed": False}
        if record.run_type == RunType.SCRIPT:
            from runwidget.execution.cancel import request_cancel
            from runwidget.tracking import Experiment, Run, Workspace

            experiment = Experiment(Workspace(self.store), record.experiment)
            status = request_cancel(Run(experiment, run_id, _record=record), wait=False)
        else:
            alive = [s for s in st.ALL if s not in st.TERMINAL]
            self.store.update_run(
                run_id, status=st.CANCELED, ended=time.time(), only_if_status=alive
            )
            status = self.store.get_run(run_id).status
        return {"id": run_id, "status": status, "changed": True}

    def compare(self, run_ids: Collection[str], metrics: Collection[str] | None) -> dict[str, Any]:
        """Series of several runs to overlay: one chart per metric, one line per run (and
        column, for rows and tables).

        Raises:
            InvalidValueError: no run, or more than ``MAX_COMPARE_RUNS``.
        """
        ids = _compare_ids(run_ids)
        runs: list[dict[str, Any]] = []
        charts: dict[str, dict[str, Any]] = {}
        controls: dict[str, list[dict[str, Any]]] = {}
        now = time.time()
        for run_id in ids:
            record = self._record(run_id)
            runs.append(run_json(record, now, self._children([run_id]).get(run_id, 0)))
            snapshot = self.views.view(run_id)["snapshot"]
            for chart in snapshot["charts"]:
                if metrics and chart["name"] not in metrics:
                    continue
                target = charts.setdefault(
                    chart["name"],
                    {"name": chart["name"], "x_label": chart["x_label"], "series": []},
                )
                controls.setdefault(chart["name"], []).append(chart.get("controls") or {})
                single = len(chart["series"]) == 1
                for s in chart["series"]:
                    target["series"].append({
                        "run": run_id,
                        "id": s["id"],
                        "column": None if single else s["label"],
                        "x": s["x"],
                        "y": s["y"],
                        "count": s["count"],
                    })  # fmt: skip
        for name, chart in charts.items():
            chart["controls"] = shared_controls(controls[name])
        order = list(metrics) if metrics else sorted(charts)
        return {
            "runs": runs,
            "charts": [charts[n] for n in order if n in charts],
            "terminal": all(r["status"] in st.TERMINAL for r in runs),  # nothing will change
        }


def _compare_ids(run_ids: Collection[str]) -> list[str]:
    """The runs of a comparison, each once.

    Raises:
        InvalidValueError: no run, or more than ``MAX_COMPARE_RUNS``.
    """
    ids = list(dict.fromkeys(r for r in run_ids if r))
    if not ids or len(ids) > MAX_COMPARE_RUNS:
        raise InvalidValueError(f"compare takes 1 to {MAX_COMPARE_RUNS} run ids, got {len(ids)}")
    return ids


def _line(line: LogLine) -> dict[str, Any]:
    return {"seq": line.seq, "stream": line.stream, "text": line.text, "time": line.time}
