"""Exceptions raised by runwidget. Every message names the bad value and what is accepted."""

from __future__ import annotations


class RunwidgetError(Exception):
    """Base class of every runwidget error."""


class InvalidValueError(RunwidgetError, ValueError):
    """An argument has the wrong type or value (a name, a metric value, a column...)."""


class RunNotFoundError(RunwidgetError, LookupError):
    """No run with this id exists in the store."""


class ExperimentNotFoundError(RunwidgetError, LookupError):
    """No experiment with this name exists in the store."""


class ModelNotFoundError(RunwidgetError, LookupError):
    """No registered model with this name (or version) exists in the store."""


class MetricNotFoundError(RunwidgetError, LookupError):
    """The run has no metric of this name."""


class RunFinishedError(RunwidgetError):
    """Something was logged to a run that has already ended."""


class StoreError(RunwidgetError):
    """The run store cannot be opened or used (bad URI, not a database, wrong schema...)."""


class StoreUnavailableError(StoreError):
    """The run store could not be reached (server down, file locked too long)."""


class StoreReadOnlyError(StoreUnavailableError):
    """The run store can be read but not written (a read-only file or database).

    Writers keep their points and retry, as for an outage: the fix is outside the program.
    """


class SchemaVersionError(StoreError):
    """The store was written by a newer runwidget than this one."""


class RunFailedError(RunwidgetError):
    """A run ended Failed (raised by ``wait_for_completion(raise_on_error=True)``)."""

    def __init__(self, run_id: str, message: str, traceback: str | None = None) -> None:
        self.run_id = run_id
        self.error_message = message
        self.traceback = traceback
        super().__init__(f"run {run_id!r} failed: {message}")


class RunwidgetWarning(UserWarning):
    """Something went wrong that runwidget works around (store down, buffer full...)."""
