"""The read interface the view model polls: one run, wherever it lives."""

from __future__ import annotations

import abc
from collections.abc import Hashable

from runwidget.store.records import (
    AlertRecord,
    FileInfo,
    LogLine,
    MetricColumns,
    MetricPoint,
    RunRecord,
    metric_columns,
)


class RunSource(abc.ABC):
    """One run as a front end reads it, from runwidget's store or another backend.

    The view model polls a source from one background thread at a time; a source needs
    no locking of its own beyond what its backend needs for that.

    Contract:

    * **Records.** Everything is returned in the store's vocabulary (``RunRecord``,
      ``MetricPoint``, ``LogLine``, ``FileInfo``), whatever the backend.
    * **Cursors.** ``children``, ``metrics``, ``logs`` and ``images`` take ``since``, the
      largest ``seq`` the caller has seen, and return only newer items in ``seq`` order,
      so that a poll costs what is new. A caller that advances its cursor to the last
      ``seq`` it received never misses an item. ``children`` returns the children whose
      record changed (``RunRecord.seq`` is their change cursor).
    * **Errors.** An unreachable backend raises ``StoreUnavailableError``; a run that does
      not exist raises ``RunNotFoundError``.
    """

    #: ``metric_columns`` may run in a second thread while the view model polls the rest
    #: (a first read of a long history starts early; see ``RunView.prefetch_metrics``).
    concurrent_metric_reads = False

    @property
    @abc.abstractmethod
    def run_id(self) -> str:
        """The id of the run this source reads."""

    @abc.abstractmethod
    def record(self) -> RunRecord:
        """The run as it is now."""

    @abc.abstractmethod
    def children(self, since: int = 0) -> list[RunRecord]:
        """Direct children whose record changed after cursor ``since``."""

    @abc.abstractmethod
    def metrics(self, since: int = 0, limit: int | None = None) -> list[MetricPoint]:
        """This run's metric points after cursor ``since`` (at most ``limit``)."""

    @abc.abstractmethod
    def logs(self, since: int = 0, limit: int | None = None) -> list[LogLine]:
        """This run's output lines after cursor ``since`` (at most ``limit``)."""

    @abc.abstractmethod
    def images(self, since: int = 0) -> list[FileInfo]:
        """Images logged to this run after cursor ``since``."""

    @abc.abstractmethod
    def image_bytes(self, image: FileInfo) -> bytes:
        """The bytes of one image that ``images`` returned."""

    @abc.abstractmethod
    def child(self, run_id: str) -> RunSource:
        """A source for the child ``run_id`` of this run (drill-down).

        Raises:
            RunNotFoundError: this run has no child ``run_id``.
        """

    def metric_columns(
        self, since: int = 0, blocks_from: int | None = None
    ) -> tuple[list[MetricColumns], int]:
        """The points of ``metrics(since)`` grouped by metric, numbers as numpy columns, and
        the new cursor. Built on ``metrics``; a backend may answer it faster (a first load
        of a long run reads every point), and summarise a long metric's first points in
        blocks (see ``RunStore.read_metric_columns``)."""
        points: list[MetricPoint] = []
        cursor = since
        while True:
            page = self.metrics(cursor, limit=100_000)
            points += page
            if page:
                cursor = page[-1].seq
            if len(page) < 100_000:
                return metric_columns(points), cursor

    def plots(self, since: int = 0) -> list[FileInfo]:
        """Rich metrics (confusion matrices...; ``runwidget.store.rich``) logged after cursor
        ``since``. A backend without them has none."""
        return []

    def plot_bytes(self, plot: FileInfo) -> bytes:
        """The stored bytes of one rich metric that ``plots`` returned."""
        raise NotImplementedError(f"{type(self).__name__} has no rich metrics")

    def child_metrics(self, run_id: str, since: int = 0) -> list[MetricPoint]:
        """The metric points of child ``run_id`` after ``since`` (for child table columns
        and iterations). Built on ``child``; a backend may answer it more cheaply."""
        return self.child(run_id).metrics(since)

    def portal_url(self) -> str | None:
        """The run's page in a web portal, if there is one."""
        return None

    def alerts(self, since: int = 0) -> list[AlertRecord]:
        """This run's alerts after cursor ``since``; none for a backend without alerts."""
        return []

    def version(self) -> Hashable | None:
        """A token that changes whenever the run's record, data or children change, for
        about the cost of one primary-key read (a poller reads the rest only when it moved).
        None when the backend cannot tell: the view then reads at each interval."""
        return None

    def portal_note(self) -> str | None:
        """How to start the portal that ``portal_url`` points at, when nothing serves it."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the source holds. It may not be used afterwards."""
