"""Follow a Hugging Face ``Trainer`` live.

::

    from transformers import Trainer
    from runwidget import RunDetails
    from runwidget.integrations.transformers import RunwidgetCallback

    callback = RunwidgetCallback()
    trainer = Trainer(model=model, args=args, train_dataset=train, eval_dataset=valid,
                      callbacks=[callback])
    RunDetails(callback.run).show()
    trainer.train()

What the trainer logs (every ``logging_steps``, and each evaluation) is logged with
``state.global_step`` as step, under the names Transformers' own integrations use: ``eval/``
for evaluation metrics (``eval_loss`` → ``eval/loss``), ``test/`` for ``test_`` ones and
``train/`` for the rest (``train/loss``, ``train/learning_rate``, ``train/grad_norm``). The
``TrainingArguments`` become properties ``args.<name>`` and the model's configuration
``config.<name>`` when training starts. The run ends with ``trainer.train()``: Completed,
Failed with the traceback, Canceled on a keyboard interrupt (inside ``with callback:`` at the
block's end instead, so that a ``trainer.evaluate()`` after training reaches the run too).
Under distributed training only the main process (``state.is_world_process_zero``) logs.

``trainer.hyperparameter_search(...)`` makes the run a sweep: each trial is a child run with
its hyperparameters as properties, its own metrics and its ``objective``; the sweep run keeps
``best_objective`` and ends with the search.
"""

from __future__ import annotations

import functools
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any

from runwidget._imports import import_optional
from runwidget.integrations._training import (
    TrainingRun,
    TrainingRunOwner,
    bad_flag,
    end_run,
    properties_of,
    to_float,
)

if TYPE_CHECKING:
    from runwidget.tracking.experiment import Experiment
    from runwidget.tracking.run import Run

__all__ = ["RunwidgetCallback", "metric_name"]

_transformers = import_optional(
    "transformers", extra="transformers", feature="runwidget's Transformers callback"
)
# How far up the stack the Trainer that calls the callback is looked for.
_MAX_FRAMES = 8


def metric_name(key: str) -> str:
    """The name a key of the trainer's logs is logged under (``eval_loss`` → ``eval/loss``)."""
    for prefix in ("eval", "test"):
        if key.startswith(f"{prefix}_"):
            return f"{prefix}/{key[len(prefix) + 1 :]}"
    return f"train/{key}"


# Transformers' class, imported when this module is: typed as Any.
_TrainerCallback: Any = _transformers.TrainerCallback


class RunwidgetCallback(TrainingRunOwner, _TrainerCallback):
    """A ``transformers.TrainerCallback`` that logs a ``Trainer``'s training to a runwidget run.

    Args:
        run: log to this run (its owner ends it). Default: ``Run.get_context()`` inside a
            submitted script, else a new run in the experiment ``transformers``.
        experiment: where to create the run instead: an ``Experiment`` or its name.
        display_name: the created run's display name.
        log_config: record the ``TrainingArguments`` and the model's configuration as
            properties.

    Attributes:
        run: the run this callback logs to (created on first use).

    Raises:
        InvalidValueError: an argument of the wrong type.
        MissingDependencyError: transformers is not installed.
    """

    def __init__(
        self,
        run: Run | None = None,
        *,
        experiment: Experiment | str | None = None,
        display_name: str | None = None,
        log_config: bool = True,
    ) -> None:
        if not isinstance(log_config, bool):
            raise bad_flag("RunwidgetCallback", "log_config", log_config)
        self._training = TrainingRun("transformers", run, experiment, display_name)
        self._log_config = log_config
        self._trainer: Any = None
        self._searching = False
        self._trial: Run | None = None  # the child run of the trial under way
        self._trials = 0
        self._trial_eval: dict[str, Any] = {}
        self._main = True

    # -- finding the trainer, so that its end (an exception too) ends the run -------------------
    def _attach(self) -> None:
        """Wrap ``train`` and ``hyperparameter_search`` of the Trainer calling this callback.

        A TrainerCallback hears of a normal end only; the wrappers see exceptions too."""
        if self._trainer is not None:
            return
        frame: FrameType | None = sys._getframe(1)  # noqa: SLF001 - the caller's frame, as the stdlib offers it
        for _ in range(_MAX_FRAMES):
            if frame is None:
                return
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, _transformers.Trainer):
                break
            frame = frame.f_back
        else:
            return
        self._trainer = candidate
        train, search = candidate.train, candidate.hyperparameter_search

        @functools.wraps(train)
        def wrapped_train(*args: Any, **kwargs: Any) -> Any:
            try:
                result = train(*args, **kwargs)
            except BaseException as e:
                self._train_ended(e)
                raise
            self._train_ended(None)
            return result

        @functools.wraps(search)
        def wrapped_search(*args: Any, **kwargs: Any) -> Any:
            self._start_search(kwargs.get("direction", "minimize"))
            try:
                best = search(*args, **kwargs)
            except BaseException as e:
                self._search_ended(None, e)
                raise
            finally:
                self._searching = False
            self._search_ended(best, None)
            return best

        candidate.train = wrapped_train
        candidate.hyperparameter_search = wrapped_search

    def _train_ended(self, error: BaseException | None) -> None:
        if not self._main:
            return
        if self._searching:
            if error is not None:
                self._close_trial(error)
            return
        self._training.end(error)

    def _start_search(self, direction: Any) -> None:
        self._searching = True
        training = self._training
        if training.found is None:
            training.run_type = "sweep"
        goal = direction if isinstance(direction, str) else None  # one objective
        training.guard(
            "describe the search",
            lambda: training.add_properties(
                {"primary_metric": "objective", **({"goal": goal} if goal else {})}
            ),
        )

    def _search_ended(self, best: Any, error: BaseException | None) -> None:
        if not self._main:
            return
        self._close_trial(error)
        if best is not None:
            training = self._training
            training.guard(
                "record the best trial",
                lambda: training.log_metrics({"best_objective": best.objective}, None),
            )
        self._training.end(error)

    # -- the trainer's events ------------------------------------------------------------------
    def on_init_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._attach()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._attach()
        self._main = bool(state.is_world_process_zero)
        if not self._main:
            return
        training = self._training
        training.started()
        if self._log_config:
            model = kwargs.get("model")
            training.guard("record the arguments", lambda: self._record_config(args, model))
        if self._searching or state.is_hyper_param_search:
            training.guard("start a trial", lambda: self._open_trial(state))

    def _record_config(self, args: Any, model: Any) -> None:
        properties = properties_of(args.to_dict(), "args.")
        config = getattr(model, "config", None)
        if config is not None and hasattr(config, "to_dict"):
            properties.update(properties_of(config.to_dict(), "config."))
        if self._searching:  # each trial has arguments of its own: its child run keeps them
            properties = {k: v for k, v in properties.items() if k.startswith("config.")}
        self._training.add_properties(properties)

    def _open_trial(self, state: Any) -> None:
        self._close_trial(None)
        parent = self._training.run
        params = dict(state.trial_params or {})
        name = state.trial_name or f"trial {self._trials}"
        self._trial = parent.child_run(name=str(name))
        self._trial.add_properties({"iteration": self._trials, **properties_of(params)})
        self._trials += 1
        self._trial_eval = {}

    def _close_trial(self, error: BaseException | None) -> None:
        trial, self._trial = self._trial, None
        if trial is None:
            return

        def close() -> None:
            compute = getattr(self._trainer, "compute_objective", None)
            if error is None and self._trial_eval and compute is not None:
                objective = to_float(compute(dict(self._trial_eval)))
                if objective is not None:
                    trial.log("objective", objective)
            end_run(trial, error)

        self._training.guard("end a trial", close)

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        metrics = kwargs.get("metrics")
        if self._trial is not None and metrics:
            self._trial_eval = dict(metrics)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        step = float(state.global_step)
        named = {metric_name(k): v for k, v in logs.items()}
        trial = self._trial
        self._training.guard("log metrics", lambda: self._training.log_metrics(named, step, trial))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # A trainer found by _attach ends the run as train() returns; this is for one that
        # was not (a callback added after the trainer was made, from too deep a stack).
        if self._trainer is None and state.is_world_process_zero and not self._searching:
            self._training.end(None)
