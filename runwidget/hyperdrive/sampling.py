"""How a sweep draws its parameters: random, grid or Bayesian sampling (Optuna's samplers).

Optuna is imported only by the sweep's driver, when it builds the sampler.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from runwidget.errors import InvalidValueError
from runwidget.hyperdrive.parameters import ParameterExpression, check_space, from_spec, to_spec


class HyperParameterSampling:
    """A parameter space and the way to draw from it. Use one of the subclasses."""

    kind: str = ""

    def __init__(self, parameter_space: Mapping[str, ParameterExpression], seed: Any = None):
        self.parameter_space = check_space(parameter_space)
        if seed is not None and (
            not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0
        ):
            raise InvalidValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)

    def size(self) -> float:
        """How many distinct draws there are (inf for a continuous space)."""
        return math.inf

    def to_spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "space": to_spec(self.parameter_space), "seed": self.seed}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.parameter_space!r})"


class RandomParameterSampling(HyperParameterSampling):
    """Each child's values drawn at random (Optuna's ``RandomSampler``)."""

    kind = "random"


class GridParameterSampling(HyperParameterSampling):
    """Every combination of discrete values, once each (Optuna's ``GridSampler``).

    Raises:
        InvalidValueError: a parameter is a continuous range (uniform, normal...).
    """

    kind = "grid"

    def __init__(self, parameter_space: Mapping[str, ParameterExpression], seed: Any = None):
        super().__init__(parameter_space, seed)
        for name, expression in self.parameter_space.items():
            if not expression.discrete:
                raise InvalidValueError(
                    f"grid sampling takes only choice(...) and randint(...) parameters; "
                    f"{name!r} is {expression!r}, a continuous range"
                )

    def size(self) -> float:
        return math.prod(len(e.grid()) for e in self.parameter_space.values())


class BayesianParameterSampling(HyperParameterSampling):
    """Values chosen from the children so far (Optuna's ``TPESampler``).

    As in the reference, it learns from finished children only: keep
    ``max_concurrent_runs`` small next to ``max_total_runs``.
    """

    kind = "bayesian"


def check_sampling(value: Any) -> HyperParameterSampling:
    if not isinstance(value, HyperParameterSampling):
        raise InvalidValueError(
            "hyperparameter_sampling must be a RandomParameterSampling, GridParameterSampling or "
            f"BayesianParameterSampling, got {type(value).__name__}: {value!r:.80}"
        )
    return value


def make_sampler(spec: Mapping[str, Any]) -> Any:
    """The Optuna sampler of a sampling's spec (imports Optuna)."""
    import optuna

    seed = spec.get("seed")
    if spec["kind"] == "grid":
        space = from_spec(spec["space"])
        return optuna.samplers.GridSampler({n: e.grid() for n, e in space.items()}, seed=seed)
    if spec["kind"] == "bayesian":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)
