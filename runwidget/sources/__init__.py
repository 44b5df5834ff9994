"""Sources: the backend-neutral read interface that the view model polls."""

from __future__ import annotations

from typing import Any

from runwidget.errors import InvalidValueError
from runwidget.sources.base import RunSource
from runwidget.sources.store import StoreSource

__all__ = ["RunSource", "StoreSource", "source_for"]


def source_for(obj: Any) -> RunSource:
    """The source that reads ``obj``: a runwidget ``Run``, an MLflow run, an Optuna study
    (``OptunaSource``) or a ``RunSource``.

    Raises:
        InvalidValueError: ``obj`` is of a kind no source reads.
    """
    if isinstance(obj, RunSource):
        return obj
    from runwidget.tracking import Run

    if isinstance(obj, Run):
        return StoreSource(obj.store, obj.id, record=obj.record)
    if type(obj).__module__.startswith("mlflow") and hasattr(getattr(obj, "info", None), "run_id"):
        # An mlflow.entities.Run or the ActiveRun of mlflow.start_run().
        from runwidget.sources.mlflow import MlflowSource

        return MlflowSource(obj.info.run_id)
    from runwidget.sources.optuna import OptunaSource, is_study

    if is_study(obj):
        return OptunaSource(obj)
    raise InvalidValueError(
        f"cannot show a {type(obj).__module__}.{type(obj).__name__}: {obj!r:.80}; accepted: "
        "a runwidget Run (from experiment.start_logging(), experiment.submit(...) or "
        "Run.get(...)), an MLflow run (mlflow.start_run() or MlflowClient().get_run(...)), "
        "an optuna.Study or a runwidget.sources.RunSource"
    )
