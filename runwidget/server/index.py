"""``RunIndex``: the store's run records mirrored in memory, kept current through the
store's change cursor, so that listing, filtering, searching and paging cost no query.

A sync reads only the runs changed since the last one (``list_runs(since=cursor)``). The
heartbeat does not move a run's change cursor, so the runs that are alive are re-read as a
group when their copy might read as NotResponding by mistake.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from runwidget import status as st
from runwidget.store import RunRecord, RunStore

# A sync at most this often (seconds); requests in between read the mirror as it is.
MIN_SYNC_INTERVAL = 1.0
# Alive runs are re-read when their copy's heartbeat is older than this (seconds), at most
# once per HEARTBEAT_RECHECK / 2: a status reads NotResponding after 60 s without a beat.
HEARTBEAT_RECHECK = 20.0
# Statuses the filter "active" selects: queued and running, not ended.
ACTIVE = tuple(s for s in st.ALL if s not in st.TERMINAL)
# How a target's runs are counted: waiting for it, on it, done.
WAITING = frozenset({st.NOT_STARTED, st.QUEUED})
LOCAL_TARGET = "local"


def target_of(record: RunRecord) -> str:
    """The compute target a run was submitted to (``local`` when none is recorded)."""
    return record.target or LOCAL_TARGET


def count_kind(status: str) -> str:
    """``queued``, ``running`` or ``ended``: the column of a target's counts ``status`` adds
    to (NotResponding counts as running: nothing said that it ended)."""
    if status in st.TERMINAL:
        return "ended"
    return "queued" if status in WAITING else "running"


@dataclass(frozen=True, slots=True)
class RunQuery:
    """Which runs a list shows.

    Args:
        experiment: only runs of this experiment.
        parent: ``None`` for every run, ``""`` for top-level runs, else a parent run id.
        statuses: only runs whose shown status is one of these.
        search: a case-insensitive text that the name, id, experiment or a tag contains.
        target: only runs of this compute target (``local`` by default).
    """

    experiment: str | None = None
    parent: str | None = None
    statuses: frozenset[str] | None = None
    search: str | None = None
    target: str | None = None

    def matcher(self, now: float) -> Callable[[_Entry], bool]:
        experiment, parent, statuses = self.experiment, self.parent, self.statuses
        target = self.target
        needle = " ".join((self.search or "").lower().split())

        def match(entry: _Entry) -> bool:
            r = entry.record
            if experiment is not None and r.experiment != experiment:
                return False
            if parent is not None and (r.parent_id or "") != parent:
                return False
            if statuses is not None and r.current_status(now) not in statuses:
                return False
            if target is not None and target_of(r) != target:
                return False
            return needle in entry.text

        return match


@dataclass(slots=True)
class _Entry:
    record: RunRecord
    text: str  # lower-case search text

    @classmethod
    def of(cls, record: RunRecord) -> _Entry:
        tags = " ".join(f"{k} {v}" for k, v in record.tags.items())
        text = f"{record.display_name}\n{record.id}\n{record.experiment}\n{record.run_type}\n{tags}"
        return cls(record, " ".join(text.lower().split(" ")))


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a run list."""

    records: list[RunRecord]
    total: int
    offset: int
    cursor: int  # the index's change cursor when the page was made


class RunIndex:
    """Every run record of a store, in memory.

    Thread-safe: syncs are serialised; readers get consistent lists.

    Args:
        store: the run store mirrored.
        min_interval: the shortest time between two syncs with the store.
    """

    def __init__(self, store: RunStore, *, min_interval: float = MIN_SYNC_INTERVAL) -> None:
        self.store = store
        self.min_interval = min_interval
        self.cursor = 0
        self._entries: dict[str, _Entry] = {}
        self._children: Counter[str] = Counter()
        self._ordered: list[_Entry] | None = None  # newest first; None when stale
        self._synced_at = 0.0
        self._rechecked_at = 0.0
        self._lock = threading.Lock()  # guards the mirror
        self._sync_lock = threading.Lock()  # one sync at a time

    # -- keeping current -------------------------------------------------------------------
    def sync(self, *, force: bool = False) -> int:
        """Read what changed in the store since the last sync; returns the change cursor.

        Raises:
            StoreUnavailableError: the store cannot be reached (the mirror is kept).
        """
        if not force and time.monotonic() - self._synced_at < self.min_interval:
            return self.cursor
        with self._sync_lock:
            if not force and time.monotonic() - self._synced_at < self.min_interval:
                return self.cursor
            changed = self.store.list_runs(since=self.cursor)
            now = time.time()
            stale = now - self._rechecked_at > HEARTBEAT_RECHECK / 2 and any(
                e.record.status in st.ALIVE
                and (e.record.heartbeat is None or now - e.record.heartbeat > HEARTBEAT_RECHECK)
                for e in list(self._entries.values())
            )
            if stale:
                self._rechecked_at = now
                seen = {r.id for r in changed}
                changed += [r for r in self.store.list_runs(status=st.ALIVE) if r.id not in seen]
            self._apply(changed)
            self._synced_at = time.monotonic()
            return self.cursor

    def warm(self) -> None:
        """Read every run now (at start-up), without delaying the next request's sync."""
        with self._sync_lock:
            self._apply(self.store.list_runs(since=self.cursor))

    def _apply(self, records: Iterable[RunRecord]) -> None:
        with self._lock:
            for record in records:
                old = self._entries.get(record.id)
                if old is None:
                    if record.parent_id:
                        self._children[record.parent_id] += 1
                    self._ordered = None
                elif old.record.created != record.created:
                    self._ordered = None
                self._entries[record.id] = _Entry.of(record)
                self.cursor = max(self.cursor, record.seq)
            if self._ordered is not None:
                # Same order, new records: refresh the entries in place.
                self._ordered = [self._entries[e.record.id] for e in self._ordered]

    # -- reading ---------------------------------------------------------------------------
    def _newest_first(self) -> list[_Entry]:
        with self._lock:
            if self._ordered is None:
                self._ordered = sorted(
                    self._entries.values(),
                    key=lambda e: (e.record.created, e.record.number, e.record.id),
                    reverse=True,
                )
            return self._ordered

    def get(self, run_id: str) -> RunRecord | None:
        entry = self._entries.get(run_id)
        return None if entry is None else entry.record

    def child_count(self, run_id: str) -> int:
        return self._children.get(run_id, 0)

    def __len__(self) -> int:
        return len(self._entries)

    def page(self, query: RunQuery, *, offset: int = 0, limit: int = 100) -> Page:
        """Runs matching ``query``, newest first, ``limit`` of them from ``offset``."""
        cursor = self.cursor
        match = query.matcher(time.time())
        ordered = self._newest_first()
        if query == RunQuery():
            selected: list[_Entry] | Iterable[_Entry] = ordered
            total = len(ordered)
            records = [e.record for e in ordered[offset : offset + limit]]
        else:
            selected = [e for e in ordered if match(e)]
            total = len(selected)
            records = [e.record for e in selected[offset : offset + limit]]
        return Page(records, total, offset, cursor)

    def changed(self, query: RunQuery, since: int, *, limit: int = 1000) -> Page:
        """Runs matching ``query`` whose record changed after cursor ``since``, in change
        order. ``total`` counts every run matching ``query`` now."""
        match = query.matcher(time.time())
        with self._lock:
            entries = list(self._entries.values())
        found = sorted((e for e in entries if e.record.seq > since), key=lambda e: e.record.seq)
        total = sum(1 for e in entries if match(e))
        records = [e.record for e in found if match(e)][:limit]
        cursor = records[-1].seq if len(records) == limit else self.cursor
        return Page(records, total, 0, cursor)

    def experiments(self) -> list[dict[str, Any]]:
        """Each experiment with counts of its runs, active runs, and its last activity."""
        now = time.time()
        summary: dict[str, dict[str, Any]] = {}
        for exp in self.store.list_experiments():
            summary[exp.name] = {
                "name": exp.name,
                "created": exp.created,
                "runs": 0,
                "active": 0,
                "last_created": None,
            }
        with self._lock:
            records = [e.record for e in self._entries.values()]
        for r in records:
            item = summary.get(r.experiment)
            if item is None:
                continue
            if r.parent_id is None:
                item["runs"] += 1
            if r.current_status(now) in ACTIVE:
                item["active"] += 1
            if item["last_created"] is None or r.created > item["last_created"]:
                item["last_created"] = r.created
        return sorted(
            summary.values(), key=lambda e: e["last_created"] or e["created"], reverse=True
        )

    def target_counts(self) -> dict[str, dict[str, int]]:
        """Per compute target, its runs (child runs included) queued, running and ended."""
        now = time.time()
        with self._lock:
            records = [e.record for e in self._entries.values()]
        counts: dict[str, dict[str, int]] = {}
        for r in records:
            item = counts.setdefault(target_of(r), {"queued": 0, "running": 0, "ended": 0})
            item[count_kind(r.current_status(now))] += 1
        return counts

    def runs_of(self, run_ids: Collection[str]) -> list[RunRecord]:
        return [e.record for rid in run_ids if (e := self._entries.get(rid)) is not None]
