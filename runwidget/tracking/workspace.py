"""Workspace: a handle on one run store."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from runwidget.errors import InvalidValueError
from runwidget.store import RunStore, open_store, resolve_store_uri

if TYPE_CHECKING:
    from runwidget.compute.target import ComputeTarget
    from runwidget.tracking.experiment import Experiment
    from runwidget.tracking.run import Run


class Workspace:
    """Where runs are kept.

    Args:
        store: a store URI (``sqlite:///path/runs.db``, ``postgresql://user@host/db``) or a
            ``RunStore``. Default: ``$RUNWIDGET_STORE``, else ``.runwidget/runs.db`` under the
            current directory.
    """

    def __init__(self, store: str | RunStore | None = None) -> None:
        if isinstance(store, RunStore):
            self.store = store
        elif store is None or isinstance(store, str):
            self.store = open_store(store)
        else:
            raise InvalidValueError(
                f"store must be a URI string or a RunStore, got {type(store).__name__}: {store!r}"
            )

    @property
    def uri(self) -> str:
        return self.store.uri

    def experiments(self) -> dict[str, Experiment]:
        """Every experiment in the store, by name."""
        from runwidget.tracking.experiment import Experiment

        return {e.name: Experiment(self, e.name) for e in self.store.list_experiments()}

    @property
    def compute_targets(self) -> dict[str, ComputeTarget]:
        """The attached compute targets by name; ``local`` is always there."""
        from runwidget.compute.target import list_targets

        return list_targets(self)

    def get_run(self, run_id: str) -> Run:
        from runwidget.tracking.run import Run

        return Run.get(self, run_id)

    def __repr__(self) -> str:
        return f"Workspace({self.uri!r})"


_default: Workspace | None = None
_default_lock = threading.Lock()


def default_workspace() -> Workspace:
    """The workspace used when none is given; follows ``$RUNWIDGET_STORE`` if it changes."""
    global _default
    with _default_lock:
        if _default is None or _default.uri != resolve_store_uri():
            _default = Workspace()
        return _default


def _reset_default_workspace() -> None:
    """Flush and forget every open store (for tests)."""
    global _default
    from runwidget import store as store_module
    from runwidget.tracking import _flusher

    _flusher._close_all(timeout=5)
    _flusher._flushers.clear()
    store_module._close_all()
    with _default_lock:
        _default = None
