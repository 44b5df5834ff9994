"""Follow a PyTorch Lightning training live: ``Trainer(logger=RunwidgetLogger())``.

::

    import lightning as L        # or: import pytorch_lightning as L
    from runwidget import RunDetails
    from runwidget.integrations.lightning import RunwidgetLogger

    logger = RunwidgetLogger()
    RunDetails(logger.run).show()
    L.Trainer(max_epochs=10, logger=logger).fit(model, train_loader, val_loader)

Whatever the module logs with ``self.log(...)`` reaches the run with the trainer's global step
as step, under the names given (``train_loss``, ``val_loss``, ``epoch``);
``self.save_hyperparameters()`` (and ``log_hyperparams``) become properties. The run ends
with the trainer's ``finalize``: Completed after ``fit`` (or ``validate``, ``test``),
Failed with the traceback on an exception, Canceled on a keyboard interrupt; inside
``with logger:`` at the block's end instead, so that ``fit`` and then ``test`` log into one
run. ``log_checkpoints=True`` stores the best and last checkpoints with the run when
training ends, ``"all"`` each checkpoint as it is saved. Under distributed training only
rank 0 logs. The same class works with ``import lightning`` and ``import pytorch_lightning``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runwidget._imports import MissingDependencyError
from runwidget.errors import InvalidValueError
from runwidget.integrations._training import TrainingRun, TrainingRunOwner, properties_of

if TYPE_CHECKING:
    from runwidget.tracking.experiment import Experiment
    from runwidget.tracking.run import Run

__all__ = ["RunwidgetLogger"]


def _logger_bases() -> list[Any]:
    """Lightning's ``Logger`` classes: of ``lightning.pytorch`` and of ``pytorch_lightning``,
    whichever are installed."""
    import importlib

    found = []
    for module in ("lightning.pytorch.loggers", "pytorch_lightning.loggers"):
        try:
            found.append(importlib.import_module(module).Logger)
        except ModuleNotFoundError as e:
            if e.name is None or e.name.split(".")[0] != module.split(".")[0]:
                raise
    if not found:
        raise MissingDependencyError(
            "runwidget's Lightning logger needs lightning (or pytorch-lightning): "
            "pip install 'runwidget[lightning]'"
        )
    return found


_BASES = _logger_bases()


def _rank() -> int:
    from lightning_utilities.core.rank_zero import rank_zero_only

    return int(getattr(rank_zero_only, "rank", 0) or 0)


class _Nothing:
    """What ``experiment`` is on ranks other than 0: every call does nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


# The first of Lightning's Logger classes, found when this module is imported: typed as Any.
_Logger: Any = _BASES[0]


class RunwidgetLogger(TrainingRunOwner, _Logger):
    """A Lightning ``Logger`` that logs a ``Trainer``'s metrics and hyperparameters to a
    runwidget run.

    Args:
        run: log to this run (its owner ends it). Default: ``Run.get_context()`` inside a
            submitted script, else a new run in the experiment ``lightning``.
        experiment: where to create the run instead: an ``Experiment`` or its name.
        display_name: the created run's display name.
        save_dir: where the trainer writes this logger's checkpoints
            (``<save_dir>/<experiment>/<run id>/checkpoints``); default: the trainer's
            ``default_root_dir``.
        log_checkpoints: ``True`` stores the best and last checkpoints with the run as
            training ends (``checkpoints/<file>``), ``"all"`` each one as it is saved,
            ``False`` (default) none.

    Attributes:
        run: the run this logger logs to (created on first use).

    Raises:
        InvalidValueError: an argument of the wrong type.
        MissingDependencyError: neither lightning nor pytorch-lightning is installed.
    """

    def __init__(
        self,
        run: Run | None = None,
        *,
        experiment: Experiment | str | None = None,
        display_name: str | None = None,
        save_dir: str | os.PathLike[str] | None = None,
        log_checkpoints: bool | str = False,
    ) -> None:
        super().__init__()
        if save_dir is not None and not isinstance(save_dir, (str, os.PathLike)):
            raise InvalidValueError(
                "RunwidgetLogger: save_dir must be a path or None, got "
                f"{type(save_dir).__name__}: {save_dir!r:.80}"
            )
        if not (isinstance(log_checkpoints, bool) or log_checkpoints == "all"):
            raise InvalidValueError(
                "RunwidgetLogger: log_checkpoints must be False, True or 'all', got "
                f"{type(log_checkpoints).__name__}: {log_checkpoints!r:.80}"
            )
        self._training = TrainingRun(
            "lightning", run, experiment, display_name, owner="RunwidgetLogger"
        )
        self._save_dir = os.fspath(save_dir) if save_dir is not None else None
        self._log_checkpoints = log_checkpoints
        self._checkpoint_callback: Any = None
        self._uploaded: set[str] = set()

    # -- what Lightning asks of a logger -------------------------------------------------------
    @property
    def name(self) -> str:
        """The experiment's name (a folder of the checkpoints' path)."""
        training = self._training
        if training.found is not None:
            return training.found.experiment.name
        experiment = training.experiment
        if experiment is None:
            return training.framework
        return experiment if isinstance(experiment, str) else experiment.name

    @property
    def version(self) -> str:
        """The run's id (a folder of the checkpoints' path)."""
        return self.run.id if _rank() == 0 else ""

    @property
    def save_dir(self) -> str | None:
        return self._save_dir

    @property
    def root_dir(self) -> str | None:
        return os.path.join(self._save_dir, self.name) if self._save_dir else None

    @property
    def log_dir(self) -> str | None:
        root = self.root_dir
        return os.path.join(root, self.version) if root else None

    @property
    def experiment(self) -> Any:
        """The run (Lightning's name for a logger's backend object); on other ranks than 0,
        an object that does nothing, as Lightning's own loggers give."""
        if _rank() != 0:
            return _Nothing()
        return self.run

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        if _rank() != 0:
            return
        if isinstance(params, argparse.Namespace):
            params = vars(params)
        if not isinstance(params, Mapping):
            params = dict(params or {})
        training = self._training
        training.started()
        training.guard(
            "record the hyperparameters", lambda: training.add_properties(properties_of(params))
        )

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        if _rank() != 0:
            return
        training = self._training
        training.started()
        step_value = float(step) if step is not None else None
        training.guard("log metrics", lambda: training.log_metrics(metrics, step_value))

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        pass

    def save(self) -> None:
        # Called after every log_metrics: the run's writer thread already writes what is
        # logged within a fraction of a second, and waiting for it here would slow each step.
        pass

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        self._checkpoint_callback = checkpoint_callback
        if self._log_checkpoints == "all" and _rank() == 0:
            self._training.guard("store a checkpoint", self._upload_checkpoints)

    def finalize(self, status: str) -> None:
        """Called by the trainer as it ends: ``success`` or ``failed`` (an exception, whose
        traceback the run keeps, or a keyboard interrupt, which cancels it)."""
        if _rank() != 0 or self._training.found is None:
            return
        if self._log_checkpoints and status == "success":
            self._training.guard("store the checkpoints", self._upload_checkpoints)
        error: BaseException | None = None
        if status != "success":
            # Lightning calls finalize("failed") while it handles the exception.
            error = sys.exc_info()[1] or RuntimeError(f"training ended: {status}")
        self._training.end(error)

    def _upload_checkpoints(self) -> None:
        callback = self._checkpoint_callback
        if callback is None:
            return
        paths = [getattr(callback, "best_model_path", ""), getattr(callback, "last_model_path", "")]
        if self._log_checkpoints == "all":
            paths += list(getattr(callback, "best_k_models", {}) or {})
        run = self.run
        for path in paths:
            if not path or not os.path.isfile(path):
                continue
            name = f"checkpoints/{os.path.basename(path)}"
            if name not in self._uploaded:
                self._uploaded.add(name)
                run.upload_file(name, path)


# The same logger for a trainer of the other package: Lightning checks loggers against its
# own Logger class in places.
for _base in _BASES[1:]:
    _base.register(RunwidgetLogger)
