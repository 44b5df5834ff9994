"""Parameter expressions of a sweep's space, with the reference SDK's names.

``choice(0.1, 0.3)``, ``uniform(0, 1)``, ``loguniform(-6, -1)`` (the logarithm of the value
is uniform between the bounds, as in the reference), ``quniform(1, 10, 1)``,
``normal(0, 1)`` and ``randint(10)`` (an integer in ``[0, 10)``). Each expression knows how
to draw its value through an Optuna trial and, for the discrete ones, its grid. Expressions
travel to the sweep's driver as plain JSON (``to_spec`` / ``from_spec``).
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Mapping
from statistics import NormalDist
from typing import Any

from runwidget.errors import InvalidValueError

_SCALARS = (str, int, float, bool)


def _number(value: Any, what: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        raise InvalidValueError(f"{what} must be a finite number, got {value!r:.80}")
    return float(value)


class ParameterExpression:
    """One hyperparameter's distribution. Subclasses set ``kind`` and ``discrete``."""

    kind: str = ""
    discrete: bool = False

    def __init__(self, *args: Any) -> None:
        self.args: tuple[Any, ...] = args

    def suggest(self, trial: Any, name: str) -> Any:
        """Draw the value through an Optuna trial."""
        raise NotImplementedError

    def grid(self) -> list[Any]:
        """Every value, for a grid sweep (discrete expressions only)."""
        raise InvalidValueError(
            f"{self!r} is a continuous range; a grid sweep takes only choice(...) and "
            "randint(...) parameters"
        )

    def to_spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "args": list(self.args)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParameterExpression) and other.to_spec() == self.to_spec()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        return f"{self.kind}({', '.join(repr(a) for a in self.args)})"


class _Choice(ParameterExpression):
    kind = "choice"
    discrete = True

    def __init__(self, *options: Any) -> None:
        if len(options) == 1 and not isinstance(options[0], _SCALARS):
            with contextlib.suppress(TypeError):
                options = tuple(options[0])  # choice([1, 2, 3]) or choice(range(3))
        if not options:
            raise InvalidValueError("choice() needs at least one option, such as choice(0.1, 0.3)")
        for option in options:
            if not isinstance(option, _SCALARS) and option is not None:
                raise InvalidValueError(
                    f"choice options must be strings, numbers or booleans, got "
                    f"{type(option).__name__}: {option!r:.80}"
                )
        if len(set(map(repr, options))) != len(options):
            raise InvalidValueError(f"choice options must differ, got {list(options)!r:.200}")
        super().__init__(*options)

    def suggest(self, trial: Any, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.args))

    def grid(self) -> list[Any]:
        return list(self.args)


class _Uniform(ParameterExpression):
    kind = "uniform"

    def __init__(self, min_value: Any, max_value: Any) -> None:
        low = _number(min_value, "uniform's min_value")
        high = _number(max_value, "uniform's max_value")
        if low >= high:
            raise InvalidValueError(
                f"{self.kind}'s min_value ({min_value}) must be below max_value ({max_value})"
            )
        super().__init__(low, high)

    def suggest(self, trial: Any, name: str) -> Any:
        return trial.suggest_float(name, self.args[0], self.args[1])


class _LogUniform(_Uniform):
    kind = "loguniform"

    def suggest(self, trial: Any, name: str) -> Any:
        return trial.suggest_float(name, math.exp(self.args[0]), math.exp(self.args[1]), log=True)


class _QUniform(ParameterExpression):
    kind = "quniform"

    def __init__(self, min_value: Any, max_value: Any, q: Any) -> None:
        low = _number(min_value, "quniform's min_value")
        high = _number(max_value, "quniform's max_value")
        step = _number(q, "quniform's q")
        if step <= 0:
            raise InvalidValueError(f"quniform's q must be positive, got {q!r}")
        if low >= high:
            raise InvalidValueError(
                f"quniform's min_value ({min_value}) must be below max_value ({max_value})"
            )
        super().__init__(low, high, step)

    def suggest(self, trial: Any, name: str) -> Any:
        low, high, q = self.args
        value = round(trial.suggest_float(name, low, high) / q) * q
        return int(value) if float(q).is_integer() else value


class _Normal(ParameterExpression):
    kind = "normal"

    def __init__(self, mu: Any, sigma: Any) -> None:
        mean = _number(mu, "normal's mu")
        spread = _number(sigma, "normal's sigma")
        if spread <= 0:
            raise InvalidValueError(f"normal's sigma must be positive, got {sigma!r}")
        super().__init__(mean, spread)

    def suggest(self, trial: Any, name: str) -> Any:
        # The sampler draws a quantile; the value is the normal distribution's at it.
        quantile = trial.suggest_float(name, 1e-9, 1 - 1e-9)
        return NormalDist(self.args[0], self.args[1]).inv_cdf(quantile)


class _RandInt(ParameterExpression):
    kind = "randint"
    discrete = True

    def __init__(self, upper: Any) -> None:
        if not isinstance(upper, numbers.Integral) or isinstance(upper, bool) or upper < 1:
            raise InvalidValueError(f"randint's upper must be a positive integer, got {upper!r}")
        super().__init__(int(upper))

    def suggest(self, trial: Any, name: str) -> Any:
        return trial.suggest_int(name, 0, self.args[0] - 1)

    def grid(self) -> list[Any]:
        return list(range(self.args[0]))


_KINDS: dict[str, type[ParameterExpression]] = {
    c.kind: c for c in (_Choice, _Uniform, _LogUniform, _QUniform, _Normal, _RandInt)
}


def choice(*options: Any) -> ParameterExpression:
    """One of the options: ``choice(0.1, 0.3, 1.0)`` or ``choice([16, 32, 64])``."""
    return _Choice(*options)


def uniform(min_value: float, max_value: float) -> ParameterExpression:
    """A value uniformly between ``min_value`` and ``max_value``."""
    return _Uniform(min_value, max_value)


def loguniform(min_value: float, max_value: float) -> ParameterExpression:
    """``exp(uniform(min_value, max_value))``: the value's logarithm is uniform."""
    return _LogUniform(min_value, max_value)


def quniform(min_value: float, max_value: float, q: float) -> ParameterExpression:
    """``round(uniform(min_value, max_value) / q) * q``."""
    return _QUniform(min_value, max_value, q)


def normal(mu: float, sigma: float) -> ParameterExpression:
    """A value from the normal distribution of mean ``mu`` and deviation ``sigma``."""
    return _Normal(mu, sigma)


def randint(upper: int) -> ParameterExpression:
    """An integer in ``[0, upper)``."""
    return _RandInt(upper)


def check_space(space: Any) -> dict[str, ParameterExpression]:
    """The parameter space, checked: argument names to expressions.

    Raises:
        InvalidValueError: not a dict, empty, a bad name or a value that is no expression.
    """
    if not isinstance(space, Mapping):
        raise InvalidValueError(
            f"the parameter space must be a dict of argument name to expression, such as "
            f"{{'--alpha': uniform(0, 1)}}; got {type(space).__name__}: {space!r:.80}"
        )
    if not space:
        raise InvalidValueError(
            "the parameter space is empty; give at least one parameter, such as "
            "{'--alpha': uniform(0, 1)}"
        )
    out: dict[str, ParameterExpression] = {}
    names: set[str] = set()
    for name, expression in space.items():
        if (
            not isinstance(name, str)
            or not name.strip("-").strip()
            or any(c.isspace() for c in name)
        ):
            raise InvalidValueError(
                f"parameter name {name!r} must be an argument name without spaces, such as "
                "'--alpha' or 'alpha'"
            )
        if not isinstance(expression, ParameterExpression):
            raise InvalidValueError(
                f"parameter {name!r} must be an expression of runwidget.hyperdrive (choice, "
                f"uniform, loguniform, quniform, normal, randint), got "
                f"{type(expression).__name__}: {expression!r:.80}"
            )
        if display_name(name) in names:
            raise InvalidValueError(f"parameter {name!r} is given twice (with and without '--')")
        names.add(display_name(name))
        out[name] = expression
    return out


def display_name(name: str) -> str:
    """The parameter's name without its leading dashes: ``--alpha`` -> ``alpha``."""
    return name.lstrip("-")


def argument_flag(name: str) -> str:
    """The command-line flag of a parameter: ``alpha`` and ``--alpha`` -> ``--alpha``."""
    return name if name.startswith("-") else f"--{name}"


def to_spec(space: Mapping[str, ParameterExpression]) -> dict[str, Any]:
    return {name: expression.to_spec() for name, expression in space.items()}


def from_spec(spec: Mapping[str, Any]) -> dict[str, ParameterExpression]:
    return {name: _KINDS[item["kind"]](*item["args"]) for name, item in spec.items()}
