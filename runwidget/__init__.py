"""runwidget: live run monitoring for Jupyter."""

from runwidget._version import __version__
from runwidget.automl import AutoMLConfig
from runwidget.compute import ComputeTarget, ComputeTargetError, RayCompute
from runwidget.errors import (
    ExperimentNotFoundError,
    InvalidValueError,
    ModelNotFoundError,
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
from runwidget.hyperdrive import HyperDriveConfig, PrimaryMetricGoal
from runwidget.tracking import Experiment, Model, Run, Workspace

VERSION = __version__  # the reference SDK's name (``azureml.core.VERSION``)


def __getattr__(name: str) -> object:
    # The notebook widget (ipywidgets, anywidget, bqplot) loads on first use: a submitted
    # script, its supervisor and the server start faster without it.
    if name == "RunDetails":
        from runwidget.widgets import RunDetails

        globals()["RunDetails"] = RunDetails
        return RunDetails
    raise AttributeError(f"module 'runwidget' has no attribute {name!r}")


__all__ = [
    "AutoMLConfig",
    "ComputeTarget",
    "ComputeTargetError",
    "Environment",
    "Experiment",
    "ExperimentNotFoundError",
    "HyperDriveConfig",
    "InvalidValueError",
    "Model",
    "ModelNotFoundError",
    "PrimaryMetricGoal",
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
    "VERSION",
    "Workspace",
    "__version__",
]
