"""The polling thread of a widget: one daemon thread that calls a function until told to stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

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

    def _loop(self, delay: float) -> None:
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
