"""The compute targets the portal lists: each one's kind, address and whether it answers.

Describing a target may probe it over the network (a Ray cluster's dashboard), each probe
limited by ``RUNWIDGET_CONNECT_TIMEOUT``. The probes run at once in threads of their own,
never in the server's event loop nor in the service's workers, and the answer waits for
them at most that long: a target that has not answered by then reads as unreachable.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from typing import Any

from runwidget._settings import connect_timeout
from runwidget.errors import InvalidValueError
from runwidget.server.lists import LOCAL_TARGET
from runwidget.store import RunStore

logger = logging.getLogger("runwidget")

# Probes in flight at once; more targets wait for a free thread (within the same deadline).
PROBES = 8
# A description is reused for this many seconds: pages that poll do not probe each time.
REUSE_FOR = 5.0
_pool = concurrent.futures.ThreadPoolExecutor(PROBES, thread_name_prefix="runwidget-probe")


def _timeout() -> float:
    try:
        return connect_timeout()
    except InvalidValueError:
        return 10.0


def _describe(target: Any) -> dict[str, Any]:
    try:
        found = dict(target.describe())
    except Exception as e:  # noqa: BLE001 (a target that cannot say is shown as such)
        return {"reachable": False, "problem": f"{type(e).__name__}: {e}"}
    found.setdefault("problem", None)
    return found


class TargetDirectory:
    """Describes the compute targets recorded in ``store``, ``local`` first."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._cached: tuple[float, list[dict[str, Any]]] | None = None

    def describe(self) -> list[dict[str, Any]]:
        """``{name, kind, address, reachable, problem}`` of every target (blocking)."""
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < REUSE_FOR:
                return [dict(t) for t in self._cached[1]]
        found = self._probe()
        with self._lock:
            self._cached = (time.monotonic(), found)
        return [dict(t) for t in found]

    def _probe(self) -> list[dict[str, Any]]:
        from runwidget.compute import list_targets
        from runwidget.tracking import Workspace

        records = {r.name: r for r in self.store.list_targets()}
        targets = list_targets(Workspace(self.store))
        timeout = _timeout()
        futures = {name: _pool.submit(_describe, t) for name, t in targets.items()}
        done, _ = concurrent.futures.wait(futures.values(), timeout=timeout + 0.5)
        found: list[dict[str, Any]] = []
        for name, target in targets.items():
            base = {
                "name": name,
                "kind": getattr(target, "kind", None),
                "address": (records[name].config.get("address") if name in records else None),
                "reachable": False,
                "problem": None,
            }
            future = futures[name]
            if future in done:
                base.update(future.result())
            else:
                base["problem"] = f"no answer within {timeout:g} s (RUNWIDGET_CONNECT_TIMEOUT)"
            base["name"] = name
            found.append(base)
        for name, record in records.items():
            if name not in targets:  # a kind this version does not know
                found.append({
                    "name": name,
                    "kind": record.kind,
                    "address": record.config.get("address"),
                    "reachable": False,
                    "problem": f"unknown compute target kind {record.kind!r}",
                })  # fmt: skip
        local = [t for t in found if t["name"] == LOCAL_TARGET]
        return local + [t for t in found if t["name"] != LOCAL_TARGET]
