"""How an AutoML search records itself: one child run per iteration, the best on the parent.

The run contract the RunDetails AutoML view reads:

* the parent (type ``automl``) has properties ``primary_metric`` and ``goal``; after every
  iteration it logs ``best_<primary metric>`` (step = iteration), and when the best changes it
  records ``best_child_run_id``, ``best_iteration``, ``best_score`` and ``best_pipeline``;
* each iteration is a child run ``<parent id>_<iteration>``, Running while it fits, with
  properties ``iteration``, ``pipeline``, ``preprocessor``, ``algorithm`` and its
  hyperparameters; it logs every metric of the task once, and ends Completed, Failed (with
  the error) or Canceled. The best iterations keep their fitted model as ``MODEL_FILE``.
"""

from __future__ import annotations

import math
from typing import Any

from runwidget import status as st
from runwidget.automl import pipelines
from runwidget.store import RunType
from runwidget.tracking.run import Run

MODEL_FILE = "outputs/model.pkl"
# How long an iteration waits for the previous one's end to be written before it starts.
END_WRITE_TIMEOUT = 10.0


def best_metric_name(primary_metric: str) -> str:
    return f"best_{primary_metric}"


def iteration_properties(iteration: int, spec: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "iteration": iteration,
        "pipeline": pipelines.describe(spec),
        "preprocessor": spec["preprocessor"],
        "algorithm": spec["algorithm"],
    }
    for name, value in spec["params"].items():
        properties.setdefault(name, value)
    return properties


class Recorder:
    """Writes the runs of one search through the tracking API.

    Args:
        parent: the AutoML run.
        primary_metric: the metric the search optimises.
    """

    def __init__(self, parent: Run, primary_metric: str) -> None:
        self.parent = parent
        self.primary_metric = primary_metric

    def start(self, iteration: int, spec: dict[str, Any]) -> Run:
        """Create the iteration's child run, Running, once what the previous iteration
        queued (its metrics, model and end) is written: a reader never sees two iterations
        running, and a failure to write shows here, between iterations."""
        self.parent.flush(END_WRITE_TIMEOUT)
        return Run.create(
            self.parent.experiment,
            run_id=f"{self.parent.id}_{iteration}",
            display_name=f"Iteration {iteration}",
            run_type=RunType.CHILD,
            status=st.RUNNING,
            parent_id=self.parent.id,
            properties=iteration_properties(iteration, spec),
        )

    def log_metrics(self, child: Run, metrics: dict[str, float]) -> None:
        """Log the metrics that are numbers (one that could not be computed is left out)."""
        for name, value in metrics.items():
            if isinstance(value, (int, float)) and math.isfinite(value):
                child.log(name, float(value))

    def keep_model(self, child: Run, path: str) -> None:
        child.upload_file(MODEL_FILE, path)

    def complete(self, child: Run) -> None:
        self._end(child, st.COMPLETED, None)

    def fail(self, child: Run, error: dict[str, Any]) -> None:
        message = error.get("message") or "failed"
        self._end(child, st.FAILED, {"message": message, "traceback": error.get("traceback")})

    def cancel(self, child: Run, reason: str) -> None:
        self._end(child, st.CANCELED, {"message": reason, "traceback": None})

    def _end(self, child: Run, status: str, error: dict[str, Any] | None) -> None:
        """End the child run without waiting for the store: its metrics, model and status
        are written in order by the background writer, at the latest when the next
        iteration starts or the best is named (``add_properties`` writes what is queued)."""
        child.end(status, error, wait=False)

    def best_so_far(self, iteration: int, value: float) -> None:
        self.parent.log(best_metric_name(self.primary_metric), value, step=iteration)

    def new_best(self, child: Run, iteration: int, value: float, spec: dict[str, Any]) -> None:
        self.parent.add_properties({
            "best_child_run_id": child.id,
            "best_iteration": iteration,
            "best_score": value,
            "best_pipeline": pipelines.describe(spec),
        })  # fmt: skip

    def note(self, **properties: Any) -> None:
        """Record facts about the search on the parent (iterations done, why it stopped)."""
        self.parent.add_properties(properties)


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
