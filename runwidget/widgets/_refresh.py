"""The refresh loop of a RunDetails: reads one ``RunView`` on a polling thread and hands
each delta to the widget, until the run and its children have ended (and one last refresh
after that), or it is stopped."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from runwidget.view import RunView
from runwidget.widgets._poller import ChangeGate, Poller

MAX_BACKOFF = 120.0
# How soon after seeing everything ended the one last refresh comes.
LAST_REFRESH_DELAY = 1.0
# The wait between two reads that catch up with child runs' metrics (each at most the
# view's child read budget long).
CATCH_UP_WAIT = 0.1


class RefreshLoop:
    """Reads ``view`` again and again: as soon as the change probe says its run changed, at
    least every ``interval`` seconds, at once while child runs are left unread, backing off
    while the source cannot be reached.

    The loop holds its widget's callbacks weakly: a widget that is dropped ends its loop.

    Args:
        view: the view read.
        lock: held through each read and the publishing of its delta (the widget holds it
            too while it changes what it shows).
        publish: takes each delta of the view.
        finished: called, under ``lock``, after the last refresh of an ended run.
        probing: whether to ask the source "changed?" between reads.
        interval: the longest wait between two reads, in seconds.
    """

    def __init__(
        self,
        view: RunView,
        lock: threading.RLock,
        *,
        publish: Callable[[Mapping[str, Any]], None],
        finished: Callable[[], None],
        probing: Callable[[], bool],
        interval: float,
    ) -> None:
        self.view = view
        self.interval = interval
        #: Set once the first full read (every chart's points) has been published.
        self.first_read = threading.Event()
        #: Whether the last refresh after the run ended was done (nothing left to read).
        self.final = False
        self._lock = lock
        self._publish = weakref.WeakMethod(publish)
        self._finished = weakref.WeakMethod(finished)
        self._probing = weakref.WeakMethod(probing)
        self._gate = ChangeGate()
        self._poller: Poller | None = None
        self._failures = 0
        self._last_refresh_due = False

    @property
    def polling(self) -> bool:
        """Whether the loop is reading (started, and neither stopped nor finished)."""
        return self._poller is not None

    def start(self, delay: float) -> bool:
        """Start reading, the first read after ``delay`` seconds.

        Returns:
            False when there is nothing left to read (the last refresh was done).
        """
        if self.final:
            return False
        if self._poller is None:
            self._last_refresh_due = False

            def tick() -> float | None:
                return self.tick(poller)

            name = f"runwidget-poll-{self.view.source.run_id}"
            poller = self._poller = Poller(tick, self.interval, name=name)
            poller.start(delay=delay)
        return True

    def stop(self) -> Poller | None:
        """Tell the thread to stop; the caller joins the poller returned after releasing the
        lock (a read in progress waits for the lock, sees it was stopped, and ends)."""
        poller, self._poller = self._poller, None
        if poller is not None:
            poller.stop(timeout=0)
        return poller

    def set_interval(self, interval: float) -> None:
        """Change the longest wait, and read now."""
        self.interval = interval
        if self._poller is not None:
            self._poller.interval = interval
            self._poller.wake()

    def tick(self, poller: Poller) -> float | None:
        """One poll: read if the probe says so, and publish what changed.

        Returns:
            The seconds until the next poll, or None to end the thread.
        """
        with self._lock:
            publish = self._publish()
            if publish is None or poller is not self._poller:
                return None  # stopped, or the widget is gone
            view = self.view
            probed = [view.source] if self._probes() and view.reachable else []
            # Child runs left unread by the last read, and the last refresh, wait for no change.
            due = self._last_refresh_due or view.behind
            if not self._gate.should_read(probed, self.interval, force=due):
                return self._gate.next_wait(self.interval)  # nothing changed: nothing sent
            # The first full read sends the run's own charts before its children's metrics.
            delta = view.refresh(child_metrics=self.first_read.is_set())
            if delta is not None:
                publish(delta)
            self.first_read.set()
            if not view.reachable:
                self._failures += 1
                return min(self.interval * 2.0**self._failures, MAX_BACKOFF)
            self._failures = 0
            if view.behind:
                # Child runs left unread: go on soon, the kernel left free in between (for
                # the page being drawn, and the cells running).
                return CATCH_UP_WAIT
            if not view.terminal:
                self._last_refresh_due = False
                return self._gate.next_wait(self.interval)
            if not self._last_refresh_due:
                self._last_refresh_due = True
                return LAST_REFRESH_DELAY
            self.final = True
            self._poller = None
            finished = self._finished()
            if finished is not None:
                finished()
            return None

    def _probes(self) -> bool:
        probing = self._probing()
        return probing is not None and probing() is not False
