"""``RunComparison``: runs side by side in a notebook, live while any of them runs.

``RunDetails([run_a, run_b])`` (or an experiment, or ``experiment.get_runs()``) makes one.
The view model (runwidget/view/compare.py) decides what is drawn; the browser draws it
(js/compare.js). A daemon thread reads the runs again when a change probe says one of them
changed (runwidget's store: about every 0.5 s), else every ``interval`` seconds, and stops
once every run has ended.

On the wire: a page that loads the widget gets the whole comparison as the ``_compare``
state; after that each change goes as a custom message with only the view model's delta
(``runwidget.view.compare``: a live run's new points, its stats rows, its status; long
line tails in binary buffers), which the browser merges into its comparison. ``_compare``
in the kernel is always the whole comparison (for a page loading the widget, and the
notebook's saved summary); changing it sends nothing by itself.
"""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from runwidget.errors import InvalidValueError
from runwidget.sources import RunSource, source_for
from runwidget.tracking import Experiment, Run
from runwidget.view.compare import COMPARE_POINTS, MAX_RUNS, CompareView
from runwidget.view.summary import compare_summary_html
from runwidget.widgets._charts import CHART_REQUESTS, compare_chart_request
from runwidget.widgets._poller import PROBE_INTERVAL, ChangeGate, Poller
from runwidget.widgets._transport import Transport, json_size, pack_tails
from runwidget.widgets.reopen import runs_reference

logger = logging.getLogger("runwidget")

STATIC = Path(__file__).resolve().parent.parent / "static"


def pack_lines(delta: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
    """A comparison delta with its long line tails (a line downsampled again, or a run's
    first read) in binary buffers (``pack_tails``); the delta given is left as it is."""
    if "series" not in delta:
        return delta, []
    series, buffers = pack_tails(delta["series"])
    return {**delta, "series": series}, buffers


def runs_of(obj: Any) -> list[Any]:
    """The runs a comparison shows: a list or other iterable of runs, or an experiment
    (its top-level runs, newest first, at most ``MAX_RUNS``).

    Raises:
        InvalidValueError: no run, too many, or something that is not a list of runs.
    """
    if isinstance(obj, Experiment):
        runs = list(obj.get_runs())[:MAX_RUNS]
    elif isinstance(obj, (str, bytes, dict)) or not isinstance(obj, Iterable):
        raise InvalidValueError(
            f"a comparison takes a list of runs or an experiment, got {type(obj).__name__}"
        )
    else:
        runs = list(obj)
    if not runs:
        raise InvalidValueError("a comparison needs at least one run; got none")
    if len(runs) > MAX_RUNS:
        raise InvalidValueError(
            f"a comparison shows at most {MAX_RUNS} runs, got {len(runs)}: pick some"
        )
    return runs


def is_comparison(obj: Any) -> bool:
    """Whether ``RunDetails(obj)`` shows a comparison: a list, tuple or other iterable of
    runs, or an experiment (a run, a source, a study or an MLflow run is one run)."""
    if isinstance(obj, Experiment):
        return True
    if isinstance(obj, (Run, RunSource, str, bytes, dict)):
        return False
    return isinstance(obj, (list, tuple)) or (
        isinstance(obj, Iterable) and type(obj).__name__ in ("generator", "map", "filter")
    )


class RunComparison(anywidget.AnyWidget):
    """Several runs side by side: one chart per metric with a line per run, their
    properties and arguments in one table (differences marked), last / min / max.

    Args:
        runs: runwidget runs, MLflow runs, Optuna studies or ``RunSource``s, or an
            experiment.
        interval: the longest wait between two reads, in seconds (default 10).
        max_points: points per line.

    Raises:
        InvalidValueError: no run, more than ``MAX_RUNS``, or one of a kind no source reads.
    """

    _esm = STATIC / "compare.js"
    _css = STATIC / "compare.css"

    interval = traitlets.Float(10.0).tag(sync=True)
    polling = traitlets.Bool(False, read_only=True).tag(sync=True)
    _compare = traitlets.Dict().tag(sync=True)
    _uid = traitlets.Unicode().tag(sync=True)

    def __init__(
        self, runs: Any, *, interval: float = 10.0, max_points: int = COMPARE_POINTS, **kwargs: Any
    ) -> None:
        if not isinstance(interval, (int, float)) or isinstance(interval, bool) or interval < 0.2:
            raise InvalidValueError(f"interval must be at least 0.2 seconds, got {interval!r}")
        sources = [source_for(r) for r in runs_of(runs)]
        self._view = CompareView(sources, max_points=max_points)
        self._lock = threading.RLock()
        self._gate = ChangeGate()
        self._gate.should_read(self._view.sources, float(interval), force=True)
        self._view.refresh()
        # The whole comparison goes with the widget's first state; then only deltas.
        super().__init__(
            interval=float(interval),
            _uid=uuid.uuid4().hex,
            _compare=self._view.snapshot(),
            **kwargs,
        )
        self._transport = Transport(self)
        method = weakref.WeakMethod(self._tick)  # the thread keeps no widget alive

        def tick() -> float | None:
            poll = method()
            return None if poll is None else poll()

        self._poller = Poller(tick, self.interval, name="runwidget-compare")
        self.on_msg(self._on_frontend_msg)
        if not self._view.terminal:
            self._poller.start(delay=PROBE_INTERVAL)
            self.set_trait("polling", True)

    def _tick(self) -> float | None:
        with self._lock:
            if not self._gate.should_read(self._view.sources, self.interval):
                return PROBE_INTERVAL  # nothing changed: nothing read, nothing sent
            delta = self._view.refresh()
            if delta is not None:
                self._compare = self._view.snapshot()  # the kernel's copy stays whole
                content, buffers = pack_lines(delta)
                self._transport.send({"type": "delta", "delta": content}, buffers)
            if self._view.terminal:
                self.set_trait("polling", False)
                return None
            return self._gate.next_wait(self.interval)

    def _should_send_property(self, key: str, value: Any) -> bool:
        # A change of the comparison goes as a delta (_tick), not as the whole state.
        return key != "_compare" and bool(super()._should_send_property(key, value))

    def get_state(self, key: Any = None, drop_defaults: bool = False) -> dict[str, Any]:
        """The widget's state for the browser; ``_compare`` is the whole comparison now
        (a page loading the widget, or one that missed a delta)."""
        with self._lock:  # a comparison and the deltas after it, never half of a refresh
            state: dict[str, Any] = super().get_state(key, drop_defaults)
        if "_compare" in state and "_transport" in self.__dict__:
            self._transport.bytes_sent += json_size(state["_compare"])
        return state

    @property
    def bytes_sent(self) -> int:
        """What the comparison's states, deltas and answers have put on the wire."""
        return self._transport.bytes_sent

    def _on_frontend_msg(self, _widget: Any, content: Any, _buffers: list[bytes]) -> None:
        """A chart's request from the browser: a zoomed range or a time axis read again from
        every point of each run, or every run's points as CSV; or the whole comparison again,
        for a page that missed a delta."""
        if isinstance(content, dict) and content.get("type") == "resync":
            self.send_state("_compare")
            return
        if not isinstance(content, dict) or content.get("type") not in CHART_REQUESTS:
            return
        try:
            answer, buffers = compare_chart_request(self._view.sources, content)
        except Exception as e:  # the browser asked; tell it instead of raising in the kernel
            logger.warning("runwidget: %s failed: %s", content.get("type"), e)
            answer = {"type": "error", "request": content.get("request"), "text": str(e)}
            buffers = []
        self._transport.send(answer, buffers)

    def show(self) -> None:
        from IPython.display import display

        display(self)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view, with a static summary of the runs for viewers without widgets and
        the runs' names for a notebook reopened without its kernel (widgets/reopen.py)."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if not bundle:
            return bundle
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        with self._lock:
            compare = self._compare
        data = {**data, "text/html": compare_summary_html(compare)}
        data.update(runs_reference(self._view.sources, compare["runs"]))
        return data, metadata

    def stop(self) -> None:
        """Stop reading the runs."""
        self._poller.stop(timeout=0)
        self.set_trait("polling", False)

    def close(self) -> None:
        poller = getattr(self, "_poller", None)  # None when __init__ failed part-way
        if poller is not None:
            poller.stop(timeout=5)
        super().close()

    def __repr__(self) -> str:
        names = ", ".join(r["name"] for r in self._compare.get("runs", []))
        return f"RunComparison({names})"
