"""Early termination policies: which running child to stop, from the primary metric.

A child's *k-th report* is the k-th value it logged for the primary metric with
``run.log``. A policy looks at a child when it makes a report ``k`` that is an evaluation
point (``k > delay_evaluation`` and ``k`` a multiple of ``evaluation_interval``) and compares
it with every child, running or ended, that made ``k`` reports too. As in the reference:

* ``BanditPolicy``: stop a child whose best value up to ``k`` is not within the slack of the
  best child's at ``k`` (``slack_factor``: a ratio, ``slack_amount``: a distance);
* ``MedianStoppingPolicy``: stop a child whose best value up to ``k`` is worse than the
  median of the children's running averages up to ``k``;
* ``TruncationSelectionPolicy``: stop a child among the worst ``truncation_percentage`` per
  cent at ``k``.

``evaluate`` returns why a child is stopped (its Canceled reason), or None.
"""

from __future__ import annotations

import math
import numbers
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from runwidget.errors import InvalidValueError

Histories = Mapping[str, Sequence[float]]


def _count(value: Any, what: str, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise InvalidValueError(f"{what} must be an integer of at least {minimum}, got {value!r}")
    return int(value)


def _best(values: Sequence[float], goal: str) -> float:
    return max(values) if goal == "maximize" else min(values)


def _fmt(value: float) -> str:
    return f"{value:.6g}"


class EarlyTerminationPolicy:
    """Base class of the policies."""

    kind = ""

    def __init__(self, evaluation_interval: int = 1, delay_evaluation: int = 0) -> None:
        self.evaluation_interval = _count(evaluation_interval, "evaluation_interval", 1)
        self.delay_evaluation = _count(delay_evaluation, "delay_evaluation", 0)

    def is_evaluation_point(self, k: int) -> bool:
        return k > self.delay_evaluation and k % self.evaluation_interval == 0

    def evaluate(
        self, child: str, k: int, histories: Histories, goal: str, finished: frozenset[str]
    ) -> str | None:
        """Why ``child`` stops at its ``k``-th report, or None to let it go on."""
        raise NotImplementedError

    def _settings(self) -> dict[str, Any]:
        return {"evaluation_interval": self.evaluation_interval,
                "delay_evaluation": self.delay_evaluation}  # fmt: skip

    def to_spec(self) -> dict[str, Any]:
        return {"kind": self.kind, **self._settings()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings().items() if v is not None)
        return f"{type(self).__name__}({args})"


class NoTerminationPolicy(EarlyTerminationPolicy):
    """Every child runs to its end (the same as ``policy=None``)."""

    kind = "none"

    def is_evaluation_point(self, k: int) -> bool:
        return False

    def evaluate(
        self, child: str, k: int, histories: Histories, goal: str, finished: frozenset[str]
    ) -> str | None:
        return None


class BanditPolicy(EarlyTerminationPolicy):
    """Stop a child that is not within the slack of the best child.

    Args:
        slack_factor: allowed ratio to the best: with goal maximize a child stops below
            ``best / (1 + slack_factor)``, with minimize above ``best * (1 + slack_factor)``.
        slack_amount: allowed distance to the best instead (give one of the two).
        evaluation_interval: evaluate every this many reports.
        delay_evaluation: skip the first this many reports.
    """

    kind = "bandit"

    def __init__(
        self,
        slack_factor: float | None = None,
        slack_amount: float | None = None,
        evaluation_interval: int = 1,
        delay_evaluation: int = 0,
    ) -> None:
        super().__init__(evaluation_interval, delay_evaluation)
        if (slack_factor is None) == (slack_amount is None):
            raise InvalidValueError(
                "BanditPolicy takes one of slack_factor (a ratio, such as 0.1) and slack_amount "
                f"(a distance); got slack_factor={slack_factor!r}, slack_amount={slack_amount!r}"
            )
        for name, value in (("slack_factor", slack_factor), ("slack_amount", slack_amount)):
            if value is not None and (
                not isinstance(value, numbers.Real)
                or isinstance(value, bool)
                or not math.isfinite(value)
                or value < 0
            ):
                raise InvalidValueError(f"{name} must be a non-negative number, got {value!r}")
        self.slack_factor = None if slack_factor is None else float(slack_factor)
        self.slack_amount = None if slack_amount is None else float(slack_amount)

    def _settings(self) -> dict[str, Any]:
        return {"slack_factor": self.slack_factor, "slack_amount": self.slack_amount,
                **super()._settings()}  # fmt: skip

    def evaluate(
        self, child: str, k: int, histories: Histories, goal: str, finished: frozenset[str]
    ) -> str | None:
        values = {c: _best(h[:k], goal) for c, h in histories.items() if len(h) >= k}
        if child not in values or len(values) < 2:
            return None
        best = _best(list(values.values()), goal)
        mine = values[child]
        if self.slack_factor is not None:
            if goal == "maximize":
                limit, worse = best / (1 + self.slack_factor), mine < best / (1 + self.slack_factor)
            else:
                limit, worse = best * (1 + self.slack_factor), mine > best * (1 + self.slack_factor)
            slack = f"slack_factor {self.slack_factor:g}"
        else:
            assert self.slack_amount is not None
            if goal == "maximize":
                limit, worse = best - self.slack_amount, mine < best - self.slack_amount
            else:
                limit, worse = best + self.slack_amount, mine > best + self.slack_amount
            slack = f"slack_amount {self.slack_amount:g}"
        if not worse:
            return None
        return (
            f"stopped by BanditPolicy at report {k}: its best {_fmt(mine)} is outside the "
            f"{slack} of the best child's {_fmt(best)} (limit {_fmt(limit)})"
        )


class MedianStoppingPolicy(EarlyTerminationPolicy):
    """Stop a child whose best value is worse than the median of the running averages."""

    kind = "median"

    def __init__(self, evaluation_interval: int = 1, delay_evaluation: int = 5) -> None:
        super().__init__(evaluation_interval, delay_evaluation)

    def evaluate(
        self, child: str, k: int, histories: Histories, goal: str, finished: frozenset[str]
    ) -> str | None:
        reached = {c: h[:k] for c, h in histories.items() if len(h) >= k}
        if child not in reached or len(reached) < 2:
            return None
        median = statistics.median(sum(h) / len(h) for h in reached.values())
        mine = _best(reached[child], goal)
        worse = mine < median if goal == "maximize" else mine > median
        if not worse:
            return None
        return (
            f"stopped by MedianStoppingPolicy at report {k}: its best {_fmt(mine)} is worse "
            f"than the median {_fmt(median)} of the running averages of {len(reached)} children"
        )


class TruncationSelectionPolicy(EarlyTerminationPolicy):
    """Stop the worst ``truncation_percentage`` per cent of the children at each evaluation.

    Args:
        truncation_percentage: 1 to 99.
        exclude_finished_jobs: compare only with children still running.
    """

    kind = "truncation"

    def __init__(
        self,
        truncation_percentage: int,
        evaluation_interval: int = 1,
        delay_evaluation: int = 0,
        exclude_finished_jobs: bool = False,
    ) -> None:
        super().__init__(evaluation_interval, delay_evaluation)
        if (
            not isinstance(truncation_percentage, numbers.Real)
            or isinstance(truncation_percentage, bool)
            or not 1 <= truncation_percentage <= 99
        ):
            raise InvalidValueError(
                f"truncation_percentage must be a number from 1 to 99, got "
                f"{truncation_percentage!r}"
            )
        self.truncation_percentage: float = truncation_percentage
        self.exclude_finished_jobs: bool = bool(exclude_finished_jobs)

    def _settings(self) -> dict[str, Any]:
        return {"truncation_percentage": self.truncation_percentage,
                "exclude_finished_jobs": self.exclude_finished_jobs,
                **super()._settings()}  # fmt: skip

    def evaluate(
        self, child: str, k: int, histories: Histories, goal: str, finished: frozenset[str]
    ) -> str | None:
        values = {
            c: _best(h[:k], goal)
            for c, h in histories.items()
            if len(h) >= k and (c == child or not (self.exclude_finished_jobs and c in finished))
        }
        if child not in values:
            return None
        cut = math.floor(len(values) * self.truncation_percentage / 100)
        if cut < 1:
            return None
        mine = values[child]
        if goal == "maximize":
            better = sum(1 for v in values.values() if v > mine)
        else:
            better = sum(1 for v in values.values() if v < mine)
        # Among the worst ``cut``; a tie counts in the child's favour.
        worse = better >= len(values) - cut
        if not worse:
            return None
        return (
            f"stopped by TruncationSelectionPolicy at report {k}: its best {_fmt(mine)} is "
            f"among the worst {self.truncation_percentage:g}% of {len(values)} children"
        )


def check_policy(value: Any) -> EarlyTerminationPolicy:
    if value is None:
        return NoTerminationPolicy()
    if not isinstance(value, EarlyTerminationPolicy):
        raise InvalidValueError(
            "policy must be a BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy, "
            f"NoTerminationPolicy or None, got {type(value).__name__}: {value!r:.80}"
        )
    return value


def from_spec(spec: Mapping[str, Any]) -> EarlyTerminationPolicy:
    args = {k: v for k, v in spec.items() if k != "kind"}
    kinds = {c.kind: c for c in (NoTerminationPolicy, BanditPolicy, MedianStoppingPolicy,
                                 TruncationSelectionPolicy)}  # fmt: skip
    if spec["kind"] == "none":
        return NoTerminationPolicy()
    return kinds[spec["kind"]](**args)
