"""Notebook front ends."""

from runwidget.widgets.compare import RunComparison
from runwidget.widgets.run_details import RunDetails

__all__ = ["RunComparison", "RunDetails"]
