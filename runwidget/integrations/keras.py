"""Follow a Keras 3 ``model.fit`` live, on any backend.

::

    from runwidget import RunDetails
    from runwidget.integrations.keras import RunwidgetCallback

    callback = RunwidgetCallback()
    RunDetails(callback.run).show()
    model.fit(x, y, epochs=10, validation_split=0.2, callbacks=[callback])

At the end of each epoch the callback logs what Keras puts in ``History`` (``loss``,
``val_loss``, ``accuracy``...) with the epoch as step; during the epoch, the running values
of the training batches as ``batch/<name>`` with the number of batches seen as step, at
most one batch every ``batch_interval`` seconds (the first batch always). The optimizer's
configuration becomes properties ``optimizer.<name>`` (``optimizer.learning_rate``), with
``epochs`` and ``steps`` of the fit. The run is found and ended as every integration's
(``runwidget.integrations``): Completed when ``fit`` ends, Failed with the traceback on an
exception, Canceled on a keyboard interrupt. Without TensorFlow and with no
``KERAS_BACKEND`` set, importing this module before Keras picks PyTorch (else JAX) as Keras'
backend.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from runwidget._imports import import_optional
from runwidget.integrations._training import (
    TrainingRun,
    TrainingRunOwner,
    bad_flag,
    check_interval,
    properties_of,
)

if TYPE_CHECKING:
    from runwidget.tracking.experiment import Experiment
    from runwidget.tracking.run import Run

__all__ = ["RunwidgetCallback"]

logger = logging.getLogger("runwidget")


def _choose_backend() -> None:
    """Keras 3 defaults to TensorFlow and fails to import without it: where Keras is not
    imported yet, no backend is chosen (``KERAS_BACKEND``) and TensorFlow is missing, choose
    an installed one (torch, else jax), as the user would have to."""
    if "keras" in sys.modules or os.environ.get("KERAS_BACKEND"):
        return
    if importlib.util.find_spec("tensorflow") is not None:
        return
    for backend in ("torch", "jax"):
        if importlib.util.find_spec(backend) is not None:
            logger.info("runwidget: no TensorFlow; Keras runs on %s (KERAS_BACKEND)", backend)
            os.environ["KERAS_BACKEND"] = backend
            return


_choose_backend()
_keras = import_optional("keras", extra="keras", feature="runwidget's Keras callback")


# Keras' class, imported when this module is: typed as Any.
_Callback: Any = _keras.callbacks.Callback


class RunwidgetCallback(TrainingRunOwner, _Callback):
    """A ``keras.callbacks.Callback`` that logs a fit's epochs and batches to a runwidget run.

    Args:
        run: log to this run (its owner ends it). Default: ``Run.get_context()`` inside a
            submitted script, else a new run in the experiment ``keras``.
        experiment: where to create the run instead: an ``Experiment`` or its name.
        display_name: the created run's display name.
        batch_interval: seconds between two logged batches (0: every batch; None: epochs
            only).
        log_optimizer: record the optimizer's configuration as properties.

    Attributes:
        run: the run this callback logs to (created on first use).

    Raises:
        InvalidValueError: an argument of the wrong type.
        MissingDependencyError: keras is not installed.
    """

    def __init__(
        self,
        run: Run | None = None,
        *,
        experiment: Experiment | str | None = None,
        display_name: str | None = None,
        batch_interval: float | None = 1.0,
        log_optimizer: bool = True,
    ) -> None:
        super().__init__()
        self._batch_interval = check_interval(batch_interval, "batch_interval", "RunwidgetCallback")
        if not isinstance(log_optimizer, bool):
            raise bad_flag("RunwidgetCallback", "log_optimizer", log_optimizer)
        self._training = TrainingRun("keras", run, experiment, display_name)
        self._log_optimizer = log_optimizer
        self._batches = 0  # training batches seen in this fit, across epochs
        self._last_batch_log: float | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        training = self._training
        training.started()
        self._batches = 0
        self._last_batch_log = None
        if self._log_optimizer:
            training.guard("record the optimizer", self._record_optimizer)

    def _record_optimizer(self) -> None:
        properties: dict[str, Any] = {}
        params = getattr(self, "params", None) or {}
        for key in ("epochs", "steps"):
            if params.get(key) is not None:
                properties[key] = params[key]
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            config = dict(optimizer.get_config())
            config.setdefault("class_name", type(optimizer).__name__)
            # Keras keeps them as float32 variables: 1e-2 reads 0.009999999776...
            properties.update(
                {k: float(f"{v:.7g}") if isinstance(v, float) else v
                 for k, v in properties_of(config, "optimizer.").items()}
            )  # fmt: skip
        self._training.add_properties(properties)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches += 1
        interval = self._batch_interval
        if interval is None or not logs:
            return
        now = time.monotonic()
        if self._last_batch_log is not None and now - self._last_batch_log < interval:
            return
        self._last_batch_log = now
        step = float(self._batches)
        named = {f"batch/{k}": v for k, v in logs.items()}
        self._training.guard("log a batch", lambda: self._training.log_metrics(named, step))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs:
            metrics = dict(logs)
            self._training.guard(
                "log an epoch", lambda: self._training.log_metrics(metrics, float(epoch))
            )

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._training.end(None)
