"""``ChangeFeed``: tells the browsers a server serves that runs changed, within about a
quarter of a second, so that the sidebar and the run pages read at once instead of at
their next timer.

One daemon thread per served store asks the store's change probes, which cost one read
by primary key (on SQLite not even that while no connection committed):

* the change cursor: when it moved, the runs whose record changed are read (by index)
  and announced (``runs``: id, experiment, parent, status);
* the versions of the runs someone looked at in the last ``WATCH_SECONDS`` (their view or
  record was asked for): when one moved, it is announced in ``data`` (new points or lines).

Listeners are called on the feed's thread with each event, a JSON-ready dict. The
Jupyter extension hands the events to jupyter_server's event bus; the standalone portal
streams them as server-sent events.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from runwidget.store import RunStore, RunVersion

logger = logging.getLogger("runwidget")

# Seconds between two probes.
PROBE_SECONDS = 0.25
# A run is watched this long after its view was last asked for.
WATCH_SECONDS = 120.0
# The most runs one event names (more: the listeners reload their lists).
MAX_RUNS_PER_EVENT = 200
# After a failed probe (the store is down), the next comes after this many seconds.
RETRY_SECONDS = 5.0

Event = dict[str, Any]
Listener = Callable[[Event], None]


class ChangeFeed:
    """Announces changes of a store's runs to listeners.

    Args:
        store: a callable giving the store once it is open (None while it is not).
        probe_seconds: time between two probes.
    """

    def __init__(
        self, store: Callable[[], RunStore | None], *, probe_seconds: float = PROBE_SECONDS
    ) -> None:
        self._store = store
        self.probe_seconds = probe_seconds
        self._listeners: list[Listener] = []
        self._watched: dict[str, float] = {}  # run id -> time.monotonic() of the last look
        self._versions: dict[str, RunVersion] = {}
        self._cursor: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- listeners -------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event from now on; returns the unsubscribe call.
        The first listener starts the feed's thread."""
        with self._lock:
            self._listeners.append(listener)
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._loop, name="runwidget-change-feed", daemon=True
                )
                self._thread.start()

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def watch(self, run_id: str) -> None:
        """Someone looks at this run: announce changes of its data for a while."""
        with self._lock:
            self._watched[run_id] = time.monotonic()

    def stop(self) -> None:
        self._stop.set()

    # -- the thread ------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.wait(self.probe_seconds):
            store = self._store()
            if store is None:
                continue
            try:
                event = self.probe(store)
            except Exception as e:  # the store is down: say so once, try again later
                logger.debug("runwidget: change probe failed: %s", e)
                self._stop.wait(RETRY_SECONDS)
                continue
            if event is not None:
                self._send(event)

    def probe(self, store: RunStore) -> Event | None:
        """One look at the store: the event to send, or None when nothing changed."""
        cursor = store.change_cursor()
        event: Event = {"cursor": cursor, "runs": [], "data": [], "more": False}
        if self._cursor is None:
            self._cursor = cursor  # the first look only learns where the store is
        elif cursor != self._cursor:
            changed = store.changed_runs(since=self._cursor, limit=MAX_RUNS_PER_EVENT)
            event["runs"] = [
                {"id": r.id, "experiment": r.experiment, "parent_id": r.parent_id,
                 "status": r.status}
                for r in changed
            ]  # fmt: skip
            event["more"] = len(changed) == MAX_RUNS_PER_EVENT
            self._cursor = changed[-1].seq if event["more"] else cursor
        now = time.monotonic()
        with self._lock:
            for run_id, seen in list(self._watched.items()):
                if now - seen > WATCH_SECONDS:
                    del self._watched[run_id]
                    self._versions.pop(run_id, None)
            watched = list(self._watched)
        if watched:
            versions = store.run_versions(watched)
            for run_id, version in versions.items():
                before = self._versions.get(run_id)
                self._versions[run_id] = version
                if before is not None and before != version:
                    event["data"].append(run_id)
        if not event["runs"] and not event["data"]:
            return None
        return event

    def _send(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("runwidget: a change listener failed")
