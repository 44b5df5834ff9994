"""The view model: what every front end shows of a run, as plain JSON, and its deltas."""

from runwidget.view._status import status_kind
from runwidget.view.delta import DeltaMismatchError, apply_delta
from runwidget.view.downsample import MinMaxSeries
from runwidget.view.model import RunView
from runwidget.view.schema import ViewDelta, ViewSnapshot
from runwidget.view.summary import summary_html

__all__ = [
    "DeltaMismatchError",
    "MinMaxSeries",
    "RunView",
    "ViewDelta",
    "ViewSnapshot",
    "apply_delta",
    "status_kind",
    "summary_html",
]
