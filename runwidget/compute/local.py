"""The ``local`` target: a detached supervisor on this machine (see ``runwidget.execution``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from runwidget.compute.target import LOCAL, ComputeTarget, register_kind

if TYPE_CHECKING:
    from runwidget.execution.config import ScriptRunConfig
    from runwidget.tracking.experiment import Experiment
    from runwidget.tracking.run import Run


@register_kind
class LocalCompute(ComputeTarget):
    """Runs on this machine, at most ``RUNWIDGET_MAX_LOCAL_RUNS`` at once. Always attached."""

    kind = LOCAL

    def submit(self, config: ScriptRunConfig, experiment: Experiment, tags: Any) -> Run:
        return config.submit_local(experiment, tags)

    def status(self, run: Run) -> str | None:
        return None  # the supervisor writes every status itself

    def cancel(self, run: Run) -> str:
        from runwidget.execution.cancel import request_cancel

        return request_cancel(run)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "address": os.uname().nodename,
                "reachable": True}  # fmt: skip
