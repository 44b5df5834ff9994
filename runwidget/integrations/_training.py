"""What the framework integrations share: which run they log to, and how that run ends.

Every integration (``transformers``, ``lightning``, ``keras``, ``xgboost``, ``lightgbm``)
holds a ``TrainingRun``. It finds the run the same way for all of them: an explicit ``run=``,
else ``Run.get_context()`` inside a submitted script, else a new interactive run in the
default workspace's experiment named after the framework (or ``experiment=``).

A run the integration created ends with the training: Completed when it ends normally,
Failed with the traceback on an exception, Canceled on a keyboard interrupt. A run it was
given (``run=``, or a submitted script's) is left for its owner to end. A second training
with the same integration, after its created run ended, gets a new run. Where a framework
tells its callbacks only about a normal end, an exception is seen where it surfaces: an
uncaught exception in a script (``sys.excepthook``), a failed or interrupted notebook cell
(IPython's ``post_run_cell``), or the ``with`` block every integration supports.
Monitoring never stops training: an error while logging is warned about once and training
goes on.
"""

from __future__ import annotations

import atexit
import enum
import logging
import math
import os
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from runwidget.errors import InvalidValueError, RunwidgetWarning
from runwidget.tracking._validate import check_name
from runwidget.tracking.context import ENV_RUN_ID
from runwidget.tracking.experiment import Experiment
from runwidget.tracking.run import Run

logger = logging.getLogger("runwidget")

# Longest string kept as a property (a long repr of an object says little in a table).
MAX_PROPERTY_TEXT = 1000

# Trainings under way whose end the framework may not report; ended by the hooks below.
_active: weakref.WeakSet[TrainingRun] = weakref.WeakSet()
_hooks_lock = threading.Lock()
_hooks_installed = False


class TrainingRun:
    """The run an integration logs to, found and ended the same way by every framework.

    Args:
        framework: the framework's name: the default experiment's name.
        run: log to this run (ended by its owner, not by the integration).
        experiment: where to create the run when there is none: an ``Experiment`` or its
            name (default: the framework's name, in the default workspace).
        display_name: the created run's display name.

    Raises:
        InvalidValueError: an argument of the wrong type, or both ``run`` and
            ``experiment``.
    """

    def __init__(
        self,
        framework: str,
        run: Run | None = None,
        experiment: Experiment | str | None = None,
        display_name: str | None = None,
        *,
        owner: str = "RunwidgetCallback",
    ) -> None:
        if run is not None and not isinstance(run, Run):
            raise InvalidValueError(
                f"{owner}: run must be a runwidget Run or None, got "
                f"{type(run).__name__}: {run!r:.80}"
            )
        if experiment is not None and not isinstance(experiment, (Experiment, str)):
            raise InvalidValueError(
                f"{owner}: experiment must be a runwidget Experiment, an experiment name or "
                f"None, got {type(experiment).__name__}: {experiment!r:.80}"
            )
        if run is not None and (experiment is not None or display_name is not None):
            raise InvalidValueError(
                f"{owner}: run= logs to an existing run; experiment= and display_name= are "
                "for a run the integration creates, give one or the other"
            )
        if isinstance(experiment, str):
            check_name(experiment, "experiment name")
        if display_name is not None:
            check_name(display_name, "display_name")
        self.framework = framework
        self._run = run
        self._experiment = experiment
        self._display_name = display_name
        self.owned = False  # whether this integration created the run, and so ends it
        self.ended = False
        # Set by an integration whose framework can stop without telling its callbacks
        # (LightGBM's early stopping): a cell or the interpreter ending then ends the run.
        self.quiet_end = False
        self.run_type = "interactive"  # of a run created here; "sweep" for a search
        self.held = False  # inside ``with integration:``: the block's end ends the run
        self._lock = threading.Lock()
        self._warned = False

    @property
    def run(self) -> Run:
        """The run, found or created on first use."""
        with self._lock:
            if self._run is None:
                self._run = self._find()
            return self._run

    @property
    def found(self) -> Run | None:
        """The run if it was found or created already (``run`` does it on first use)."""
        return self._run

    @property
    def experiment(self) -> Any:
        """The experiment asked for (an ``Experiment``, a name, or None for the default)."""
        return self._experiment

    def _find(self) -> Run:
        if os.environ.get(ENV_RUN_ID):
            return Run.get_context()
        experiment = self._experiment
        if not isinstance(experiment, Experiment):
            experiment = Experiment(name=experiment or self.framework)
        self.owned = True
        return experiment.start_logging(
            display_name=self._display_name,
            tags={"framework": self.framework},
            run_type=self.run_type,
        )

    # -- logging that never stops training ---------------------------------------------------
    def guard(self, what: str, fn: Callable[[], Any]) -> Any:
        """Call ``fn``; an error is logged, warned about once, and training goes on."""
        try:
            return fn()
        except Exception as e:  # monitoring must never stop the training
            logger.debug("runwidget %s integration: %s failed", self.framework, what, exc_info=True)
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"runwidget's {self.framework} integration could not {what} ({e}); "
                    "training goes on",
                    RunwidgetWarning,
                    stacklevel=3,
                )
            return None

    def log_metrics(
        self, metrics: Mapping[str, Any], step: float | None, run: Run | None = None
    ) -> None:
        """Log each finite number of ``metrics`` at ``step`` (others are left out), to this
        integration's run or to ``run`` (a child of it)."""
        run = run or self.run
        if run.ended:
            return
        for name, value in metrics.items():
            number = to_float(value)
            if number is not None:
                run.log(name, number, step=step)

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        """Add properties, leaving out those already set (to any value): a run given by the
        user, or a second training into one run, keeps what it had."""
        run = self.run
        have = run.get_properties()
        new = {k: v for k, v in properties.items() if k not in have}
        if new:
            run.add_properties(new)

    # -- ending --------------------------------------------------------------------------------
    def started(self) -> None:
        """Training started: until ``end``, an uncaught exception ends the run (hooks). A
        training after one whose created run has ended (a second ``fit``) gets a new run."""
        if self in _active:
            return
        with self._lock:
            if self.ended and self.owned:
                self._run, self.owned = None, False
            self.ended = False
        _install_hooks()
        _active.add(self)

    def end(self, error: BaseException | None = None, *, final: bool = False) -> None:
        """Training ended: a created run ends Completed, Failed (``error``, with its
        traceback) or Canceled (a ``KeyboardInterrupt``); a given run is only flushed.
        Inside ``with integration:`` a normal end waits for the block's end (``final``), so
        that what the block does after training (an evaluation) reaches the run too."""
        if self.held and error is None and not final:
            if self._run is not None:
                self.guard("write the run", self._run.flush)
            return
        _active.discard(self)
        if self.ended or self._run is None:
            return
        self.ended = True
        run = self._run

        self.guard("end the run", lambda: end_run(run, error) if self.owned else run.flush())


def end_run(run: Run, error: BaseException | None) -> None:
    """End ``run`` as a training ended: Completed, Canceled for a keyboard interrupt, else
    Failed with ``error`` and its traceback."""
    if error is None:
        run.complete()
    elif isinstance(error, KeyboardInterrupt):
        run.cancel()
    else:
        run.fail(error)


class TrainingRunOwner:
    """What every integration's public class has: ``.run``, ``with integration:`` (ends a
    created run as the block ends: Completed, Failed, Canceled) and its repr."""

    _training: TrainingRun

    @property
    def run(self) -> Run:
        """The run this integration logs to (found or created on first use)."""
        return self._training.run

    def __enter__(self) -> Any:
        self._training.held = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._training.held = False
        self._training.end(exc, final=True)

    def __repr__(self) -> str:
        run = self._training.found
        return f"{type(self).__name__}(run={run.id if run is not None else None!r})"


def to_float(value: Any) -> float | None:
    """A finite number as a float (a 0-d tensor or array too), else None."""
    if isinstance(value, bool):
        return float(value)
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "ndim", 0) == 0:
        try:
            value = item()
        except (TypeError, ValueError, RuntimeError):
            return None
    if not isinstance(value, (int, float)):
        try:
            import numbers

            if not isinstance(value, numbers.Real):
                return None
            value = float(value)
        except (TypeError, ValueError):
            return None
    number = float(value)
    return number if math.isfinite(number) else None


def properties_of(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten ``values`` into properties: nested mappings as ``a.b``; numbers, strings,
    bools and None as they are; lists of those joined; anything else as its short text."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if not isinstance(key, str) or not key or len(name) > 255:
            continue
        if isinstance(value, Mapping):
            out.update(properties_of(value, f"{name}."))
            continue
        if isinstance(value, enum.Enum):
            value = value.value
        if value is None or isinstance(value, (bool, str)):
            pass
        elif isinstance(value, (int, float)):
            if isinstance(value, float) and not math.isfinite(value):
                value = str(value)
        elif isinstance(value, (list, tuple)) and all(
            v is None or isinstance(v, (bool, int, float, str)) for v in value
        ):
            value = ", ".join(str(v) for v in value)
        else:
            value = str(value)
        if isinstance(value, str):
            value = value.replace("\x00", "")[:MAX_PROPERTY_TEXT]
            value = value.encode("utf-8", "replace").decode("utf-8")
        out[name] = value
    return out


def bad_flag(owner: str, name: str, value: Any) -> InvalidValueError:
    return InvalidValueError(
        f"{owner}: {name} must be True or False, got {type(value).__name__}: {value!r:.80}"
    )


def check_interval(value: Any, what: str, owner: str, *, allow_none: bool = True) -> float | None:
    """A number of seconds >= 0 (or None)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise InvalidValueError(
            f"{owner}: {what} must be a number of seconds >= 0"
            + (" or None" if allow_none else "")
            + f", got {type(value).__name__}: {value!r:.80}"
        )
    return float(value)


# -- ending what the framework did not end -------------------------------------------------------
def _end_active(error: BaseException | None) -> None:
    for training in list(_active):
        training.end(error)


def _install_hooks() -> None:
    """Chain ``sys.excepthook``, ``threading.excepthook`` and, in IPython, ``post_run_cell``,
    once per process: an exception that escapes a training the framework does not report
    ends its run Failed (Canceled for a keyboard interrupt)."""
    global _hooks_installed
    with _hooks_lock:
        if _hooks_installed:
            return
        _hooks_installed = True
    previous = sys.excepthook

    def excepthook(
        exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        _end_active(exc)
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook
    previous_thread_hook = threading.excepthook

    def thread_hook(args: Any) -> None:
        if args.exc_value is not None:
            _end_active(args.exc_value)
        previous_thread_hook(args)

    threading.excepthook = thread_hook
    ipython = _ipython()
    if ipython is not None:

        def post_run_cell(result: Any) -> None:
            error = getattr(result, "error_in_exec", None)
            if error is not None:
                _end_active(error)
            else:
                # A cell that ended normally ends what it trained, also a training that
                # stopped early without telling its callbacks (LightGBM's early stopping).
                for training in list(_active):
                    if training.quiet_end:
                        training.end(None)

        ipython.events.register("post_run_cell", post_run_cell)


def _ipython() -> Any:
    module = sys.modules.get("IPython")
    if module is None:
        return None
    try:
        return module.get_ipython()
    except Exception:
        return None


@atexit.register
def _end_at_exit() -> None:
    # An uncaught exception went through excepthook first; what is left ended normally.
    for training in list(_active):
        if training.quiet_end:
            training.end(None)


__all__ = [
    "TrainingRun",
    "TrainingRunOwner",
    "bad_flag",
    "check_interval",
    "properties_of",
    "to_float",
]
