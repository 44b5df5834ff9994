"""``RunDetails``: the live notebook widget of a run."""

from __future__ import annotations

import logging
import threading
import time
import uuid
import weakref
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from runwidget.errors import InvalidValueError
from runwidget.sources import source_for
from runwidget.view import RunView, summary_html
from runwidget.widgets._charts import CHART_REQUESTS, ChartFigures, chart_request, set_quietly
from runwidget.widgets._poller import Poller
from runwidget.widgets.compare import RunComparison, is_comparison
from runwidget.widgets.reopen import run_reference

logger = logging.getLogger("runwidget")

STATIC = Path(__file__).resolve().parent.parent / "static"
MIN_INTERVAL = 0.2
MAX_BACKOFF = 120.0
# How soon after seeing everything ended the one last refresh comes.
LAST_REFRESH_DELAY = 1.0
# Seconds a poll spends at most reading child runs' metrics (the rest come at once after).
CHILD_READ_BUDGET = 0.25
# How long displaying waits for the first full read, for the static summary's metrics.
FIRST_READ_WAIT = 0.3
# Seconds between two change probes of a source that has them (``RunSource.version``): a
# change is read within about this, and a busy run is redrawn at most this often.
PROBE_INTERVAL = 0.5

_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


class RunDetails(anywidget.AnyWidget):
    """Live details of a run in a notebook: status, properties, charts, child runs,
    iterations, images and output log, refreshed in the background.

    ``RunDetails(run).show()`` displays it. A daemon thread reads what is new: on
    runwidget's store, as soon as a change probe (about every 0.5 s, one indexed read)
    says the run, its data or its children changed, and at least every ``interval``
    seconds; elsewhere every ``interval`` seconds. It stops after one last refresh once
    the run and its children have ended, when the widget is closed, or on ``stop()``.
    Clicking a child run opens it in the same widget, with a way back.
    ``RunDetails([run_a, run_b])`` (or an experiment) shows the runs side by side instead
    (``RunComparison``).

    Args:
        run: a runwidget ``Run`` or a ``runwidget.sources.RunSource``.
        interval: the longest wait between two reads, in seconds (default 10).
        max_points: the most points drawn per chart line (each bucket's min and max kept).
        max_log_lines: the most output lines kept in the browser.

    Raises:
        InvalidValueError: ``run`` is of a kind RunDetails cannot show, or an argument is
            out of range.
        RunNotFoundError: the run does not exist.
    """

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    #: The longest wait between two reads while the run is live. A source with change
    #: probes (runwidget's store) is also asked "changed?" every ``PROBE_INTERVAL``, and
    #: read as soon as it did.
    interval = traitlets.Float(10.0).tag(sync=True)
    #: False reads at each ``interval`` only (no change probes).
    probe_changes: bool = True
    #: Whether the widget is polling (read-only; ``stop()`` ends it).
    polling = traitlets.Bool(False, read_only=True).tag(sync=True)
    # The view model snapshot without series points (those live in the bqplot lines).
    _snapshot = traitlets.Dict().tag(sync=True)
    # {chart id: {"figure": model id, "series": {series id: model id}}}
    _charts = traitlets.Dict().tag(sync=True)
    # The runs opened above this one (drill-down), outermost first: [{run_id, name}].
    _trail = traitlets.List().tag(sync=True)
    # Names this widget in the browser, where every view of it shares one state.
    _uid = traitlets.Unicode().tag(sync=True)
    # The chart library's front-end module, which the browser loads ahead of the first chart.
    _chart_module = traitlets.Dict().tag(sync=True)

    def __new__(cls, run: Any = None, *args: Any, **kwargs: Any) -> Any:
        # RunDetails([run_a, run_b]) (or an experiment): the runs side by side.
        if cls is RunDetails and is_comparison(run):
            options = {k: v for k, v in kwargs.items() if k in ("interval", "max_points")}
            return RunComparison(run, **options)
        return super().__new__(cls)

    def __init__(
        self,
        run: Any,
        *,
        interval: float = 10.0,
        max_points: int = 2000,
        max_log_lines: int = 1000,
        **kwargs: Any,
    ) -> None:
        for name, value, low in (
            ("max_points", max_points, 8),
            ("max_log_lines", max_log_lines, 1),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InvalidValueError(f"{name} must be an integer >= {low}, got {value!r}")
        source = source_for(run)
        record = getattr(run, "_record", None)
        self._options = {
            "max_points": max_points,
            "max_log_lines": max_log_lines,
            "child_read_budget": CHILD_READ_BUDGET,
        }
        self._lock = threading.RLock()
        self._view = RunView(source, record=record, **self._options)
        # A long history is read while the widget is built (and the chart library loads).
        self._view.prefetch_metrics()
        self._figures = ChartFigures()
        self._stack: list[tuple[RunView, ChartFigures]] = []
        self._poller: Poller | None = None
        self._display_ids: list[str] = []
        self._last_refresh_due = False
        self._failures = 0
        self._seen_version: Any = None  # the source's version at the last read
        self._read_at = 0.0  # time.monotonic() of the last read
        self._closed = False
        self._first_read = threading.Event()
        self.bytes_sent = 0  # what deltas and snapshots put on the wire (for the benchmark)
        super().__init__(interval=interval, _uid=uuid.uuid4().hex, **kwargs)
        self.on_msg(self._on_frontend_msg)
        # Quick first view (header, tables, log); the points come at once from the thread,
        # so that show() never waits for a long history.
        self._view.refresh(metrics=False)
        self._push_snapshot()
        self._start_polling(delay=0)

    @traitlets.validate("interval")
    def _check_interval(self, proposal: dict[str, Any]) -> float:
        value = proposal["value"]
        if not value >= MIN_INTERVAL:
            raise traitlets.TraitError(
                f"interval must be at least {MIN_INTERVAL} seconds, got {value!r}"
            )
        return float(value)

    @traitlets.observe("interval")
    def _interval_changed(self, change: dict[str, Any]) -> None:
        poller = getattr(self, "_poller", None)
        if poller is not None:
            poller.interval = change["new"]
            poller.wake()

    # -- public API ------------------------------------------------------------------------
    @classmethod
    def from_mlflow(cls, run_id: str, tracking_uri: str | None = None, **kwargs: Any) -> RunDetails:
        """Details of the MLflow run ``run_id`` (MLflow's current tracking URI by default).

        ``RunDetails(mlflow_run)`` does the same for an ``mlflow.entities.Run`` or the
        ``ActiveRun`` of ``mlflow.start_run()``.

        Raises:
            ImportError: MLflow is not installed (``pip install runwidget[mlflow]``).
            RunNotFoundError: no such run at that tracking URI.
        """
        from runwidget.sources.mlflow import MlflowSource

        return cls(MlflowSource(run_id, tracking_uri), **kwargs)

    def show(self) -> None:
        """Display the widget in the notebook (with a static summary for saved notebooks)."""
        from IPython.display import display

        display(self)

    def stop(self) -> None:
        """Stop polling now (waiting for a poll in progress). The widget keeps showing
        what it has."""
        with self._lock:
            poller = self._stop_polling()
        _join(poller)

    def get_widget_data(self) -> dict[str, Any]:
        """The view model of the run shown now: plain JSON (see ``runwidget.view``)."""
        with self._lock:
            return self._view.snapshot()

    @property
    def run_id(self) -> str:
        """The id of the run shown now (a child's after a drill-down)."""
        return self._view.source.run_id

    def close(self) -> None:
        """Stop polling and close the widget and its charts."""
        if "_figures" not in self.__dict__:  # the constructor refused its arguments
            super().close()
            return
        with self._lock:
            self._closed = True
            poller = self._stop_polling()
            self._figures.close()
            for view, figures in self._stack:
                figures.close()
                view.source.close()
            self._stack.clear()
        _join(poller)
        super().close()

    @traitlets.observe("comm")
    def _watch_comm(self, change: dict[str, Any]) -> None:
        comm = change["new"]
        if comm is not None and hasattr(comm, "on_close"):
            # The front end closed the widget (or the kernel's comms are being torn down).
            comm.on_close(lambda _msg: self._closed_by_frontend())

    def _closed_by_frontend(self) -> None:
        with self._lock:
            self._closed = True
            poller = self._stop_polling()
        _join(poller)

    # -- display ---------------------------------------------------------------------------
    def _ipython_display_(self) -> None:
        from IPython.display import publish_display_data

        display_id = uuid.uuid4().hex
        self._display_ids.append(display_id)
        publish_display_data(self._mimebundle(), transient={"display_id": display_id})
        # While the polling thread reads the points, load the chart library here and have
        # the browser load its front end (the first chart would wait for both otherwise).
        import bqplot

        version = bqplot.Figure.class_traits()["_model_module_version"].default_value
        self._chart_module = {"module": "bqplot", "version": version, "model": "FigureModel"}

    def _mimebundle(self) -> dict[str, Any]:
        # The summary shows metrics when the first full read is quick (most runs); a long
        # history is not waited for: the summary is redone when polling ends.
        self._first_read.wait(FIRST_READ_WAIT)
        bundle = super()._repr_mimebundle_() or {}
        data = dict(bundle[0] if isinstance(bundle, tuple) else bundle)
        data["text/html"] = summary_html(self._view.snapshot(with_series=True))
        data["text/plain"] = f"RunDetails({self.run_id!r})"
        data.update(run_reference(self._view))  # for the notebook reopened without a kernel
        return data

    def _update_displays(self) -> None:
        if not self._display_ids:
            return
        from IPython.display import publish_display_data

        try:
            data = self._mimebundle()
            for display_id in self._display_ids:
                publish_display_data(data, transient={"display_id": display_id}, update=True)
        except Exception:  # no kernel (a script) or a closed one: the widget still works
            logger.debug("runwidget: could not update the displayed summary", exc_info=True)

    # -- polling ---------------------------------------------------------------------------
    def _start_polling(self, delay: float) -> None:
        if self._closed or self._view.terminal and self._last_refresh_done():
            self.set_trait("polling", False)
            return
        self._last_refresh_due = False
        me = weakref.ref(self)
        view = self._view

        def tick() -> float | None:
            widget = me()
            return None if widget is None else widget._tick(view)

        self._poller = Poller(tick, self.interval, name=f"runwidget-poll-{self.run_id}")
        self._poller.start(delay=delay)
        self.set_trait("polling", True)

    def _last_refresh_done(self) -> bool:
        return getattr(self._view, "_runwidget_final", False)

    def _stop_polling(self) -> Poller | None:
        """Tell the poller to stop; the caller joins it after releasing the lock (a poll in
        progress waits for the lock, sees it was replaced, and ends)."""
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.stop(timeout=0)
        if self.comm is not None:
            self.set_trait("polling", False)
        return poller

    def _tick(self, view: RunView) -> float | None:
        with self._lock:
            if view is not self._view or self._closed or self._poller is None:
                return None  # stopped, closed, or a drill-down replaced this view
            version = self._probe(view)
            quiet = time.monotonic() - self._read_at < self.interval
            unchanged = version is not None and version == self._seen_version
            if unchanged and quiet and not self._last_refresh_due:
                return PROBE_INTERVAL  # nothing changed: no read, nothing sent
            self._seen_version, self._read_at = version, time.monotonic()
            # The first full read sends the run's own charts before its children's metrics.
            delta = view.refresh(child_metrics=self._first_read.is_set())
            if delta is not None:
                self._publish(delta)
            self._first_read.set()
            if not view.reachable:
                self._failures += 1
                return min(self.interval * 2**self._failures, MAX_BACKOFF)
            self._failures = 0
            if view.behind:
                return 0.0  # child runs left unread: go on at once
            if view.terminal:
                if self._last_refresh_due:
                    view._runwidget_final = True  # type: ignore[attr-defined]
                    self._push_snapshot()
                    self._update_displays()
                    self._poller = None
                    self.set_trait("polling", False)
                    return None
                self._last_refresh_due = True
                return LAST_REFRESH_DELAY
            self._last_refresh_due = False
            return self.interval if version is None else min(self.interval, PROBE_INTERVAL)

    def _probe(self, view: RunView) -> Any:
        """The source's version now, or None (no probe: read at each interval)."""
        if self.probe_changes is False or not view.reachable:
            return None
        try:
            return view.source.version()
        except Exception:  # an outage: the read that follows says so in the view
            return None

    def _publish(self, delta: dict[str, Any]) -> None:
        """Send a delta: new charts become bqplot widgets; the rest goes as one message."""
        created = False
        charts = delta.get("charts")
        if charts:
            for spec in charts["specs"]:
                created |= self._figures.ensure(spec)
        if "iterations" in delta:
            created |= self._figures.ensure_iterations(delta["iterations"])
        if created:
            self._charts = self._figures.model_map()
        # The kernel's copy of the view first: a page that loads the widget now (a reload,
        # a second view) gets this version, and the deltas that follow apply to it.
        self._push_snapshot(send=False)
        content, buffers = _pack_series({"type": "delta", "delta": delta})
        self._send_msg(content, buffers)

    def _send_msg(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        if self.comm is None:
            return
        self.bytes_sent += _size(content) + sum(len(b) for b in buffers or ())
        self.send(content, buffers)

    def _push_snapshot(self, send: bool = True) -> None:
        """Put the whole view into the widget state (and the series into the lines) and
        send it; with ``send=False`` only the kernel's copy is brought up to date (what a
        page that loads the widget later receives), at no cost on the wire."""
        full = self._view.snapshot(with_series=True)
        self._figures.set_data(full["charts"], send=send)
        self._figures.set_iteration_data(full["iterations"], send=send)
        self._charts = self._figures.model_map()
        state = dict(full)
        state["charts"] = [
            {
                **c,
                "series": [
                    {k: v for k, v in s.items() if k not in ("x", "y")} for s in c["series"]
                ],
            }
            for c in full["charts"]
        ]
        set_quietly(self, _snapshot=state)
        if not send or self.comm is None:
            return
        self.bytes_sent += _size(state) + sum(
            16 * len(s["x"]) for c in full["charts"] for s in c["series"]
        )
        self.send_state("_snapshot")

    # -- messages from the browser ------------------------------------------------------
    def _on_frontend_msg(self, _widget: Any, content: Any, buffers: list[bytes]) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        try:
            if kind == "open" and isinstance(content.get("run_id"), str):
                self.open_child(content["run_id"])
            elif kind == "back":
                levels = content.get("levels", 1)
                for _ in range(levels if isinstance(levels, int) and 0 < levels < 100 else 1):
                    self.back()
            elif kind == "resync":
                with self._lock:
                    self._push_snapshot()
            elif kind == "full_log":
                self._send_full_log()
            elif kind in CHART_REQUESTS:
                answer, buffers = chart_request(self._view.source, content)
                self.bytes_sent += sum(len(b) for b in buffers)
                self.send(answer, buffers=buffers)
        except Exception as e:  # the browser asked; tell it instead of raising in the kernel
            logger.warning("runwidget: %s failed: %s", kind, e)
            self._send_msg({"type": "error", "text": f"{kind} failed: {e}"})

    def open_child(self, run_id: str) -> None:
        """Show the child run ``run_id`` in this widget (``back()`` returns).

        Raises:
            RunNotFoundError: the run shown has no child ``run_id``.
        """
        with self._lock:
            source = self._view.source.child(run_id)
            poller = self._stop_polling()
            self._stack.append((self._view, self._figures))
            parent = self._view.snapshot(with_series=False)["header"]
            self._trail = [
                *self._trail,
                {"run_id": parent["run_id"], "name": parent["display_name"]},
            ]
            self._view = RunView(source, **self._options)
            self._view.prefetch_metrics()
            self._figures = ChartFigures()
            self._first_read.clear()
            self._view.refresh(metrics=False)
            self._push_snapshot()
            self._start_polling(delay=0)
        _join(poller)

    def back(self) -> None:
        """Return to the run shown before the last ``open_child`` (no-op at the top)."""
        with self._lock:
            if not self._stack:
                return
            poller = self._stop_polling()
            self._figures.close()
            self._view.source.close()
            self._view, self._figures = self._stack.pop()
            self._trail = self._trail[:-1]
            self._view.refresh()
            self._push_snapshot()
            self._start_polling(delay=self.interval)
        _join(poller)

    def _send_full_log(self) -> None:
        source = self._view.source
        parts: list[str] = []
        cursor = 0
        while True:
            lines = source.logs(cursor, limit=100_000)
            parts.extend(f"{line.text}\n" for line in lines)
            if len(lines) < 100_000:
                break
            cursor = lines[-1].seq
        data = "".join(parts).encode("utf-8")
        self.bytes_sent += len(data)
        self.send({"type": "full_log", "run_id": source.run_id}, buffers=[data])

    def __repr__(self) -> str:
        return f"RunDetails({self.run_id!r}, polling={self.polling})"


# Series tails at least this long travel as binary float64 buffers rather than JSON numbers.
BINARY_FROM = 64


def _pack_series(content: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
    """Move long series tails of a delta message into binary buffers: ``{"buffer": i}``
    stands for ``buffers[i]`` (little-endian float64), as js/widget.js reads it."""
    charts = content["delta"].get("charts")
    buffers: list[bytes] = []
    if not charts:
        return content, buffers
    data = []
    for tail in charts["data"]:
        if len(tail["x"]) >= BINARY_FROM:
            packed = dict(tail)
            for axis in ("x", "y"):
                packed[axis] = {"buffer": len(buffers)}
                buffers.append(np.asarray(tail[axis], "<f8").tobytes())
            tail = packed
        data.append(tail)
    delta = {**content["delta"], "charts": {**charts, "data": data}}
    return {**content, "delta": delta}, buffers


def _join(poller: Poller | None) -> None:
    if poller is not None and not poller.stop(timeout=30):
        logger.warning("runwidget: a poll is still running after 30 s")


def _size(content: Any) -> int:
    import json

    return len(json.dumps(content, default=str))
