"""Record the trials of your own Optuna study as runwidget runs.

::

    from runwidget import Experiment, RunDetails
    from runwidget.integrations.optuna import RunwidgetCallback

    callback = RunwidgetCallback(Experiment(name="tuning"))
    RunDetails(callback.run).show()
    with callback:  # ends the sweep run (Completed, or Failed on an exception)
        study.optimize(objective, n_trials=100, callbacks=[callback])

The callback creates a run of type ``sweep`` and, as each trial ends, a child run of it:
properties ``iteration`` (the trial number) and the trial's parameters; metrics: each
objective value (named by ``study.set_metric_names``, else ``value`` / ``values_0``...) and
the reported intermediate values as a series ``intermediate_value`` (x = step); the trial's
start and end as the run's times; its state as the status (COMPLETE → Completed, PRUNED →
Canceled, FAIL → Failed). The sweep run gets ``primary_metric`` and ``goal`` from the study's
first objective and, for a single objective, logs ``best_<metric>`` after each trial.

Optuna calls callbacks as each trial ends, so a trial appears when it is over. To watch a
study live without recording it, use ``RunDetails(study)`` (``runwidget.sources.optuna``).
Recording never stops the study: when the run store cannot be reached, trials wait in
memory and are written at the next trial (or at ``complete()``), with one warning.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import warnings
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from runwidget import status as st
from runwidget._imports import import_optional
from runwidget.errors import InvalidValueError, RunFinishedError, RunwidgetWarning, StoreError
from runwidget.sources.optuna import INTERMEDIATE, metric_names, parameter_properties
from runwidget.store import MetricKind, RunType

if TYPE_CHECKING:
    import optuna

    from runwidget.tracking.experiment import Experiment
    from runwidget.tracking.run import Run

logger = logging.getLogger("runwidget")

__all__ = ["RunwidgetCallback"]

_STATUS = {"COMPLETE": st.COMPLETED, "PRUNED": st.CANCELED, "FAIL": st.FAILED}


def _optuna() -> Any:
    return import_optional("optuna", extra="optuna", feature="runwidget's Optuna callback")


class RunwidgetCallback:
    """An Optuna callback that records each finished trial as a child of a sweep run.

    Args:
        experiment: where to create the sweep run: an ``Experiment`` or an experiment name
            (in the default workspace). Not needed with ``run``.
        run: record into this existing sweep run instead (e.g. one per worker process of a
            distributed study, all into one run).
        metric_name: the name(s) of the objective(s); default: the study's metric names,
            else ``value`` / ``values_0``, ``values_1``...
        display_name: the sweep run's display name (default: the study's name at the first
            trial).

    Raises:
        InvalidValueError: neither ``experiment`` nor ``run``, both, or ``run`` is not a
            sweep run.
        MissingDependencyError: optuna is not installed.
    """

    def __init__(
        self,
        experiment: Experiment | str | None = None,
        *,
        run: Run | None = None,
        metric_name: str | Sequence[str] | None = None,
        display_name: str | None = None,
    ) -> None:
        _optuna()
        from runwidget.tracking.experiment import Experiment
        from runwidget.tracking.run import Run

        if (experiment is None) == (run is None):
            raise InvalidValueError(
                "RunwidgetCallback takes an experiment (an Experiment or its name) to create "
                "its sweep run in, or run= an existing sweep run; got "
                + ("neither" if experiment is None else "both")
            )
        if isinstance(metric_name, str):
            metric_name = [metric_name]
        if metric_name is not None and (
            not metric_name or not all(isinstance(n, str) and n for n in metric_name)
        ):
            raise InvalidValueError(
                f"metric_name must be a name or a list of names, got {metric_name!r:.80}"
            )
        self._metric_names = list(metric_name) if metric_name is not None else None
        if run is not None:
            if not isinstance(run, Run) or run.type != RunType.SWEEP:
                raise InvalidValueError(
                    f"run must be a runwidget Run of type {RunType.SWEEP!r}, got {run!r:.80}"
                )
            self.run = run
            self._named = True
        else:
            if isinstance(experiment, str):
                experiment = Experiment(name=experiment)
            if not isinstance(experiment, Experiment):
                raise InvalidValueError(
                    "experiment must be a runwidget Experiment or a name, got "
                    f"{type(experiment).__name__}: {experiment!r:.80}"
                )
            self.run = experiment.start_logging(display_name=display_name, run_type=RunType.SWEEP)
            self._named = display_name is not None
        self._lock = threading.Lock()
        self._described = False
        self._names: list[str] | None = None
        self._maximize: bool | None = None
        self._best: float | None = None
        self._waiting: list[Any] = []  # trials not yet written (store unreachable)
        self._warned = False

    # -- the callback ------------------------------------------------------------------------
    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Record ``trial`` (called by ``study.optimize`` as each trial ends)."""
        with self._lock:
            try:
                if not self._described:
                    self._describe(study)
                self._waiting.append(trial)
                self._write_waiting()
            except InvalidValueError:
                raise  # a mistake in how the callback was made: say so at once
            except Exception as e:  # monitoring must never stop the study
                logger.exception("runwidget could not record trial %s", trial.number)
                self._warn(e)

    def _describe(self, study: optuna.Study) -> None:
        names = self._metric_names or metric_names(study)
        if len(names) != len(study.directions):
            raise InvalidValueError(
                f"metric_name gives {len(names)} name(s) but the study has "
                f"{len(study.directions)} objective(s)"
            )
        goal = study.directions[0].name.lower()
        properties: dict[str, Any] = {
            "primary_metric": names[0],
            "goal": goal,
            "study_name": study.study_name,
        }
        if len(names) > 1:
            properties["objectives"] = ", ".join(
                f"{n} ({d.name.lower()})" for n, d in zip(names, study.directions, strict=False)
            )
        try:
            if not self._named:
                self.run._flusher.update_run(self.run.id, display_name=study.study_name)
            self.run.add_properties(properties)
        except StoreError as e:
            self._warn(e)
            return
        self._names = names
        self._maximize = goal == "maximize" if len(names) == 1 else None
        self._described = True

    def _write_waiting(self) -> None:
        if not self._described:
            return
        while self._waiting:
            try:
                self._record(self._waiting[0])
            except StoreError as e:
                self._warn(e)
                return
            self._waiting.pop(0)

    def _warn(self, error: Exception) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"runwidget cannot record Optuna trials ({error}); they wait in memory and are "
                "written when the run store is back. The study goes on.",
                RunwidgetWarning,
                stacklevel=4,
            )

    def _record(self, trial: Any) -> None:
        assert self._names is not None
        run = self.run
        store = run._store
        state = trial.state.name
        status = _STATUS.get(state)
        if status is None:
            return  # RUNNING or WAITING: callbacks see finished trials only
        started = trial.datetime_start.timestamp() if trial.datetime_start else time.time()
        ended = trial.datetime_complete.timestamp() if trial.datetime_complete else time.time()
        properties = {"iteration": trial.number, **parameter_properties(trial.params)}
        tags = {str(k): v for k, v in (trial.user_attrs or {}).items()
                if isinstance(v, (str, int, float, bool))}  # fmt: skip
        record = store.create_run(
            run.experiment.name,
            parent_id=run.id,
            display_name=f"Trial {trial.number}",
            run_type=RunType.CHILD,
            status=st.RUNNING,
            started=started,
            properties=properties,
            tags=tags,
            target="optuna",
        )
        rows: list[tuple[str, str, float | None, Any, float]] = [
            (INTERMEDIATE, MetricKind.SCALAR, float(step), float(value), ended)
            for step, value in sorted(trial.intermediate_values.items())
        ]
        if state == "COMPLETE" and trial.values is not None:
            rows += [
                (name, MetricKind.SCALAR, None, float(value), ended)
                for name, value in zip(self._names, trial.values, strict=False)
            ]
        error = None
        if status == st.FAILED:
            reason = (trial.system_attrs or {}).get("fail_reason")
            error = {"message": str(reason or f"trial {trial.number} failed"), "traceback": None}
        # Written by the run's background writer, in this order: the study does not wait.
        flusher = run._flusher
        if rows:
            flusher.add_metrics(record.id, rows)
        flusher.update_run(record.id, status=status, ended=ended, error=error)
        self._log_best(trial)

    def _log_best(self, trial: Any) -> None:
        if self._maximize is None or trial.state.name != "COMPLETE" or trial.values is None:
            return
        value = float(trial.values[0])
        if math.isnan(value):
            return
        if self._best is None or (value > self._best if self._maximize else value < self._best):
            self._best = value
        assert self._names is not None
        with contextlib.suppress(RunFinishedError):  # the sweep run was ended by hand
            self.run.log(f"best_{self._names[0]}", self._best, step=trial.number)

    # -- ending the sweep run ----------------------------------------------------------------
    def flush(self, timeout: float | None = 10.0) -> bool:
        """Write every trial recorded so far. Returns False if the store stayed unreachable."""
        with self._lock:
            self._write_waiting()
            waiting = bool(self._waiting)
        return self.run.flush(timeout) and not waiting

    def complete(self) -> None:
        """Write what is left and mark the sweep run Completed."""
        self.flush()
        self.run.complete()

    def fail(self, error: BaseException | str | None = None) -> None:
        """Write what is left and mark the sweep run Failed."""
        self.flush()
        self.run.fail(error)

    def __enter__(self) -> RunwidgetCallback:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.flush()
        self.run.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"RunwidgetCallback(run={self.run.id!r})"
