"""``AutoMLConfig``: what an AutoML search tries, on what data, for how long; checked at once."""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from runwidget._imports import require
from runwidget.automl import catalog
from runwidget.errors import InvalidValueError

if TYPE_CHECKING:
    import pandas as pd

    from runwidget.automl.data import DataSummary
    from runwidget.tracking.experiment import Experiment
    from runwidget.tracking.run import Run

MAX_ITERATIONS = 10_000
# Without n_cross_validations or validation_size, the reference SDK's rule: 10 folds below
# 1,000 rows, 3 folds below 20,000, else a 10 % validation split.
_FEW_ROWS = 1_000
_MANY_ROWS = 20_000


class AutoMLConfig:
    """An AutoML search: scikit-learn pipelines chosen and tuned by Optuna's TPE sampler.

    ``experiment.submit(AutoMLConfig(...))`` returns the search's run (type ``automl``) at
    once; the search runs in a background process, each iteration a child run, and
    ``run.get_output()`` gives the best child run and its fitted model. Each pipeline
    imputes missing values, scales numeric columns (its *preprocessor*) and one-hot encodes
    categorical ones, then fits one of the task's algorithms (``catalog.ALGORITHMS``).

    Args:
        task: ``"classification"`` or ``"regression"``.
        primary_metric: the metric the search optimises (``catalog.PRIMARY_METRICS``;
            default ``accuracy`` / ``r2_score``). Its goal (maximize or minimize) follows.
        training_data: a pandas DataFrame with the features and the label.
        label_column_name: the column of ``training_data`` to predict.
        iterations: how many pipelines to try (1 to 10,000).
        experiment_timeout_minutes: stop the search after this long (an iteration still
            running then is stopped and recorded Canceled).
        iteration_timeout_minutes: stop an iteration that runs longer (recorded Failed).
        n_cross_validations: score each pipeline by k-fold cross-validation (k >= 2).
        validation_size: or score it on this fraction of the rows, held out (0 < v < 1).
            With neither: 10 folds below 1,000 rows, 3 folds below 20,000, else 10 %.
        allowed_models: try only these algorithms.
        blocked_models: never try these algorithms.
        random_state: seed of the sampler and the data splits (a random one is drawn and
            recorded when None), so a search can be repeated.
        max_cores_per_iteration: threads one iteration may use; -1 for all cores.
        compute_target: where the search runs: ``"local"`` (default) or an attached target
            (``ComputeTarget.attach``); on a Ray target the search is a Ray job and each
            iteration a Ray task.
        max_concurrent_iterations: on a Ray target, how many iterations run at once (each a
            task holding ``max_cores_per_iteration`` CPUs); a local search runs one at a time.

    Raises:
        InvalidValueError: an argument is not accepted; the message names it and lists what
            is (a wrong metric lists the task's metrics; bad data, such as a missing label
            column, an empty frame or a regression target for classification, is named).
        MissingDependencyError: scikit-learn or optuna is not installed.
    """

    def __init__(
        self,
        task: str,
        primary_metric: str | None = None,
        training_data: pd.DataFrame | None = None,
        label_column_name: str | None = None,
        iterations: int = 100,
        experiment_timeout_minutes: float | None = None,
        iteration_timeout_minutes: float | None = None,
        n_cross_validations: int | None = None,
        validation_size: float | None = None,
        allowed_models: Iterable[str] | None = None,
        blocked_models: Iterable[str] | None = None,
        random_state: int | None = None,
        max_cores_per_iteration: int = 1,
        compute_target: Any = None,
        max_concurrent_iterations: int = 1,
    ) -> None:
        require("sklearn", "optuna", extra="automl", feature="AutoML")
        self.task = _check_task(task)
        self.primary_metric = _check_metric(self.task, primary_metric)
        self.iterations = _check_int(iterations, "iterations", 1, MAX_ITERATIONS)
        self.experiment_timeout_minutes = _check_minutes(
            experiment_timeout_minutes, "experiment_timeout_minutes"
        )
        self.iteration_timeout_minutes = _check_minutes(
            iteration_timeout_minutes, "iteration_timeout_minutes"
        )
        if n_cross_validations is not None and validation_size is not None:
            raise InvalidValueError(
                f"give n_cross_validations ({n_cross_validations!r}) or validation_size "
                f"({validation_size!r}), not both"
            )
        self.n_cross_validations = (
            None
            if n_cross_validations is None
            else _check_int(n_cross_validations, "n_cross_validations", 2, 100)
        )
        self.validation_size = _check_fraction(validation_size)
        self.allowed_models = _check_models(self.task, allowed_models, "allowed_models")
        self.blocked_models = _check_models(self.task, blocked_models, "blocked_models")
        self.algorithms = _algorithms(self.task, self.allowed_models, self.blocked_models)
        if random_state is not None:
            random_state = _check_int(random_state, "random_state", 0, 2**32 - 1)
        self.random_state = random_state
        if max_cores_per_iteration != -1:
            max_cores_per_iteration = _check_int(
                max_cores_per_iteration, "max_cores_per_iteration (or -1 for all cores)", 1, 4096
            )
        self.max_cores_per_iteration = max_cores_per_iteration
        from runwidget.execution.config import _check_target

        self.compute_target = _check_target(compute_target)
        self.max_concurrent_iterations = _check_int(
            max_concurrent_iterations, "max_concurrent_iterations", 1, 1024
        )
        if label_column_name is None or not isinstance(label_column_name, str):
            raise InvalidValueError(
                "label_column_name must name the column of training_data to predict, got "
                f"{type(label_column_name).__name__}: {label_column_name!r:.80}"
            )
        self.label_column_name = label_column_name
        self.training_data = training_data
        self._summary = self._check_data()

    @property
    def goal(self) -> str:
        """``maximize`` or ``minimize``: the goal of the primary metric."""
        return catalog.goal_of(self.task, self.primary_metric)

    def _check_data(self) -> DataSummary:
        from runwidget.automl.data import check_training_data  # pandas: imported when needed

        summary = check_training_data(self.training_data, self.label_column_name, self.task)
        validation = self._validation(summary.n_rows)
        summary.check_validation(validation)
        return summary

    def _validation(self, n_rows: int) -> dict[str, Any]:
        """How iterations are scored: ``{"folds": k}`` or ``{"size": fraction}``."""
        if self.n_cross_validations is not None:
            return {"folds": self.n_cross_validations}
        if self.validation_size is not None:
            return {"size": self.validation_size}
        if n_rows < _FEW_ROWS:
            return {"folds": 10}
        if n_rows < _MANY_ROWS:
            return {"folds": 3}
        return {"size": 0.1}

    def settings(self) -> dict[str, Any]:
        """Everything the search process needs besides the data, as JSON-able values.

        Checks the data again: the frame may have changed since the config was made.

        Raises:
            InvalidValueError: the data is no longer accepted.
        """
        summary = self._check_data()
        validation = self._validation(summary.n_rows)
        seed = self.random_state
        if seed is None:
            seed = random.SystemRandom().randrange(2**31)
        return {
            "task": self.task,
            "primary_metric": self.primary_metric,
            "goal": self.goal,
            "label_column_name": self.label_column_name,
            "iterations": self.iterations,
            "experiment_timeout_minutes": self.experiment_timeout_minutes,
            "iteration_timeout_minutes": self.iteration_timeout_minutes,
            "validation": validation,
            "algorithms": list(self.algorithms),
            "random_state": seed,
            "max_cores_per_iteration": self.max_cores_per_iteration,
            "max_concurrent_iterations": self.max_concurrent_iterations,
            "numeric_columns": summary.numeric_columns,
            "categorical_columns": summary.categorical_columns,
            "n_rows": summary.n_rows,
            "n_classes": summary.n_classes,
            "min_train_rows": summary.min_train_rows(validation),
        }

    def submit_to(self, experiment: Experiment, tags: Mapping[str, Any] | None = None) -> Run:
        """Create the AutoML run (Queued) and start its search in a background process.

        Called by ``experiment.submit``.
        """
        from runwidget.automl.launch import submit_search

        return submit_search(self, experiment, tags)

    def __repr__(self) -> str:
        data = self.training_data
        shape = "None" if data is None else f"{data.shape[0]}x{data.shape[1]} DataFrame"
        return (
            f"AutoMLConfig(task={self.task!r}, primary_metric={self.primary_metric!r}, "
            f"training_data=<{shape}>, label_column_name={self.label_column_name!r}, "
            f"iterations={self.iterations})"
        )


def describe_validation(validation: Mapping[str, Any]) -> str:
    """``"3-fold cross-validation"`` or ``"20% validation split"``."""
    if "folds" in validation:
        return f"{validation['folds']}-fold cross-validation"
    return f"{validation['size']:.0%} validation split"


# -- checks -------------------------------------------------------------------------------
def _check_task(task: Any) -> str:
    if task not in catalog.TASKS:
        raise InvalidValueError(
            f"task must be one of {', '.join(map(repr, catalog.TASKS))}, got {task!r:.80}"
        )
    checked: str = task
    return checked


def _check_metric(task: str, metric: Any) -> str:
    if metric is None:
        return catalog.DEFAULT_PRIMARY_METRIC[task]
    accepted = catalog.PRIMARY_METRICS[task]
    if metric not in accepted:
        other = next((t for t in catalog.TASKS if t != task and metric in catalog.METRICS[t]), None)
        hint = f" ({metric!r} is a {other} metric)" if other else ""
        if metric == "log_loss":
            hint = " (log_loss is logged, but cannot be optimised: SVM gives no probabilities)"
        raise InvalidValueError(
            f"primary_metric {metric!r:.80} is not accepted for {task}{hint}; accepted: "
            f"{', '.join(accepted)}"
        )
    checked: str = metric
    return checked


def _check_int(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidValueError(
            f"{what} must be an integer from {low} to {high}, got {type(value).__name__}: "
            f"{value!r:.80}"
        )
    if not low <= int(value) <= high:
        raise InvalidValueError(f"{what} must be from {low} to {high}, got {value!r}")
    return int(value)


def _check_minutes(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidValueError(
            f"{what} must be a number of minutes > 0, or None for no limit, got {value!r:.80}"
        )
    return float(value)


def _check_fraction(value: Any) -> float | None:
    if value is None:
        return None
    # typeshed's numbers.Real lacks the reflected comparisons that ``0 < value`` uses.
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < 1:  # type: ignore[operator]
        raise InvalidValueError(
            "validation_size must be the fraction of rows held out for scoring, between 0 "
            f"and 1 (e.g. 0.2), got {value!r:.80}"
        )
    return float(value)


def _check_models(task: str, names: Any, what: str) -> tuple[str, ...] | None:
    if names is None:
        return None
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise InvalidValueError(
            f"{what} must be a list of algorithm names, got {type(names).__name__}: {names!r:.80}"
        )
    accepted = catalog.ALGORITHMS[task]
    by_lower = {name.lower(): name for name in accepted}
    out: list[str] = []
    for name in names:
        canonical = by_lower.get(name.lower()) if isinstance(name, str) else None
        if canonical is None:
            raise InvalidValueError(
                f"{what}: {name!r:.80} is not a {task} algorithm; accepted: {', '.join(accepted)}"
            )
        if canonical not in out:
            out.append(canonical)
    return tuple(out)


def _algorithms(
    task: str, allowed: tuple[str, ...] | None, blocked: tuple[str, ...] | None
) -> tuple[str, ...]:
    chosen = [a for a in (allowed or catalog.ALGORITHMS[task]) if a not in (blocked or ())]
    if not chosen:
        raise InvalidValueError(
            f"no algorithm is left to try: allowed_models={list(allowed or [])!r}, "
            f"blocked_models={list(blocked or [])!r}; {task} algorithms: "
            f"{', '.join(catalog.ALGORITHMS[task])}"
        )
    return tuple(chosen)
