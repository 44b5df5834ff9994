"""What the properties table shows of a run's properties."""

from __future__ import annotations

from runwidget import Experiment
from runwidget.sources import StoreSource
from runwidget.view.model import RunView


def test_runwidget_bookkeeping_is_hidden():
    run = Experiment(name="props").start_logging()
    run.add_properties({"runwidget.supervisor_pid": 42, "learning_rate": 0.1, "<b>": "<i>"})
    view = RunView(StoreSource(run._store, run.id))
    view.refresh()
    shown = {row["name"]: row["value"] for row in view.snapshot()["properties"]}
    assert shown["learning_rate"] == 0.1 and shown["<b>"] == "<i>"
    assert not [name for name in shown if name.startswith("runwidget.")]
