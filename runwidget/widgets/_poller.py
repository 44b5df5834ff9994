"""The polling of a widget: one daemon thread that calls a function until told to stop
(``Poller``), and the change probe that says whether a poll reads (``ChangeGate``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("runwidget")


class Poller:
    """Calls ``tick`` on a daemon thread; ``tick`` returns the seconds to wait before the
    next call, or None to end the thread.

    Args:
        tick: the work of one poll. An exception is logged and polling goes on after
            ``interval`` seconds.
        interval: the wait used when ``tick`` raises.
        name: the thread's name.
    """

    def __init__(self, tick: Callable[[], float | None], interval: float, name: str) -> None:
        self._tick = tick
        self.interval = interval
        self._name = name
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, delay: float | None = None) -> None:
        """Start the thread; the first tick comes after ``delay`` (default: ``interval``)."""
        if self.alive:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop,
            args=(self.interval if delay is None else delay,),
            name=self._name,
            daemon=True,
        )
        self._thread.start()

    def wake(self) -> None:
        """Tick now instead of at the end of the current wait."""
        self._wake.set()

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Ask the thread to end and wait for it (a tick in progress finishes first).

        Returns:
            Whether the thread has ended.
        """
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _loop(self, delay: float | None) -> None:
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                delay = self._tick()
            except Exception:
                logger.exception("runwidget: a poll failed; trying again")
                delay = self.interval
            if delay is None or self._stop.is_set():
                return


# Seconds between two change probes of a source that has them (``RunSource.version``): a
# change is read within about this, and a busy run is redrawn at most this often.
PROBE_INTERVAL = 0.5


def version_of(source: Any) -> Any:
    """The source's version now, or None (no probe, or an outage: read at the interval; the
    read that follows says what is wrong)."""
    try:
        return source.version()
    except Exception:
        return None


class ChangeGate:
    """Decides whether a poll reads its sources: yes when a change probe says one of them
    changed, when ``interval`` seconds went by since the last read, or when a source has
    no probe (``version()`` is None); no otherwise, so an idle run costs one probe a poll
    and nothing on the wire. RunDetails and RunComparison both poll through one."""

    def __init__(self) -> None:
        self._seen: list[Any] | None = None
        self._read_at = 0.0
        #: Whether every source answered the last probe (then poll every PROBE_INTERVAL).
        self.probing = False

    def should_read(self, sources: list[Any], interval: float, *, force: bool = False) -> bool:
        """Probe ``sources`` (none: no probes, read at each call); True when they are to be
        read now, and then the versions seen and the time count as read.

        Args:
            sources: the sources to probe.
            interval: the longest time between two reads.
            force: read whatever the probes say.
        """
        versions = [version_of(s) for s in sources]
        self.probing = bool(versions) and None not in versions
        quiet = time.monotonic() - self._read_at < interval
        if self.probing and quiet and not force and versions == self._seen:
            return False
        self._seen, self._read_at = versions, time.monotonic()
        return True

    def next_wait(self, interval: float) -> float:
        """The wait before the next poll: a probe's, or the interval without probes."""
        return min(interval, PROBE_INTERVAL) if self.probing else interval
