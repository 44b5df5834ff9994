"""Optional dependencies: imported when a feature needs them, with an install hint if absent."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

# Module name -> the package that provides it (as pip knows it).
_PACKAGES = {"sklearn": "scikit-learn", "optuna": "optuna", "mlflow": "mlflow"}


class MissingDependencyError(ImportError):
    """An optional dependency that a feature needs is not installed."""


def _message(modules: tuple[str, ...], extra: str, feature: str) -> str:
    names = " and ".join(_PACKAGES.get(m, m) for m in modules)
    return f"{feature} needs {names}: pip install 'runwidget[{extra}]'"


def require(*modules: str, extra: str, feature: str) -> None:
    """Check, without importing them, that ``modules`` are installed.

    Raises:
        MissingDependencyError: one is missing; the message says what to install.
    """
    missing = tuple(m for m in modules if importlib.util.find_spec(m) is None)
    if missing:
        raise MissingDependencyError(_message(missing, extra, feature))


def import_optional(module: str, *, extra: str, feature: str) -> ModuleType:
    """Import ``module``.

    Raises:
        MissingDependencyError: it is not installed; the message says what to install.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is None or e.name.split(".")[0] != module.split(".")[0]:
            raise  # the module is there but something it imports is not: show that error
        raise MissingDependencyError(_message((module.split(".")[0],), extra, feature)) from e
