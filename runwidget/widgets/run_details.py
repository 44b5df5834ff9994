"""``RunDetails``: the live notebook widget of a run.

The widget is the meeting point of small parts, each with one job: the refresh loop reads
the run (``_refresh.RefreshLoop``, through the change probe of ``_poller``), the navigation
keeps the runs opened by drilling down (``_navigation``), the transport puts the view on
the wire (``_transport``) and the chart widgets are ``_charts.ChartFigures``. The view
model (``runwidget.view``) owns what is shown, chart points included; the browser draws it
(see ``_charts`` for who writes the charts' points).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from runwidget.errors import InvalidValueError
from runwidget.sources import source_for
from runwidget.tracking import Run
from runwidget.view import RunView, summary_html
from runwidget.view.schema import ViewSnapshot
from runwidget.widgets._charts import CHART_REQUESTS, ChartFigures, chart_request
from runwidget.widgets._navigation import Level, Navigation
from runwidget.widgets._poller import Poller
from runwidget.widgets._refresh import RefreshLoop
from runwidget.widgets._transport import Transport
from runwidget.widgets.compare import RunComparison, is_comparison
from runwidget.widgets.reopen import run_reference

logger = logging.getLogger("runwidget")

STATIC = Path(__file__).resolve().parent.parent / "static"
MIN_INTERVAL = 0.2
# Seconds a poll spends at most reading child runs' metrics (the rest come at once after).
CHILD_READ_BUDGET = 0.25
# How long displaying waits for the first full read, for the static summary's metrics.
FIRST_READ_WAIT = 0.3

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
    # The view model of the run shown, series points included (as binary buffers). Never
    # stored here: each time the state is sent, it is the view as it is then (get_state).
    _snapshot = traitlets.Dict().tag(sync=True)
    # {chart id: {"figure": model id, "series": {series id: model id}}}
    _charts = traitlets.Dict().tag(sync=True)
    # The runs opened above this one (drill-down), outermost first: [{run_id, name}].
    _trail: traitlets.List[dict[str, str]] = traitlets.List().tag(sync=True)
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
        self._options: dict[str, Any] = {
            "max_points": max_points,
            "max_log_lines": max_log_lines,
            "child_read_budget": CHILD_READ_BUDGET,
        }
        self._lock = threading.RLock()
        self._closed = False
        self._display_ids: list[str] = []
        self._transport = Transport(self)
        # A run's record as it has it: a store down at this moment gives a notice, not an error.
        record = run.record if isinstance(run, Run) else None
        view = RunView(source, record=record, **self._options)
        # The loop takes the interval once traitlets has checked it (_interval_changed).
        self._nav = Navigation(self._level(view, RunDetails.interval.default_value))
        # Quick first view (header, tables, log), sent as the widget opens; the points come
        # at once from the thread, so that show() never waits for a long history.
        view.refresh(metrics=False)
        super().__init__(interval=interval, _uid=uuid.uuid4().hex, **kwargs)
        self.on_msg(self._on_frontend_msg)
        self._loop.set_interval(self.interval)
        self._start_polling(delay=0)

    def _level(self, view: RunView, interval: float) -> Level:
        # A long history is read while the widget is built (and the chart library loads).
        view.prefetch_metrics()
        loop = RefreshLoop(
            view,
            self._lock,
            publish=self._publish,
            finished=self._finished,
            probing=self._probing,
            interval=interval,
        )
        return Level(view, ChartFigures(), loop)

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
        if "_nav" in self.__dict__:
            self._loop.set_interval(change["new"])

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

    def get_widget_data(self) -> ViewSnapshot:
        """The view model of the run shown now: plain JSON (see ``runwidget.view``)."""
        with self._lock:
            return self._view.snapshot()

    @property
    def run_id(self) -> str:
        """The id of the run shown now (a child's after a drill-down)."""
        return self._view.source.run_id

    @property
    def bytes_sent(self) -> int:
        """What deltas, snapshots and answers have put on the wire (for the benchmarks)."""
        return self._transport.bytes_sent

    def close(self) -> None:
        """Stop polling and close the widget and its charts."""
        if "_nav" not in self.__dict__:  # the constructor refused its arguments
            super().close()
            return
        with self._lock:
            self._closed = True
            poller = self._stop_polling()
            for level in self._nav.levels():
                level.loop.stop()
                if level is self._nav.current:
                    level.figures.close()
                else:
                    level.close()
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

    # -- the run shown -----------------------------------------------------------------
    @property
    def _view(self) -> RunView:
        return self._nav.current.view

    @property
    def _loop(self) -> RefreshLoop:
        return self._nav.current.loop

    @property
    def _figures(self) -> ChartFigures:
        return self._nav.current.figures

    def get_state(self, key: Any = None, drop_defaults: bool = False) -> dict[str, Any]:
        """The widget's state for the browser; ``_snapshot`` is the view as it is now."""
        state: dict[str, Any] = super().get_state(key, drop_defaults)
        if "_snapshot" in state and "_nav" in self.__dict__:
            with self._lock:
                state["_snapshot"] = self._transport.view_state(self._view.snapshot())
        return state

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
        self._loop.first_read.wait(FIRST_READ_WAIT)
        bundle: Any = super()._repr_mimebundle_() or {}
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
        started = not self._closed and self._loop.start(delay)
        self.set_trait("polling", started)

    def _stop_polling(self) -> Poller | None:
        """Tell the run's loop to stop; the caller joins it after releasing the lock."""
        poller = self._loop.stop()
        if self.comm is not None:
            self.set_trait("polling", False)
        return poller

    def _probing(self) -> bool:
        return self.probe_changes

    def _publish(self, delta: Mapping[str, Any]) -> None:
        """Send a delta: new charts become bqplot widgets; the rest goes as one message."""
        figures = self._figures
        created = False
        charts = delta.get("charts")
        if charts:
            for spec in charts["specs"]:
                created |= figures.ensure(spec)
        if "iterations" in delta:
            created |= figures.ensure_iterations(delta["iterations"])
        if created:
            self._charts = figures.model_map()
        self._transport.send_delta(delta)

    def _finished(self) -> None:
        """The last refresh of an ended run: the whole view once more, and the summary."""
        self._transport.send_view()
        self._update_displays()
        self.set_trait("polling", False)

    def _show_level(self) -> None:
        """Send the run shown now whole (after a drill-down or back)."""
        self._trail = self._nav.trail
        self._charts = self._figures.model_map()
        self._transport.send_view()

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
                self._transport.send_view()
            elif kind == "full_log":
                self._transport.send_full_log(self._view.source)
            elif kind in CHART_REQUESTS:
                answer, buffers = chart_request(self._view.source, content)
                self._transport.send(answer, buffers)
        except Exception as e:  # the browser asked; tell it instead of raising in the kernel
            logger.warning("runwidget: %s failed: %s", kind, e)
            self._transport.send_error(f"{kind} failed: {e}")

    def open_child(self, run_id: str) -> None:
        """Show the child run ``run_id`` in this widget (``back()`` returns).

        Raises:
            RunNotFoundError: the run shown has no child ``run_id``.
        """
        with self._lock:
            source = self._view.source.child(run_id)
            poller = self._stop_polling()
            view = RunView(source, **self._options)
            self._nav.open(self._level(view, self.interval))
            view.refresh(metrics=False)
            self._show_level()
            self._start_polling(delay=0)
        _join(poller)

    def back(self) -> None:
        """Return to the run shown before the last ``open_child`` (no-op at the top)."""
        with self._lock:
            if not self._nav.depth:
                return
            poller = self._stop_polling()
            left = self._nav.back()
            if left is not None:
                left.close()
            self._view.refresh()
            self._loop.set_interval(self.interval)
            self._show_level()
            self._start_polling(delay=self.interval)
        _join(poller)

    def __repr__(self) -> str:
        return f"RunDetails({self.run_id!r}, polling={self.polling})"


def _join(poller: Poller | None) -> None:
    if poller is not None and not poller.stop(timeout=30):
        logger.warning("runwidget: a poll is still running after 30 s")
