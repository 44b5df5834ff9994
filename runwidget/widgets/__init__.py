"""Notebook front ends."""

from runwidget.widgets.run_details import RunDetails

__all__ = ["RunDetails"]
