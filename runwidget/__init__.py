"""runwidget: live run monitoring for Jupyter."""

from importlib.metadata import PackageNotFoundError, version

from runwidget.automl import AutoMLConfig
from runwidget.compute import ComputeTarget, ComputeTargetError, RayCompute
from runwidget.errors import (
    ExperimentNotFoundError,
    InvalidValueError,
    RunFailedError,
    RunFinishedError,
    RunNotFoundError,
    RunwidgetError,
    RunwidgetWarning,
    SchemaVersionError,
    StoreError,
    StoreUnavailableError,
)
from runwidget.execution import ScriptRunConfig
from runwidget.execution.environment import Environment
from runwidget.tracking import Experiment, Run, Workspace
from runwidget.widgets import RunDetails

try:
    __version__ = version("runwidget")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "AutoMLConfig",
    "ComputeTarget",
    "ComputeTargetError",
    "Environment",
    "Experiment",
    "ExperimentNotFoundError",
    "InvalidValueError",
    "RayCompute",
    "Run",
    "RunDetails",
    "RunFailedError",
    "RunFinishedError",
    "RunNotFoundError",
    "RunwidgetError",
    "RunwidgetWarning",
    "SchemaVersionError",
    "ScriptRunConfig",
    "StoreError",
    "StoreUnavailableError",
    "Workspace",
    "__version__",
]
