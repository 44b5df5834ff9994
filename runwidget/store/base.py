"""The run store contract."""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping
from typing import Any

from runwidget.store.records import (
    AlertRecord,
    Batch,
    ExperimentRecord,
    FileInfo,
    LogLine,
    MetricColumns,
    MetricPoint,
    ModelRecord,
    RunFilter,
    RunPage,
    RunRecord,
    RunTotal,
    RunVersion,
    TargetRecord,
    metric_columns,
)

_UNSET: Any = object()
_LEVEL_RANK = {"info": 0, "warn": 1, "error": 2}


class RunStore(abc.ABC):
    """Where runs live.

    Contract every implementation keeps:

    * **Thread and process safety.** One instance may be used from many threads; many
      processes may write one store at once.
    * **Atomic writes.** ``write`` commits all of its batches or nothing; a failed call
      leaves the store as it was, so the caller may retry the same batches.
    * **Cursors.** Every ``seq`` is an integer that grows with each write. ``read_metrics``,
      ``read_logs``, ``list_files`` and ``list_runs`` take ``since`` (the largest ``seq`` the
      caller has seen) and return only newer items, in ``seq`` order, through an index: a
      poll costs what is new, not what is stored. For one run written by one writer at a
      time, a reader that advances its cursor to the last ``seq`` it received never misses
      an item.
    * **Errors.** Unknown runs raise ``RunNotFoundError``; an unreachable store raises
      ``StoreUnavailableError``; anything else wrong with the store raises ``StoreError``.
    """

    uri: str

    # -- experiments ----------------------------------------------------------------------
    @abc.abstractmethod
    def get_or_create_experiment(self, name: str) -> ExperimentRecord: ...

    @abc.abstractmethod
    def list_experiments(self) -> list[ExperimentRecord]: ...

    # -- runs ------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_run(
        self,
        experiment: str,
        *,
        run_id: str | None = None,
        parent_id: str | None = None,
        display_name: str | None = None,
        run_type: str = "interactive",
        status: str = "NotStarted",
        started: float | None = None,
        properties: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        target: str = "local",
        arguments: list[Any] | None = None,
    ) -> RunRecord:
        """Create a run (and its experiment when new)."""

    @abc.abstractmethod
    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        started: float | None = None,
        ended: float | None = None,
        error: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        display_name: str | None = None,
        only_if_status: Collection[str] | None = None,
        remove_tags: Collection[str] | None = None,
    ) -> bool:
        """Change a run; ``properties`` and ``tags`` are merged into the stored ones, after
        the tags named in ``remove_tags`` are removed.

        With ``only_if_status``, the change is made only when the run's stored status is
        one of those (a compare-and-set, so that e.g. a cancel never overwrites Completed).

        Returns:
            Whether the run was changed.
        """

    @abc.abstractmethod
    def beat(self, run_ids: Collection[str], now: float) -> None:
        """Record a heartbeat for these runs. Does not move the runs' change cursor."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunRecord: ...

    @abc.abstractmethod
    def list_runs(
        self,
        *,
        experiment: str | None = None,
        parent_id: str | None = _UNSET,
        status: Collection[str] | None = None,
        since: int = 0,
        limit: int | None = None,
    ) -> list[RunRecord]:
        """Runs changed after cursor ``since``, oldest change first.

        ``parent_id=None`` selects top-level runs; leaving it out selects all.
        """

    # -- lists for the surfaces (every one an indexed read, whatever the store's size) ----
    @abc.abstractmethod
    def find_runs(
        self,
        where: RunFilter = RunFilter(),  # noqa: B008 - frozen
        *,
        order: str = "created",
        descending: bool = True,
        after: str | None = None,
        offset: int = 0,
        limit: int = 100,
        summaries: Collection[str] = (),
    ) -> RunPage:
        """A page of the runs ``where`` selects, newest first by default.

        ``order`` is ``created``, ``name``, ``status`` or ``target``. Give a page's
        ``after`` to get the next one (keyset paging: no run is skipped or repeated while
        runs are created during the walk); ``offset`` jumps, at the cost of the rows skipped.
        ``summaries`` names metrics whose summaries the page carries (``RunPage.summaries``,
        as ``metric_summaries`` gives them): a runs table's columns, read with the page.

        Raises:
            InvalidValueError: an unknown order, a bad limit or offset, a foreign token.
        """

    @abc.abstractmethod
    def count_runs(self, where: RunFilter = RunFilter()) -> int:  # noqa: B008
        """How many runs ``where`` selects (exact: its cost grows with the count)."""

    def total_runs(self, where: RunFilter = RunFilter()) -> RunTotal:  # noqa: B008
        """The total a list of the runs ``where`` selects shows: exact while it is small,
        else it may be an estimate (``RunTotal.estimated``) of a bounded cost. Exact
        unless a store knows how to estimate."""
        return RunTotal(self.count_runs(where))

    @abc.abstractmethod
    def changed_runs(
        self,
        where: RunFilter = RunFilter(),  # noqa: B008
        *,
        since: int = 0,
        limit: int = 1000,
    ) -> list[RunRecord]:
        """Runs ``where`` selects whose record changed after cursor ``since``, in change order."""

    @abc.abstractmethod
    def target_summaries(self) -> dict[str, dict[str, Any]]:
        """Per compute target that runs name: ``runs`` (children included) and ``active``,
        ``{status: count}`` of those not ended (as stored: a run gone silent counts under
        the status it last reported)."""

    @abc.abstractmethod
    def child_counts(self, run_ids: Collection[str]) -> dict[str, int]:
        """How many direct children each of these runs has (runs with none left out)."""

    @abc.abstractmethod
    def experiment_summaries(self) -> dict[str, dict[str, Any]]:
        """Per experiment: when it was ``created``, ``runs`` (top-level), ``active`` (runs
        not ended, children included) and ``last_created`` (None when empty)."""

    @abc.abstractmethod
    def metric_summaries(
        self, run_ids: Collection[str], names: Collection[str] | None = None
    ) -> dict[str, dict[str, dict[str, Any]]]:
        """Per run, ``{metric: {"last", "min", "max", "count"}}`` of its ``run.log`` and
        ``run.log_list`` numbers (only the metrics ``names``, when given), in logging
        order, kept by the writer: one read, whatever the runs' lengths. ``last`` is as
        logged (NaN, ±inf); min and max leave NaN out."""

    # -- change probes: "did anything change since?" for the cost of a primary-key read --
    @abc.abstractmethod
    def change_cursor(self) -> int:
        """The run change cursor: the largest ``RunRecord.seq`` (moves when any run's
        record changes, not with its heartbeat)."""

    @abc.abstractmethod
    def run_versions(self, run_ids: Collection[str]) -> dict[str, RunVersion]:
        """The versions of these runs (unknown ids are left out): compare two answers to
        learn whether a run, its data or its children changed in between."""

    # -- data ------------------------------------------------------------------------------
    @abc.abstractmethod
    def write(self, batches: Mapping[str, Batch]) -> None:
        """Append metric points, log lines and files of several runs in one transaction."""

    @abc.abstractmethod
    def read_metrics(
        self,
        run_id: str,
        *,
        since: int = 0,
        name: str | None = None,
        limit: int | None = None,
    ) -> list[MetricPoint]: ...

    @abc.abstractmethod
    def read_logs(
        self, run_id: str, *, since: int = 0, limit: int | None = None
    ) -> list[LogLine]: ...

    @abc.abstractmethod
    def list_files(
        self, run_id: str, *, kind: str | None = None, since: int = 0
    ) -> list[FileInfo]: ...

    @abc.abstractmethod
    def read_file(self, run_id: str, path: str) -> bytes: ...

    # -- compute targets -------------------------------------------------------------------
    @abc.abstractmethod
    def put_target(self, name: str, kind: str, config: Mapping[str, Any]) -> None:
        """Record (or replace) the compute target ``name``."""

    @abc.abstractmethod
    def list_targets(self) -> list[TargetRecord]:
        """Every recorded compute target, by name."""

    @abc.abstractmethod
    def delete_target(self, name: str) -> bool:
        """Remove the target ``name``; whether it was there."""

    # -- alerts ----------------------------------------------------------------------------
    @abc.abstractmethod
    def add_alert(
        self,
        run_id: str,
        *,
        kind: str,
        level: str,
        title: str,
        text: str = "",
        time: float,
        once_key: str | None = None,
    ) -> AlertRecord | None:
        """Record an alert of run ``run_id``. With ``once_key``, only when the run has no
        alert of that key yet (many processes may notice the same failure: one alert).

        Alerts get their ``seq`` in commit order, store-wide, so that ``list_alerts``
        readers following a cursor never skip one.

        Returns:
            The alert recorded, or None when ``once_key`` was taken already.
        """

    @abc.abstractmethod
    def list_alerts(
        self,
        *,
        run_ids: Collection[str] | None = None,
        since: int = 0,
        limit: int | None = None,
    ) -> list[AlertRecord]:
        """Alerts after cursor ``since``, oldest first: of the runs ``run_ids`` (an unknown
        one has none), or of every run."""

    def read_alerts(self, run_id: str, *, since: int = 0) -> list[AlertRecord]:
        """The alerts of one run after cursor ``since``, oldest first.

        Raises:
            RunNotFoundError: no such run.
        """
        self.get_run(run_id)
        return self.list_alerts(run_ids=[run_id], since=since)

    def alert_marks(self, run_ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """For the runs of ``run_ids`` that have alerts: ``{"count": n, "level": worst,
        "title": the latest's}``, for marking them in run lists."""
        marks: dict[str, dict[str, Any]] = {}
        for alert in self.list_alerts(run_ids=run_ids):
            mark = marks.setdefault(alert.run_id, {"count": 0, "level": alert.level})
            mark["count"] += 1
            mark["title"] = alert.title
            if _LEVEL_RANK.get(alert.level, 0) > _LEVEL_RANK.get(mark["level"], 0):
                mark["level"] = alert.level
        return marks

    # -- registered models (runwidget/store/sql_models.py) ----------------------------------
    @abc.abstractmethod
    def register_model(
        self,
        name: str,
        *,
        run_id: str,
        path: str,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> ModelRecord:
        """Record the next version of model ``name`` (1 for a new name): the files of run
        ``run_id`` at ``path``. Versions of one name count up by one, also when several
        processes register it at once.

        Raises:
            RunNotFoundError: no run ``run_id``.
        """

    @abc.abstractmethod
    def get_model(self, name: str, version: int | None = None) -> ModelRecord:
        """Version ``version`` of model ``name``; its latest when None.

        Raises:
            ModelNotFoundError: no such model, or no such version of it.
        """

    @abc.abstractmethod
    def list_models(self, name: str | None = None) -> list[ModelRecord]:
        """Registered models, every version (only those of ``name`` if given), newest
        registration first."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. The store may not be used afterwards."""

    # -- helpers built on the core --------------------------------------------------------
    def get_children(self, run_id: str, *, recursive: bool = False) -> list[RunRecord]:
        """Child runs in creation order; with ``recursive``, all descendants."""
        self.get_run(run_id)
        found: list[RunRecord] = []
        parents = [run_id]
        while parents:
            level: list[RunRecord] = []
            for parent in parents:
                level.extend(self.list_runs(parent_id=parent))
            level.sort(key=lambda r: (r.created, r.number))
            found.extend(level)
            parents = [r.id for r in level] if recursive else []
        return found

    def read_metric_columns(
        self, run_id: str, *, since: int = 0, blocks_from: int | None = None
    ) -> tuple[list[MetricColumns], int]:
        """Every point after cursor ``since``, grouped by metric, numbers as numpy columns;
        and the new cursor (the largest ``seq`` read, or ``since``).

        The same points as ``read_metrics``, for readers of long histories (a chart that
        downsamples a million points): built here on ``read_metrics``; a store may answer
        it without making a record per point. With ``blocks_from``, a store that keeps block
        summaries (runwidget/store/blocks.py) may give, for a metric with at least that
        many blocks and only numbers, the blocks and the points after them (only from the
        start, ``since == 0``); this one gives every point.
        """
        points: list[MetricPoint] = []
        cursor = since
        while True:
            page = self.read_metrics(run_id, since=cursor, limit=100_000)
            points += page
            if page:
                cursor = page[-1].seq
            if len(page) < 100_000:
                return metric_columns(points), cursor

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"
