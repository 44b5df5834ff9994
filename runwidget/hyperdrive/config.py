"""``HyperDriveConfig``: a sweep of a ``ScriptRunConfig`` over a parameter space."""

from __future__ import annotations

import enum
import math
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runwidget.errors import InvalidValueError
from runwidget.hyperdrive.policy import (
    EarlyTerminationPolicy,
    NoTerminationPolicy,
    check_policy,
)
from runwidget.hyperdrive.sampling import HyperParameterSampling, check_sampling

if TYPE_CHECKING:
    from runwidget.hyperdrive.run import HyperDriveRun
    from runwidget.tracking.experiment import Experiment


class PrimaryMetricGoal(str, enum.Enum):
    """Whether the sweep looks for the highest or the lowest primary metric."""

    MAXIMIZE = "MAXIMIZE"
    MINIMIZE = "MINIMIZE"

    @property
    def goal(self) -> str:
        """The goal as the sweep view reads it: ``maximize`` or ``minimize``."""
        return self.value.lower()


def check_goal(value: Any) -> PrimaryMetricGoal:
    if isinstance(value, PrimaryMetricGoal):
        return value
    if isinstance(value, str) and value.strip().upper() in PrimaryMetricGoal.__members__:
        return PrimaryMetricGoal[value.strip().upper()]
    raise InvalidValueError(
        f"primary_metric_goal must be PrimaryMetricGoal.MAXIMIZE or PrimaryMetricGoal.MINIMIZE "
        f"(or 'maximize' / 'minimize'), got {value!r:.80}"
    )


def _positive_int(value: Any, what: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise InvalidValueError(f"{what} must be an integer of at least 1, got {value!r:.80}")
    return int(value)


class HyperDriveConfig:
    """A hyperparameter sweep of a script: ``experiment.submit(HyperDriveConfig(...))``.

    Each child run is ``run_config``'s script with the sampled values appended to its
    arguments (``--alpha 0.3``), on ``run_config``'s compute target, ``max_concurrent_runs``
    at a time, until ``max_total_runs`` children (or the whole grid) have run or
    ``max_duration_minutes`` have passed. The children log ``primary_metric_name`` with
    ``run.log``; ``policy`` stops the poor ones early.

    Raises:
        InvalidValueError: any bad argument (named, with what is accepted).
    """

    def __init__(
        self,
        run_config: Any,
        hyperparameter_sampling: HyperParameterSampling,
        primary_metric_name: str,
        primary_metric_goal: PrimaryMetricGoal | str,
        max_total_runs: int,
        max_concurrent_runs: int | None = None,
        max_duration_minutes: float | None = None,
        policy: EarlyTerminationPolicy | None = None,
    ) -> None:
        from runwidget.execution.config import ScriptRunConfig

        if not isinstance(run_config, ScriptRunConfig) or type(run_config).run_type != "script":
            raise InvalidValueError(
                "run_config must be a ScriptRunConfig (the script each child runs), got "
                f"{type(run_config).__name__}: {run_config!r:.80}"
            )
        self.run_config = run_config
        self.hyperparameter_sampling = check_sampling(hyperparameter_sampling)
        if not isinstance(primary_metric_name, str) or not primary_metric_name.strip():
            raise InvalidValueError(
                "primary_metric_name must name the metric the children log with run.log, "
                f"such as 'mse'; got {primary_metric_name!r:.80}"
            )
        self.primary_metric_name = primary_metric_name
        self.primary_metric_goal = check_goal(primary_metric_goal)
        self.max_total_runs = _positive_int(max_total_runs, "max_total_runs")
        if max_concurrent_runs is None:
            max_concurrent_runs = self.max_total_runs
        self.max_concurrent_runs = _positive_int(max_concurrent_runs, "max_concurrent_runs")
        if max_duration_minutes is not None and (
            not isinstance(max_duration_minutes, numbers.Real)
            or isinstance(max_duration_minutes, bool)
            or not math.isfinite(max_duration_minutes)
            or max_duration_minutes <= 0
        ):
            raise InvalidValueError(
                f"max_duration_minutes must be a positive number or None, got "
                f"{max_duration_minutes!r:.80}"
            )
        self.max_duration_minutes = max_duration_minutes
        self.policy = check_policy(policy)

    @property
    def total_runs(self) -> int:
        """How many children the sweep starts at most: a grid has no more than its size."""
        size = self.hyperparameter_sampling.size()
        return int(min(self.max_total_runs, size))

    def settings(self) -> dict[str, Any]:
        """What the sweep's driver needs, as JSON."""
        return {
            "sampling": self.hyperparameter_sampling.to_spec(),
            "policy": self.policy.to_spec(),
            "primary_metric": self.primary_metric_name,
            "goal": self.primary_metric_goal.goal,
            "max_total_runs": self.total_runs,
            "max_concurrent_runs": min(self.max_concurrent_runs, self.total_runs),
            "max_duration_minutes": self.max_duration_minutes,
        }

    def sweep_properties(self) -> dict[str, Any]:
        """The sweep run's properties: ``primary_metric`` and ``goal`` are the sweep view's."""
        return {
            "primary_metric": self.primary_metric_name,
            "goal": self.primary_metric_goal.goal,
            "sampling": type(self.hyperparameter_sampling).__name__,
            "policy": None if isinstance(self.policy, NoTerminationPolicy) else repr(self.policy),
            "max_total_runs": self.total_runs,
            "max_concurrent_runs": self.max_concurrent_runs,
            "max_duration_minutes": self.max_duration_minutes,
            "script": self.run_config.script,
        }

    def submit_to(
        self, experiment: Experiment, tags: Mapping[str, Any] | None = None
    ) -> HyperDriveRun:
        from runwidget.hyperdrive.launch import submit_sweep

        return submit_sweep(self, experiment, tags)

    def __repr__(self) -> str:
        return (
            f"HyperDriveConfig(run_config={self.run_config!r}, "
            f"hyperparameter_sampling={self.hyperparameter_sampling!r}, "
            f"primary_metric_name={self.primary_metric_name!r}, "
            f"primary_metric_goal={self.primary_metric_goal}, "
            f"max_total_runs={self.max_total_runs}, max_concurrent_runs={self.max_concurrent_runs})"
        )
