"""``RunComparison``: runs side by side in a notebook, live while any of them runs.

``RunDetails([run_a, run_b])`` (or an experiment, or ``experiment.get_runs()``) makes one.
The view model (runwidget/view/compare.py) decides what is drawn; the browser draws it
(js/compare.js). A daemon thread reads the runs again when a change probe says one of them
changed (runwidget's store: about every 0.5 s), else every ``interval`` seconds, and stops
once every run has ended.
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
from runwidget.widgets.reopen import runs_reference

logger = logging.getLogger("runwidget")

STATIC = Path(__file__).resolve().parent.parent / "static"


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
        super().__init__(interval=float(interval), _uid=uuid.uuid4().hex, **kwargs)
        self._view = CompareView(sources, max_points=max_points)
        self._lock = threading.Lock()
        self._gate = ChangeGate()
        self._gate.should_read(self._view.sources, self.interval, force=True)
        self._view.refresh()
        self._compare = self._view.snapshot()
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
            self._view.refresh()
            snapshot = self._view.snapshot()
            if snapshot != self._compare:
                self._compare = snapshot
            if self._view.terminal:
                self.set_trait("polling", False)
                return None
            return self._gate.next_wait(self.interval)

    def _on_frontend_msg(self, _widget: Any, content: Any, _buffers: list[bytes]) -> None:
        """A chart's request from the browser: a zoomed range or a time axis read again from
        every point of each run, or every run's points as CSV."""
        if not isinstance(content, dict) or content.get("type") not in CHART_REQUESTS:
            return
        try:
            answer, buffers = compare_chart_request(self._view.sources, content)
        except Exception as e:  # the browser asked; tell it instead of raising in the kernel
            logger.warning("runwidget: %s failed: %s", content.get("type"), e)
            answer = {"type": "error", "request": content.get("request"), "text": str(e)}
            buffers = []
        self.send(answer, buffers)

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
