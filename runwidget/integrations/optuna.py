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
Recording never slows or stops the study: the callback queues the trial and returns; the
run's writer thread (the one ``run.log`` uses) writes it. When the run store cannot be
reached, trials wait in memory and are written when it is back (or at ``complete()``, or at
exit), with one warning.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from runwidget import status as st
from runwidget._imports import import_optional
from runwidget.errors import InvalidValueError, RunFinishedError
from runwidget.sources.optuna import INTERMEDIATE, metric_names, parameter_properties
from runwidget.store import Batch, MetricKind, RunStore, RunType

if TYPE_CHECKING:
    import optuna

    from runwidget.tracking.experiment import Experiment
    from runwidget.tracking.run import Run

logger = logging.getLogger("runwidget")

__all__ = ["RunwidgetCallback"]

_STATUS = {"COMPLETE": st.COMPLETED, "PRUNED": st.CANCELED, "FAIL": st.FAILED}
# How long ending the sweep run waits for queued trials (the run's writer writes what is
# left at the interpreter's exit).
END_TIMEOUT = 30.0


def _optuna() -> Any:
    return import_optional("optuna", extra="optuna", feature="runwidget's Optuna callback")


class RunwidgetCallback:
    """An Optuna callback that records each finished trial as a child of a sweep run.

    Args:
        experiment: where to create the sweep run: an ``Experiment`` or an experiment name
            (in the default workspace). Not needed with ``run``.
        run: record into this existing sweep run instead (e.g. one callback per worker
            process of a distributed study, all into one run); ``flush()`` each callback (or
            leave it to the interpreter's exit) before ending that run.
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
        self._lock = threading.Lock()  # guards the study's description
        self._names: list[str] | None = None
        self._study: dict[str, Any] | None = None  # what the sweep run says of the study
        self._maximize: bool | None = None
        self._best: float | None = None
        self._progress: dict[int, dict[str, Any]] = {}  # what is written of a trial

    # -- the callback ------------------------------------------------------------------------
    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Queue ``trial`` for writing (called by ``study.optimize`` as each trial ends).

        The trial is written by the run's writer thread: the study does not wait for the store.

        Raises:
            InvalidValueError: ``metric_name`` does not match the study's objectives.
        """
        with self._lock:
            if self._names is None:
                self._names = self._check_names(study)
                self._study = self._describe(study, self._names)
                self.run.queue_write(self._write_description, "describe the Optuna study")
            self.run.queue_write(
                functools.partial(self._record, trial), f"record Optuna trial {trial.number}"
            )

    def _check_names(self, study: optuna.Study) -> list[str]:
        names = self._metric_names or metric_names(study)
        if len(names) != len(study.directions):
            raise InvalidValueError(
                f"metric_name gives {len(names)} name(s) but the study has "
                f"{len(study.directions)} objective(s)"
            )
        return names

    def _describe(self, study: optuna.Study, names: list[str]) -> dict[str, Any]:
        goal = study.directions[0].name.lower()
        self._maximize = goal == "maximize" if len(names) == 1 else None
        properties: dict[str, Any] = {
            "primary_metric": names[0],
            "goal": goal,
            "study_name": study.study_name,
        }
        if len(names) > 1:
            properties["objectives"] = ", ".join(
                f"{n} ({d.name.lower()})" for n, d in zip(names, study.directions, strict=False)
            )
        return properties

    # -- the writer ----------------------------------------------------------------------------
    def _write_description(self, store: RunStore) -> None:
        """Name the sweep run after the study (unless named) and give it the study's goal."""
        assert self._study is not None
        if not self._named:
            store.update_run(self.run.id, display_name=self._study["study_name"])
        store.update_run(self.run.id, properties=self._study)

    def _record(self, trial: Any, store: RunStore) -> None:
        """Write one finished trial: its child run, its metrics, its end. A call that fails
        part-way is run again from the step that failed (``_progress``), never twice."""
        assert self._names is not None
        run = self.run
        state = trial.state.name
        status = _STATUS.get(state)
        if status is None:
            return  # RUNNING or WAITING: callbacks see finished trials only
        ended = trial.datetime_complete.timestamp() if trial.datetime_complete else time.time()
        progress = self._progress.setdefault(trial.number, {})
        if "id" not in progress:
            started = trial.datetime_start.timestamp() if trial.datetime_start else ended
            tags = {str(k): v for k, v in (trial.user_attrs or {}).items()
                    if isinstance(v, (str, int, float, bool))}  # fmt: skip
            progress["id"] = store.create_run(
                run.experiment.name,
                parent_id=run.id,
                display_name=f"Trial {trial.number}",
                run_type=RunType.CHILD,
                status=st.RUNNING,
                started=started,
                properties={"iteration": trial.number, **parameter_properties(trial.params)},
                tags=tags,
                target="optuna",
            ).id
        child_id = progress["id"]
        if "metrics" not in progress:
            rows: list[tuple[str, str, float | None, Any, float]] = [
                (INTERMEDIATE, MetricKind.SCALAR, float(step), float(value), ended)
                for step, value in sorted(trial.intermediate_values.items())
            ]
            if state == "COMPLETE" and trial.values is not None:
                rows += [
                    (name, MetricKind.SCALAR, None, float(value), ended)
                    for name, value in zip(self._names, trial.values, strict=False)
                ]
            if rows:
                store.write({child_id: Batch(metrics=rows)})
            progress["metrics"] = True
        error = None
        if status == st.FAILED:
            reason = (trial.system_attrs or {}).get("fail_reason")
            error = {"message": str(reason or f"trial {trial.number} failed"), "traceback": None}
        store.update_run(child_id, status=status, ended=ended, error=error)
        del self._progress[trial.number]
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
        """Write every trial queued so far, waiting up to ``timeout`` seconds while the
        store is unreachable. Returns whether everything was written."""
        return self.run.flush(timeout)

    def complete(self) -> None:
        """Write what is left and mark the sweep run Completed."""
        self.flush(END_TIMEOUT)
        self.run.complete()

    def fail(self, error: BaseException | str | None = None) -> None:
        """Write what is left and mark the sweep run Failed."""
        self.flush(END_TIMEOUT)
        self.run.fail(error)

    def __enter__(self) -> RunwidgetCallback:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.flush(END_TIMEOUT)
        self.run.__exit__(exc_type, exc, tb)

    def __repr__(self) -> str:
        return f"RunwidgetCallback(run={self.run.id!r})"
