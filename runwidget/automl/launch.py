"""Submitting an AutoML search: a supervised local run whose script is the search loop.

``experiment.submit(AutoMLConfig(...))`` goes through the same path as a submitted script
(``runwidget.execution``): the run is created Queued, a detached supervisor waits for a local
slot, runs the search process, writes its output into the run's log, beats its heartbeat,
handles cancel and ends the run. What differs:

* the run's type is ``automl`` and it is created with the search's properties (the
  ``primary_metric`` and ``goal`` the RunDetails AutoML view reads, the task, the limits...);
* its snapshot holds a two-line driver script and the search settings (JSON), so what ran is
  stored with the run; the training data is not stored in the run store: it is pickled into
  the run's local folder, which the supervisor removes when the run ends;
* the cancel grace period (how long a canceled run may take to stop) covers an iteration:
  the iteration time limit plus a margin, else ``DEFAULT_CANCEL_GRACE``, unless
  ``RUNWIDGET_CANCEL_GRACE`` is set.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runwidget.automl.config import AutoMLConfig, describe_validation
from runwidget.automl.search import ENV_DATA, SETTINGS_FILE
from runwidget.execution import _local
from runwidget.execution.config import _abandon, _Prepared
from runwidget.execution.driver import DriverRunConfig, write_driver
from runwidget.execution.slots import remove_ticket
from runwidget.store import RunType

if TYPE_CHECKING:
    from runwidget.tracking.experiment import Experiment
    from runwidget.tracking.run import Run

DRIVER_SCRIPT = "automl_search.py"
DATA_FILE = "training_data.pkl"
DEFAULT_CANCEL_GRACE = 60.0
# Added to the iteration time limit for the grace period: the search's own bookkeeping.
GRACE_MARGIN = 15.0


class _SearchRunConfig(DriverRunConfig):
    """The AutoML search as a supervised run (see the module docstring)."""

    run_type = RunType.AUTOML

    def __init__(
        self,
        folder: Path,
        properties: dict[str, Any],
        data_file: Path,
        grace: float,
        compute_target: Any = None,
    ) -> None:
        super().__init__(folder, DRIVER_SCRIPT, properties, grace, compute_target)
        self._data_file = data_file

    def cluster_extras(self) -> tuple[dict[str, Path], dict[str, str]]:
        # On a cluster the data travels with the job's working directory, not in the store.
        return {DATA_FILE: self._data_file}, {ENV_DATA: DATA_FILE, **self._grace_env()}

    def _prepare(self, experiment: Experiment, tags: Mapping[str, Any] | None) -> _Prepared:
        prepared = super()._prepare(experiment, tags)
        try:
            target = prepared.cwd / DATA_FILE
            os.replace(self._data_file, target)
            prepared.env[ENV_DATA] = str(target)
        except BaseException as error:
            remove_ticket(_local.exec_dir(), prepared.run.id)
            _abandon(prepared.run, error)
            raise
        return prepared


def run_properties(config: AutoMLConfig, settings: dict[str, Any]) -> dict[str, Any]:
    """The AutoML run's properties (the first two are the RunDetails AutoML contract)."""
    return {
        "primary_metric": settings["primary_metric"],
        "goal": settings["goal"],
        "task": settings["task"],
        "label_column_name": settings["label_column_name"],
        "iterations": settings["iterations"],
        "experiment_timeout_minutes": settings["experiment_timeout_minutes"],
        "iteration_timeout_minutes": settings["iteration_timeout_minutes"],
        "validation": describe_validation(settings["validation"]),
        "algorithms": ", ".join(settings["algorithms"]),
        "blocked_models": ", ".join(config.blocked_models or ()) or None,
        "random_state": settings["random_state"],
        "training_rows": settings["n_rows"],
        "training_columns": len(settings["numeric_columns"]) + len(settings["categorical_columns"]),
        "max_concurrent_iterations": settings["max_concurrent_iterations"],
    }


def cancel_grace(settings: dict[str, Any]) -> float:
    minutes = settings.get("iteration_timeout_minutes")
    if minutes is None:
        return DEFAULT_CANCEL_GRACE
    return float(minutes) * 60 + GRACE_MARGIN


def submit_search(
    config: AutoMLConfig, experiment: Experiment, tags: Mapping[str, Any] | None
) -> Run:
    """Create the AutoML run (Queued) and start its supervised search process.

    Raises:
        InvalidValueError: the data changed since the config was made and is no longer
            accepted, or the store cannot be used for local runs (an in-memory store).
        StoreUnavailableError: the store could not be reached.
    """
    settings = config.settings()
    base = _local.ensure_exec_dir()
    data_file = base / f"automl-{uuid.uuid4().hex}.pkl.part"
    try:
        fd = os.open(data_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            config.training_data.to_pickle(f)  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory(prefix="runwidget-automl-") as folder:
            root = Path(folder)
            write_driver(
                root,
                DRIVER_SCRIPT,
                "runwidget.automl.search",
                "The search loop of this AutoML run (written by runwidget.AutoMLConfig).",
            )
            (root / SETTINGS_FILE).write_text(json.dumps(settings, indent=2), encoding="utf-8")
            runner = _SearchRunConfig(
                root,
                run_properties(config, settings),
                data_file,
                cancel_grace(settings),
                compute_target=config.compute_target,
            )
            return runner.submit_to(experiment, tags)
    finally:
        with contextlib.suppress(FileNotFoundError):
            data_file.unlink()  # moved into the run's folder, unless submission failed
