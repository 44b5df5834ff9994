"""``StoreSource``: a run in runwidget's own run store."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from runwidget.errors import RunNotFoundError
from runwidget.sources.base import RunSource
from runwidget.store import (
    AlertRecord,
    FileInfo,
    LogLine,
    MetricColumns,
    MetricPoint,
    RunRecord,
    RunStore,
    RunVersion,
    rich,
)
from runwidget.tracking import _portal

_STORE_PORTAL = object()  # default: the portal serving this store


class StoreSource(RunSource):
    """Reads one run of a ``RunStore`` through the store's cursors.

    Args:
        store: the run store.
        run_id: the run to read.
        portal_url: how to build a run's portal address, or None for no link (default:
            runwidget's portal for this store).
        record: the run's record, if the caller has it.

    Raises:
        RunNotFoundError: no run ``run_id`` in the store.
    """

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        *,
        portal_url: Callable[[str], str] | None | object = _STORE_PORTAL,
        record: RunRecord | None = None,
    ) -> None:
        self._store = store
        self._run_id = run_id
        self._default_portal = portal_url is _STORE_PORTAL
        if portal_url is _STORE_PORTAL:
            # The Jupyter server's portal only if it serves this store (tracking/_portal.py).
            portal_url = partial(_portal.run_url, store_uri=store.uri)
        self._portal_url: Callable[[str], str] | None = portal_url  # type: ignore[assignment]
        # With the caller's record, no store read here: a store that is down at this moment
        # gives the view a notice instead of an error.
        self._record = record if record is not None else store.get_run(run_id)

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def store(self) -> RunStore:
        return self._store

    def record(self) -> RunRecord:
        self._record = self._store.get_run(self._run_id)
        return self._record

    def children(self, since: int = 0) -> list[RunRecord]:
        return self._store.list_runs(parent_id=self._run_id, since=since)

    def metrics(self, since: int = 0, limit: int | None = None) -> list[MetricPoint]:
        return self._store.read_metrics(self._run_id, since=since, limit=limit)

    concurrent_metric_reads = True  # store reads share nothing but the thread-safe store

    def metric_columns(
        self, since: int = 0, blocks_from: int | None = None
    ) -> tuple[list[MetricColumns], int]:
        return self._store.read_metric_columns(self._run_id, since=since, blocks_from=blocks_from)

    def child_metrics(self, run_id: str, since: int = 0) -> list[MetricPoint]:
        return self._store.read_metrics(run_id, since=since)

    def logs(self, since: int = 0, limit: int | None = None) -> list[LogLine]:
        return self._store.read_logs(self._run_id, since=since, limit=limit)

    def images(self, since: int = 0) -> list[FileInfo]:
        return self._store.list_files(self._run_id, kind="image", since=since)

    def alerts(self, since: int = 0) -> list[AlertRecord]:
        return self._store.list_alerts(run_ids=[self._run_id], since=since)

    def image_bytes(self, image: FileInfo) -> bytes:
        return self._store.read_file(self._run_id, image.path)

    def plots(self, since: int = 0) -> list[FileInfo]:
        return self._store.list_files(self._run_id, kind=rich.RICH_KIND, since=since)

    def plot_bytes(self, plot: FileInfo) -> bytes:
        return self._store.read_file(self._run_id, plot.path)

    def child(self, run_id: str) -> StoreSource:
        child = StoreSource(self._store, run_id, portal_url=self._portal_url)
        child._default_portal = self._default_portal
        if child._record.parent_id != self._run_id:
            raise RunNotFoundError(f"run {self._run_id!r} has no child run {run_id!r}")
        return child

    def portal_url(self) -> str | None:
        return None if self._portal_url is None else self._portal_url(self._run_id)

    def version(self) -> RunVersion | None:
        return self._store.run_versions([self._run_id]).get(self._run_id)

    def portal_note(self) -> str | None:
        if not self._default_portal:  # a server's own pages link to itself
            return None
        return _portal.portal_hint(self._store.uri)

    def __repr__(self) -> str:
        return f"StoreSource({self._store.uri!r}, {self._run_id!r})"
