"""Submitting a sweep: a supervised local run of type ``sweep`` whose script is the driver.

``experiment.submit(HyperDriveConfig(...))`` goes through the same path as a submitted
script, as an AutoML search does: the sweep run is created Queued, a detached supervisor
runs the driver (``runwidget.hyperdrive.driver``) and gives it the run's output log,
heartbeat and cancel. The run's snapshot holds a two-line driver script and the sweep's
settings (JSON), so what ran is stored with the run. The driver submits the children, as
script runs on the run config's own compute target, and follows them.

The driver's cancel grace period covers the cancel of its children (their grace plus a
margin), unless ``RUNWIDGET_CANCEL_GRACE`` is set.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runwidget.execution import _local
from runwidget.execution.driver import DriverRunConfig, write_driver
from runwidget.store import RunType

if TYPE_CHECKING:
    from runwidget.hyperdrive.config import HyperDriveConfig
    from runwidget.hyperdrive.run import HyperDriveRun
    from runwidget.tracking.experiment import Experiment

DRIVER_SCRIPT = "hyperdrive_driver.py"
SETTINGS_FILE = "hyperdrive_settings.json"
# Added to the children's cancel grace: the driver's own bookkeeping while it cancels them.
GRACE_MARGIN = 20.0


class _SweepRunConfig(DriverRunConfig):
    """The sweep's driver as a supervised local run (see the module docstring)."""

    run_type = RunType.SWEEP


def child_settings(config: HyperDriveConfig, experiment: Experiment) -> dict[str, Any]:
    """What the driver needs to build each child's ``ScriptRunConfig``."""
    from runwidget.compute.target import resolve_target

    src = config.run_config
    target = resolve_target(experiment.workspace, src.compute_target)  # it must exist now
    environment = src.environment
    return {
        "source_directory": str(src.source_directory),
        "script": src.script,
        "arguments": list(src.arguments),
        "environment_variables": dict(src.environment_variables),
        "compute_target": target.name,
        "environment": None
        if environment is None
        else {
            "name": environment.name,
            "user_managed_dependencies": environment.python.user_managed_dependencies,
            "environment_variables": dict(environment.variables()),
            "pip_requirements": environment.pip_requirements,
        },
        # The children's own grace, restored in their supervisors' environment.
        "cancel_grace": os.environ.get(_local.ENV_CANCEL_GRACE),
    }


def submit_sweep(
    config: HyperDriveConfig, experiment: Experiment, tags: Mapping[str, Any] | None
) -> HyperDriveRun:
    """Create the sweep run (Queued) and start its supervised driver; return it at once.

    Raises:
        InvalidValueError: the run config or the store cannot be used (checked first).
        ComputeTargetError: the run config's compute target is not attached.
    """
    from runwidget.hyperdrive.run import HyperDriveRun

    settings = {**config.settings(), "child": child_settings(config, experiment)}
    grace = _local.cancel_grace() + GRACE_MARGIN
    with tempfile.TemporaryDirectory(prefix="runwidget-sweep-") as folder:
        root = Path(folder)
        write_driver(
            root,
            DRIVER_SCRIPT,
            "runwidget.hyperdrive.driver",
            "The driver of this sweep (written by runwidget.hyperdrive.HyperDriveConfig).",
        )
        (root / SETTINGS_FILE).write_text(json.dumps(settings, indent=2), encoding="utf-8")
        runner = _SweepRunConfig(root, DRIVER_SCRIPT, config.sweep_properties(), grace)
        run = runner.submit_local(experiment, tags)
    return HyperDriveRun(experiment, run.id)
