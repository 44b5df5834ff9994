"""Follow an XGBoost training live: each evaluation set's metrics per boosting round.

::

    import xgboost as xgb
    from runwidget import RunDetails
    from runwidget.integrations.xgboost import RunwidgetCallback

    callback = RunwidgetCallback()
    RunDetails(callback.run).show()
    xgb.train(params, dtrain, num_boost_round=100, evals=[(dtrain, "train"), (dvalid, "valid")],
              callbacks=[callback])       # or XGBRegressor(callbacks=[callback]).fit(...)

After each round the callback logs every metric of every evaluation set as
``<set>-<metric>`` (XGBoost's own names: ``train-rmse``, ``valid-logloss``) with the round as
step (``xgb.cv`` logs the mean across folds, and ``<set>-<metric>-std``). The booster's
training parameters (objective, eta, max_depth... with XGBoost's defaults filled in) become
properties when training starts, and ``best_iteration`` / ``best_score`` when early stopping
recorded them. The run is found and ended as every integration's (``runwidget.integrations``):
Completed when training ends, Failed with the traceback on an exception, Canceled on a
keyboard interrupt. Under distributed training only the worker of rank 0 logs.
"""

from __future__ import annotations

import json
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

_xgb = import_optional("xgboost", extra="xgboost", feature="runwidget's XGBoost callback")

# The sections of a booster's configuration that hold its training parameters.
_CONFIG_SECTIONS = ("learner_train_param", "gradient_booster")


def _parameters(booster: Any) -> dict[str, Any]:
    """The training parameters of ``booster`` from its saved configuration."""
    learner = json.loads(booster.save_config()).get("learner", {})
    params: dict[str, Any] = {}
    params.update(learner.get("learner_train_param", {}))
    params.update(learner.get("learner_model_param", {}))
    objective = learner.get("objective", {})
    params["objective"] = objective.get("name", params.get("objective"))
    booster_config = learner.get("gradient_booster", {})
    params["booster"] = booster_config.get("name", params.get("booster"))
    for key, value in booster_config.items():
        if key.endswith("_train_param") and isinstance(value, dict):
            params.update(value)
    updater = booster_config.get("updater", {})
    if isinstance(updater, dict):
        for section in updater.values():
            if isinstance(section, dict):
                params.update(section.get("train_param", {}))
    metrics = learner.get("metrics")
    if metrics:
        params["eval_metric"] = ", ".join(m.get("name", "") for m in metrics)
    return properties_of({k: _number(v) for k, v in params.items()})


def _number(value: Any) -> Any:
    """A number XGBoost's configuration holds as text ("0.100000001", "[5E-1]") as a number,
    to the float32 precision it is kept in."""
    if not isinstance(value, str):
        return value
    text = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(f"{float(text):.7g}")
    except ValueError:
        return value


# XGBoost's class, imported when this module is: typed as Any.
_TrainingCallback: Any = _xgb.callback.TrainingCallback


class RunwidgetCallback(TrainingRunOwner, _TrainingCallback):
    """An ``xgboost.callback.TrainingCallback`` that logs each round to a runwidget run.

    Args:
        run: log to this run (its owner ends it). Default: ``Run.get_context()`` inside a
            submitted script, else a new run in the experiment ``xgboost``.
        experiment: where to create the run instead: an ``Experiment`` or its name.
        display_name: the created run's display name.
        log_parameters: record the booster's training parameters as properties.

    Attributes:
        run: the run this callback logs to (created on first use).

    Raises:
        InvalidValueError: an argument of the wrong type.
        MissingDependencyError: xgboost is not installed.
    """

    def __init__(
        self,
        run: Run | None = None,
        *,
        experiment: Experiment | str | None = None,
        display_name: str | None = None,
        log_parameters: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(log_parameters, bool):
            raise bad_flag("RunwidgetCallback", "log_parameters", log_parameters)
        self._training = TrainingRun("xgboost", run, experiment, display_name)
        self._log_parameters = log_parameters

    def _logs(self) -> bool:
        return bool(_xgb.collective.get_rank() == 0)

    def before_training(self, model: Any) -> Any:
        if not self._logs():
            return model
        self._training.started()
        booster = getattr(model, "boosters", None)  # xgb.cv passes its folds
        booster = booster[0] if booster else model
        if self._log_parameters and isinstance(booster, _xgb.Booster):
            self._training.guard(
                "record the parameters",
                lambda: self._training.add_properties(_parameters(booster)),
            )
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
        if self._logs():
            self._training.guard("log a round", lambda: self._log(epoch, evals_log))
        return False

    def _log(self, epoch: int, evals_log: dict[str, Any]) -> None:
        metrics: dict[str, Any] = {}
        for data, by_metric in evals_log.items():
            for metric, values in by_metric.items():
                if not values:
                    continue
                last = values[-1]
                if isinstance(last, tuple):  # xgb.cv: (mean, std)
                    metrics[f"{data}-{metric}"] = last[0]
                    metrics[f"{data}-{metric}-std"] = last[1]
                else:
                    metrics[f"{data}-{metric}"] = last
        self._training.log_metrics(metrics, float(epoch))

    def after_training(self, model: Any) -> Any:
        if not self._logs():
            return model

        def best() -> None:
            attributes = model.attributes() if isinstance(model, _xgb.Booster) else {}
            found = {k: float(attributes[k]) for k in ("best_iteration", "best_score")
                     if k in attributes}  # fmt: skip
            self._training.log_metrics(found, None)

        self._training.guard("record the best round", best)
        self._training.end(None)
        return model
