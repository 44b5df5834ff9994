"""Follow a LightGBM training live: each evaluation set's metrics per boosting round.

::

    import lightgbm as lgb
    from runwidget import RunDetails
    from runwidget.integrations.lightgbm import RunwidgetCallback

    callback = RunwidgetCallback()
    RunDetails(callback.run).show()
    lgb.train(params, train_set, num_boost_round=100, valid_sets=[train_set, valid_set],
              valid_names=["train", "valid"], callbacks=[callback])

After each round the callback logs every metric of every validation set as
``<set>-<metric>`` (``train-l2``, ``valid-binary_logloss``) with the round as step
(``lgb.cv`` logs the mean across folds, and ``<set>-<metric>-std``). The training
parameters become properties at the first round. The run is found and ended as every
integration's (``runwidget.integrations``): Completed after the last round, Failed with the
traceback on an exception, Canceled on a keyboard interrupt. LightGBM does not tell its
callbacks when early stopping ends a training sooner: such a run is Completed when the
notebook cell ends, at the interpreter's exit, or at the end of ``with callback:``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runwidget._imports import import_optional
from runwidget.integrations._training import (
    TrainingRun,
    TrainingRunOwner,
    bad_flag,
    properties_of,
)

if TYPE_CHECKING:
    from runwidget.tracking.experiment import Experiment
    from runwidget.tracking.run import Run

__all__ = ["RunwidgetCallback"]

_lgb = import_optional("lightgbm", extra="lightgbm", feature="runwidget's LightGBM callback")


class RunwidgetCallback(TrainingRunOwner):
    """A LightGBM callback (``callbacks=[RunwidgetCallback()]``) that logs each round to a
    runwidget run.

    Args:
        run: log to this run (its owner ends it). Default: ``Run.get_context()`` inside a
            submitted script, else a new run in the experiment ``lightgbm``.
        experiment: where to create the run instead: an ``Experiment`` or its name.
        display_name: the created run's display name.
        log_parameters: record the training parameters as properties.

    Attributes:
        run: the run this callback logs to (created on first use).

    Raises:
        InvalidValueError: an argument of the wrong type.
        MissingDependencyError: lightgbm is not installed.
    """

    # After LightGBM's own log_evaluation (10) and record_evaluation (20), before
    # early_stopping (30), which raises to stop: the last round is logged first.
    order = 25
    before_iteration = False

    def __init__(
        self,
        run: Run | None = None,
        *,
        experiment: Experiment | str | None = None,
        display_name: str | None = None,
        log_parameters: bool = True,
    ) -> None:
        if not isinstance(log_parameters, bool):
            raise bad_flag("RunwidgetCallback", "log_parameters", log_parameters)
        self._training = TrainingRun("lightgbm", run, experiment, display_name)
        self._log_parameters = log_parameters
        self._started = False

    def __call__(self, env: Any) -> None:
        training = self._training
        if not self._started:
            self._started = True
            training.started()
            training.quiet_end = True  # early stopping ends a training without a word
            if self._log_parameters:
                training.guard(
                    "record the parameters",
                    lambda: training.add_properties(properties_of(dict(env.params or {}))),
                )
        training.guard("log a round", lambda: self._log(env))
        if env.iteration + 1 >= env.end_iteration:
            training.end(None)

    def _log(self, env: Any) -> None:
        metrics: dict[str, Any] = {}
        for result in env.evaluation_result_list or ():
            data, metric, value = result[0], result[1], result[2]
            name = f"{data}-{metric}".replace(" ", "-")
            metrics[name] = value
            if len(result) > 4 and result[4] is not None:  # lgb.cv: the folds' deviation
                metrics[f"{name}-std"] = result[4]
        self._training.log_metrics(metrics, float(env.iteration))
