"""The tracking API: how runs are written (names follow the Azure ML v1 SDK)."""

from runwidget.tracking.experiment import Experiment
from runwidget.tracking.model import Model
from runwidget.tracking.run import Run
from runwidget.tracking.workspace import Workspace

__all__ = ["Experiment", "Model", "Run", "Workspace"]
