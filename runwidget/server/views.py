"""``ViewCache``: one ``RunView`` per run, shared by every browser tab that shows it.

A client asks for ``(epoch, version)``: the view it has. It gets the deltas since that
version when the cache still holds them, else the whole snapshot. ``epoch`` names one
``RunView`` object: after a server restart or an eviction the client's version means
nothing, and the epoch tells it so.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runwidget.sources import StoreSource
from runwidget.store import RunStore
from runwidget.view import RunView
from runwidget.view.schema import ViewDelta

# A view is refreshed at most this often (seconds), however many tabs poll it.
MIN_REFRESH = 1.0
# Deltas kept per view for clients that fell behind.
HISTORY = 64


@dataclass
class _Entry:
    view: RunView
    epoch: str
    deltas: deque[ViewDelta] = field(default_factory=lambda: deque(maxlen=HISTORY))
    refreshed: float = 0.0
    used: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ViewCache:
    """Run views kept for polling clients.

    Args:
        store: the run store.
        image_url: the URL of a stored file of a run, ``(run_id, path) -> url``, for images
            too large to inline.
        portal_url: the URL of a run's portal page.
        max_views: the most views kept (the least recently used go first).
        max_idle: seconds after which an unused view is dropped.
    """

    def __init__(
        self,
        store: RunStore,
        *,
        image_url: Callable[[str, str], str],
        portal_url: Callable[[str], str] | None = None,
        max_views: int = 32,
        max_idle: float = 600.0,
        min_refresh: float = MIN_REFRESH,
    ) -> None:
        self.store = store
        self.image_url = image_url
        self.portal_url = portal_url
        self.max_views = max_views
        self.max_idle = max_idle
        self.min_refresh = min_refresh
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def _entry(self, run_id: str) -> _Entry:
        now = time.monotonic()
        with self._lock:
            for rid in [r for r, e in self._entries.items() if now - e.used > self.max_idle]:
                del self._entries[rid]
            entry = self._entries.pop(run_id, None)
            if entry is not None:
                entry.used = now
                self._entries[run_id] = entry
                return entry
        # Built outside the lock: it reads the store.
        source = StoreSource(self.store, run_id, portal_url=self.portal_url)
        view = RunView(source)
        entry = _Entry(view, secrets.token_hex(6))
        with self._lock:
            entry = self._entries.setdefault(run_id, entry)
            while len(self._entries) > self.max_views:
                self._entries.popitem(last=False)
        return entry

    def view(
        self, run_id: str, epoch: str | None = None, version: int | None = None
    ) -> dict[str, Any]:
        """The view of ``run_id`` for a client that has ``(epoch, version)``.

        Returns:
            ``{"epoch", "version", "snapshot"}`` or ``{"epoch", "version", "deltas"}``
            (deltas in order; empty when nothing changed).

        Raises:
            RunNotFoundError: no such run.
        """
        entry = self._entry(run_id)
        with entry.lock:
            now = time.monotonic()
            if now - entry.refreshed >= self.min_refresh:
                delta = entry.view.refresh()
                entry.refreshed = now
                if delta is not None:
                    self._link_images(run_id, delta.get("images", {}).get("add", ()))
                    entry.deltas.append(delta)
            current = entry.view.version
            if epoch == entry.epoch and version is not None and 0 <= version <= current:
                wanted = [d for d in entry.deltas if d["version"] > version]
                if len(wanted) == current - version:
                    return {"epoch": entry.epoch, "version": current, "deltas": wanted}
            snapshot = entry.view.snapshot()
            self._link_images(run_id, snapshot["images"])
            return {"epoch": entry.epoch, "version": current, "snapshot": snapshot}

    def _link_images(self, run_id: str, images: Any) -> None:
        for image in images:
            if not image.get("src"):
                image["src"] = self.image_url(run_id, image["path"])

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._entries.pop(run_id, None)
