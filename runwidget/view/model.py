"""``RunView``: what a front end shows of one run, as plain JSON, and what changed.

``snapshot()`` is the whole view; ``refresh()`` polls the source through its cursors and
returns a delta (or None when nothing changed). ``apply_delta(snapshot(v - 1), delta(v))``
equals ``snapshot(v)`` (see ``runwidget.view.delta``).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from typing import Any, cast

from runwidget import status as st
from runwidget.errors import RunwidgetError, StoreUnavailableError
from runwidget.sources import RunSource
from runwidget.store import MetricColumns, RunRecord
from runwidget.view._status import status_kind
from runwidget.view._values import json_value
from runwidget.view.charts import ChartSet
from runwidget.view.children import ChildTable
from runwidget.view.images import Gallery
from runwidget.view.logs import LogTail
from runwidget.view.plots import PlotSet
from runwidget.view.schema import ViewDelta, ViewSnapshot

logger = logging.getLogger("runwidget")

# Properties that runwidget writes for itself (see runwidget.execution), hidden from views.
INTERNAL_PREFIX = "runwidget."
# Points read per query on a first load, so that a long history never sits in memory whole.
READ_PAGE = 100_000


class RunView:
    """The view model of one run.

    Args:
        source: where the run is read from.
        max_points: the most points a chart series keeps (each bucket's min and max).
        max_log_lines: the most output lines kept (the full log stays in the source).
        max_images: the most images kept in the gallery.
        inline_images: put image bytes into the JSON as ``data:`` URLs.
        max_child_columns: the most metric columns of the children table.
        record: the run's record if the caller has it (then a store outage at this
            moment gives a notice instead of an error).
        child_read_budget: seconds a refresh spends at most reading child runs' metrics
            (None: no limit); ``behind`` then says that some are left for the next one.

    Raises:
        RunNotFoundError: the source's run does not exist.
        StoreUnavailableError: the source cannot be reached and no ``record`` was given.
    """

    def __init__(
        self,
        source: RunSource,
        *,
        max_points: int = 2000,
        max_log_lines: int = 1000,
        max_images: int = 48,
        inline_images: bool = True,
        max_child_columns: int = 6,
        record: RunRecord | None = None,
        child_read_budget: float | None = None,
    ) -> None:
        self.source = source
        self.child_read_budget = child_read_budget
        self.version = 0
        self._record: RunRecord = record if record is not None else source.record()
        self._record_changed = False
        self._behind = False
        self._charts = ChartSet(max_points)
        self._children = ChildTable(self._record, max_child_columns)
        self._log = LogTail(max_log_lines)
        self._images = Gallery(max_images, source.image_bytes if inline_images else None)
        self._plots = PlotSet(source.plot_bytes)
        self._metric_cursor = 0
        self._prefetched: Future[tuple[list[MetricColumns], int]] | None = None
        self._header: dict[str, Any] = {}
        self._properties: list[dict[str, Any]] = []
        self._error: dict[str, Any] | None = None
        self._notices: list[dict[str, Any]] = []
        self._alerts: list[dict[str, Any]] = []  # the run's alerts, for the banner
        self._alert_cursor = 0
        self._terminal = False
        self._outage: str | None = None
        self._portal_url = source.portal_url()
        self._portal_note = source.portal_note()
        self._loaded = False

    # -- polling ---------------------------------------------------------------------------
    @property
    def terminal(self) -> bool:
        """The run and all its children have ended (as of the last refresh)."""
        return self._terminal

    @property
    def reachable(self) -> bool:
        """The last refresh reached the source."""
        return self._outage is None

    def refresh(self, *, metrics: bool = True, child_metrics: bool = True) -> ViewDelta | None:
        """Read what is new and return the delta from the previous version, or None.

        A source that cannot be reached is not an error: the view gets a notice (and
        keeps what it had), and the next refresh tries again.

        Args:
            metrics: read metric points and child runs too. A first refresh without them
                is quick however long the run (the header, properties and log can be shown
                while a later refresh reads the rest).
            child_metrics: read the child runs' metrics too (else ``behind`` says whether
                some are left to read).
        """
        now = time.time()
        header_before, props_before = self._header, self._properties
        error_before, notices_before = self._error, self._notices
        alerts_before = self._alerts
        terminal_before = self._terminal
        self._poll(now, metrics, child_metrics)
        self._header = self._make_header(now)
        props_changed, charts = self._charts.take_changes()
        if props_changed or self._record_changed or not self._loaded:
            self._properties = self._make_properties()
        self._error = self._make_error()
        self._notices = self._make_notices()
        children, iterations = self._children.take_changes(now)
        log = self._log.take_new()
        images = self._images.take_changes()
        plots = self._plots.take_changes()
        delta: dict[str, Any] = {}
        if self._header != header_before:
            delta["header"] = self._header
        if self._properties != props_before:
            delta["properties"] = self._properties
        if self._error != error_before:
            delta["error"] = self._error
        if self._notices != notices_before:
            delta["notices"] = self._notices
        if self._alerts is not alerts_before:
            delta["alerts"] = self._alerts
        if charts is not None:
            delta["charts"] = charts
        if images is not None:
            delta["images"] = images
        if plots is not None:
            delta["plots"] = plots
        if children is not None:
            delta["children"] = children
        if iterations is not None:
            delta["iterations"] = iterations
        if log is not None:
            delta["log"] = log
        if self._terminal != terminal_before:
            delta["terminal"] = self._terminal
        self._loaded = True
        if not delta:
            return None
        self.version += 1
        out = {"version": self.version, "base": self.version - 1, "time": now, **delta}
        return cast(ViewDelta, out)

    def _poll(self, now: float, metrics: bool = True, child_metrics: bool = True) -> None:
        self._record_changed = False
        try:
            record = self.source.record()
            if record != self._record:
                self._record = record
                self._record_changed = True
                self._children.set_parent(record)
            if metrics:
                self._children.update_records(self.source.children(self._children.cursor))
                self._read_metrics()
                if child_metrics:
                    self._read_child_metrics()
                else:
                    self._behind = bool(self._children.pending_metric_reads())
            self._read_logs()
            self._read_alerts()
            self._images.add(self.source.images(self._images.cursor))
            # A portal started (or stopped) since the last refresh moves the link.
            self._portal_url = self.source.portal_url()
            self._portal_note = self.source.portal_note()
            self._plots.add(self.source.plots(self._plots.cursor))
            self._children.refresh_liveness(now)
        except (StoreUnavailableError, OSError) as e:
            self._outage = str(e)
            logger.info("run view of %s: source unreachable: %s", self.source.run_id, e)
            return
        except RunwidgetError as e:
            self._outage = str(e)
            logger.warning("run view of %s: %s", self.source.run_id, e)
            return
        self._outage = None
        if metrics:  # a quick refresh has not looked at the children
            ended = record.current_status(now) in st.TERMINAL
            self._terminal = ended and not self._children.alive(now)

    def prefetch_metrics(self) -> None:
        """Start the first read of the metric points in a thread of its own, so that it runs
        (in the database, mostly without the GIL) while the caller does other work; the
        first refresh with metrics takes its result (or reads again if it failed). Nothing
        happens when the source's reads cannot run beside the view's, or after the first
        read."""
        if not self.source.concurrent_metric_reads or self._metric_cursor or self._prefetched:
            return
        future: Future[tuple[list[MetricColumns], int]] = Future()
        blocks_from = self._blocks_from()

        def read() -> None:
            try:
                future.set_result(self.source.metric_columns(0, blocks_from))
            except BaseException as e:  # handed to the refresh that takes the result
                future.set_exception(e)

        self._prefetched = future
        name = f"runwidget-prefetch-{self.source.run_id}"
        threading.Thread(target=read, name=name, daemon=True).start()

    def _blocks_from(self) -> int:
        # A long metric's first points may come as block summaries: enough of them that its
        # buckets are as wide as a block, so the chart is the same as from every point.
        return self._charts.max_points // 8 + 1

    def _read_metrics(self) -> None:
        future, self._prefetched = self._prefetched, None
        # A prefetch that failed (the store was down then) is read again now.
        if future is not None and self._metric_cursor == 0 and future.exception() is None:
            columns, cursor = future.result()
        else:
            columns, cursor = self.source.metric_columns(self._metric_cursor, self._blocks_from())
        self._charts.add_columns(columns)
        self._metric_cursor = cursor

    def _read_child_metrics(self) -> None:
        # With a budget, bounded per refresh: a first look at a thousand children (or a
        # fan-out of running ones) never holds a poll up; the next refresh reads the rest.
        budget = self.child_read_budget
        deadline = None if budget is None else time.monotonic() + budget
        self._behind = False
        pending = self._children.pending_metric_reads()
        for i, (child_id, cursor, ended) in enumerate(pending):
            points = self.source.child_metrics(child_id, cursor)
            self._children.add_metrics(child_id, points, ended=ended)
            if deadline is not None and time.monotonic() > deadline and i + 1 < len(pending):
                self._behind = True
                return

    @property
    def behind(self) -> bool:
        """The last refresh left child runs' metrics unread (refresh again soon)."""
        return self._behind

    def _read_alerts(self) -> None:
        new = self.source.alerts(self._alert_cursor)
        if new:
            self._alert_cursor = new[-1].seq
            self._alerts = self._alerts + [a.as_dict() for a in new]

    def _read_logs(self) -> None:
        while True:
            lines = self.source.logs(self._log.cursor, limit=READ_PAGE)
            self._log.add(lines)
            if len(lines) < READ_PAGE:
                return

    # -- parts -----------------------------------------------------------------------------
    def _make_header(self, now: float) -> dict[str, Any]:
        r = self._record
        status = r.current_status(now)
        return {
            "run_id": r.id,
            "display_name": r.display_name,
            "experiment": r.experiment,
            "type": r.run_type,
            "number": r.number,
            "parent_id": r.parent_id,
            "status": status,
            "status_kind": status_kind(status),
            "created": r.created,
            "started": r.started,
            "ended": r.ended,
            "portal_url": self._portal_url,
            # How to start a portal, when none serves the run's store (the link's tooltip).
            **({"portal_note": self._portal_note} if self._portal_note else {}),
        }

    def _make_properties(self) -> list[dict[str, Any]]:
        r = self._record
        # The header has the run id, experiment, type, status and times.
        rows: list[dict[str, Any]] = [{"group": "run", "name": "Target", "value": r.target}]
        if r.parent_id:
            rows.append({"group": "run", "name": "Parent run", "value": r.parent_id})
        if r.arguments:
            rows.append(
                {
                    "group": "argument",
                    "name": "Arguments",
                    "value": " ".join(str(a) for a in r.arguments),
                }
            )
        rows += self._charts.properties()
        rows += [{"group": "tag", "name": k, "value": json_value(v)} for k, v in r.tags.items()]
        rows += [
            {"group": "property", "name": k, "value": json_value(v)}
            for k, v in r.properties.items()
            # runwidget's own bookkeeping (supervisor pid, host...) is not for the reader.
            if not k.startswith(INTERNAL_PREFIX)
        ]
        return rows

    def _make_error(self) -> dict[str, Any] | None:
        error = self._record.error
        if not error:
            return None
        return {"message": str(error.get("message") or ""), "traceback": error.get("traceback")}

    def _make_notices(self) -> list[dict[str, Any]]:
        notices = []
        if self._outage is not None:
            notices.append(
                {
                    "key": "unreachable",
                    "level": "warning",
                    "text": f"The run store cannot be reached ({self._outage}); showing what was "
                    "read before, and trying again.",
                }
            )
        skipped = self._charts.skipped()
        if skipped:
            parts = ", ".join(f"{name}: {n}" for name, n in skipped.items())
            notices.append(
                {
                    "key": "skipped",
                    "level": "info",
                    "text": "Values that are not finite numbers (NaN, infinity) are not drawn "
                    f"({parts}).",
                }
            )
        if self._images.total > len(self._images):
            notices.append(
                {
                    "key": "images",
                    "level": "info",
                    "text": f"The gallery shows the last {len(self._images)} of "
                    f"{self._images.total} images.",
                }
            )
        return notices

    # -- the whole view ------------------------------------------------------------------
    def snapshot(self, *, with_series: bool = True) -> ViewSnapshot:
        """The whole view at ``version``. Refresh first: a new view has read nothing."""
        now = time.time()
        children, iterations = self._children.snapshot()
        snapshot: dict[str, Any] = {
            "version": self.version,
            "time": now,
            "header": self._header or self._make_header(now),
            "properties": self._properties,
            "error": self._error,
            "notices": self._notices,
            "charts": self._charts.snapshot(with_data=with_series),
            "images": self._images.snapshot(),
            "children": children,
            "iterations": iterations,
            "log": self._log.snapshot(),
            "terminal": self._terminal,
        }
        plots = self._plots.snapshot()
        if plots:  # a run without rich metrics has no such part
            snapshot["plots"] = plots
        if self._alerts:  # nor one without alerts
            snapshot["alerts"] = self._alerts
        return cast(ViewSnapshot, snapshot)

    def series_arrays(self, chart_id: str, series_id: str) -> Any:
        """The downsampled ``(x, y)`` numpy arrays of one series."""
        return self._charts.series_arrays(chart_id, series_id)
