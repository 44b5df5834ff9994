"""Buffered writing: ``run.log`` appends to memory; a daemon thread writes batches.

Training code never waits on the store and never dies because of it: points wait in a
bounded buffer while the store is unreachable, the thread retries with backoff, and
the user is warned once per outage. Everything left is flushed at interpreter exit.
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from runwidget import _settings
from runwidget.errors import (
    RunNotFoundError,
    RunwidgetWarning,
    StoreUnavailableError,
)
from runwidget.store import Batch, NewFile, RunStore, redact_uri
from runwidget.tracking._validate import clean_text

logger = logging.getLogger("runwidget")

# Items (points, lines, files) kept while the store is unreachable: $RUNWIDGET_MAX_BUFFERED,
# read with the other settings in runwidget._settings; past it new items are dropped with a
# warning. 2M points is about 70 minutes of 500 points/s.
# Wake the writer early when this many items wait, so memory stays small in fast loops.
EAGER_BATCH = 20_000
MAX_BACKOFF = 10.0


class Flusher:
    """One per store and process: the buffer of every run written through that store."""

    def __init__(self, store: RunStore, interval: float | None = None) -> None:
        self.store = store
        self.interval = _settings.flush_interval() if interval is None else interval
        # Read once: the hot path checks them on every point.
        self._max_buffered = _settings.max_buffered()
        self._beat_interval = _settings.heartbeat_interval()
        self._lock = threading.Lock()  # guards the buffer
        self._write_lock = threading.Lock()  # one write at a time keeps each run's order
        self._pending: dict[str, Batch] = {}
        # Run changes and other writes, in order, each applied after the data queued before it.
        self._updates: list[Callable[[], None]] = []
        self._count = 0
        self._dropped = 0
        self._alive: set[str] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        # Each write attempt takes the whole buffer; a flush waits for the first attempt
        # taken after it was called to succeed (a failed one gives its items back, so a
        # later success holds them too). Only the writer thread writes: a flush keeps its
        # time limit whatever the store is doing.
        self._done = threading.Condition(threading.Lock())
        self._takes = 0
        self._written = 0
        self._thread: threading.Thread | None = None
        self._failing_since: float | None = None
        self._last_beat = 0.0
        # Below this many buffered items, add_metric skips the eager-write and bound checks.
        self._fast_limit = min(EAGER_BATCH, self._max_buffered) - 1

    # -- queueing (hot path) ---------------------------------------------------------------
    def _batch(self, run_id: str) -> Batch:
        batch = self._pending.get(run_id)
        if batch is None:
            batch = self._pending[run_id] = Batch()
        return batch

    def _admit(self, n: int) -> bool:
        """Whether ``n`` more items fit; call with the lock held."""
        if self._count + n > self._max_buffered:
            if self._dropped == 0:
                _warn(
                    f"runwidget buffer is full ({self._max_buffered} items waiting for the store "
                    f"{redact_uri(self.store.uri)}); new points are being dropped. "
                    "Set RUNWIDGET_MAX_BUFFERED to keep more."
                )
            self._dropped += n
            return False
        self._count += n
        if self._count >= EAGER_BATCH:
            self._wake.set()
        return True

    def add_metrics(
        self, run_id: str, rows: Sequence[tuple[str, str, float | None, Any, float]]
    ) -> None:
        with self._lock:
            if self._admit(len(rows)):
                self._batch(run_id).metrics.extend(rows)
        self._ensure_thread()

    def add_metric(self, run_id: str, row: tuple[str, str, float | None, Any, float]) -> None:
        with self._lock:
            if self._count < self._fast_limit:
                # The common case, kept short: run.log() is called in tight loops.
                self._count += 1
                batch = self._pending.get(run_id)
                if batch is None:
                    batch = self._pending[run_id] = Batch()
                batch.metrics.append(row)
            elif self._admit(1):
                self._batch(run_id).metrics.append(row)
        if self._thread is None:
            self._ensure_thread()

    def add_logs(self, run_id: str, lines: list[tuple[str, str, float]]) -> None:
        # Output is never refused: what a store cannot hold (NUL, lone surrogates) is replaced.
        lines = [(stream, clean_text(text), at) for stream, text, at in lines]
        with self._lock:
            if self._admit(len(lines)):
                self._batch(run_id).logs.extend(lines)
        self._ensure_thread()

    def add_file(self, run_id: str, file: NewFile) -> None:
        with self._lock:
            if self._admit(1):
                self._batch(run_id).files.append(file)
        self._ensure_thread()

    def update_run(self, run_id: str, **changes: Any) -> None:
        """Queue a change to a run, applied after the data queued before it."""
        with self._lock:
            self._updates.append(functools.partial(self._apply_update, run_id, changes))
        self._ensure_thread()

    def call(self, task: Callable[[RunStore], None], what: str) -> None:
        """Queue ``task(store)``, run on the writer thread after what was queued before it.

        A task that meets an outage (``StoreUnavailableError``) is run again, whole, when the
        store is back: it must be safe to repeat. Any other error leaves it out, with a
        warning naming ``what`` it was to do. For producers other than ``run.log`` (an
        Optuna study's trials): one writer per store, one retry policy, one warning.
        """
        with self._lock:
            self._updates.append(functools.partial(self._run_task, task, what))
        self._ensure_thread()

    def set_alive(self, run_id: str, alive: bool) -> None:
        """Beat this run's heartbeat while it is alive in this process."""
        with self._lock:
            if alive:
                self._alive.add(run_id)
            else:
                self._alive.discard(run_id)
        if alive:
            self._ensure_thread()

    def pending(self) -> int:
        return self._count + len(self._updates)

    # -- writing ---------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is written, at most ``timeout`` seconds
        (forever with None). Returns whether it was written; if not, it stays queued."""
        with self._lock:
            need = self._takes + 1
            nothing_left = self._count == 0 and not self._updates
        if nothing_left:
            with self._done:
                if self._written >= self._takes:  # no write under way
                    return True
                need = self._takes
        if not self._writer_can_run():
            return self._flush_here(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wake.set()
        with self._done:
            while self._written < need:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._done.wait(left if left is None else min(left, 1.0))
                if self._written < need:
                    self._wake.set()
        return True

    def _writer_can_run(self) -> bool:
        if threading.current_thread() is self._thread:
            return False
        try:
            self._ensure_thread()
        except RuntimeError:  # no new threads at interpreter shutdown
            return False
        return self._thread is not None and self._thread.is_alive()

    def _flush_here(self, timeout: float | None) -> bool:
        """Write from the calling thread (the writer itself, or at interpreter shutdown)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.05
        while not self._write_once():
            if deadline is not None and time.monotonic() + delay > deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)
        return True

    def _write_once(self) -> bool:
        """One attempt to write what is buffered now. Returns whether it was written."""
        with self._write_lock:
            with self._lock:
                batches, self._pending = self._pending, {}
                updates, self._updates = self._updates, []
                self._count = 0
                self._takes += 1
                take = self._takes
            ok = False
            try:
                self._write_batches(batches)
                while updates:
                    updates[0]()
                    updates.pop(0)
                ok = True
                # Before waking the flushes that wait for this write: the recovery is logged
                # by the time they return.
                self._note_success()
            except StoreUnavailableError as e:
                self._give_back(batches, updates)
                self._note_failure(e)
            finally:
                with self._done:
                    if ok:
                        self._written = take
                    self._done.notify_all()
            return ok

    def _write_batches(self, batches: dict[str, Batch]) -> None:
        """Write ``batches``, removing from it what was written.

        An error other than an outage means some item can never be written: the batch is
        split until that item is alone, every other item is written and the bad one is left
        out with a warning. Other runs' items never pay for one bad value.

        Raises:
            StoreUnavailableError: the store is unreachable; ``batches`` holds what is left.
        """
        if not batches:
            return
        try:
            self.store.write(batches)
            batches.clear()
            return
        except StoreUnavailableError:
            raise
        except Exception as e:
            logger.debug("store write failed (%s); writing run by run", e)
        for run_id in list(batches):
            self._write_run(run_id, batches)

    def _write_run(self, run_id: str, batches: dict[str, Batch]) -> None:
        parts = [batches[run_id]]
        while parts:
            part = parts.pop(0)
            try:
                self.store.write({run_id: part})
            except StoreUnavailableError:
                batches[run_id] = _joined([part, *parts])
                raise
            except RunNotFoundError as e:
                left = sum(len(p) for p in parts) + len(part)
                _warn(f"runwidget dropped {left} items of run {run_id!r}: {e}")
                break
            except Exception as e:
                if len(part) > 1:
                    parts[:0] = _halves(part)
                    continue
                _warn(f"runwidget left out {_describe(part)} of run {run_id!r}: {e}")
        del batches[run_id]

    def _apply_update(self, run_id: str, changes: dict[str, Any]) -> None:
        try:
            self.store.update_run(run_id, **changes)
        except StoreUnavailableError:
            raise
        except Exception as e:
            what = ", ".join(sorted(changes))
            _warn(f"runwidget could not update run {run_id!r} ({what}): {e}")

    def _run_task(self, task: Callable[[RunStore], None], what: str) -> None:
        try:
            task(self.store)
        except StoreUnavailableError:
            raise
        except Exception as e:
            _warn(f"runwidget could not {what}: {e}")

    def _give_back(self, batches: dict[str, Batch], updates: list[Any]) -> None:
        """Put unwritten items back in front of what was queued meanwhile."""
        taken = sum(len(batch) for batch in batches.values())
        with self._lock:
            for run_id, newer in self._pending.items():
                older = batches.get(run_id)
                if older is None:
                    batches[run_id] = newer
                else:
                    older.metrics.extend(newer.metrics)
                    older.logs.extend(newer.logs)
                    older.files.extend(newer.files)
            self._pending = batches
            self._updates = updates + self._updates
            self._count += taken

    def _note_failure(self, error: StoreUnavailableError) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            _warn(
                f"runwidget cannot reach the run store ({error}); keeping "
                f"{self.pending()} items in memory and retrying. Training goes on."
            )
        logger.debug("store write failed: %s", error)

    def _note_success(self) -> None:
        if self._failing_since is not None:
            logger.warning(
                "runwidget reached the run store %s again after %.0f s; buffered items written",
                redact_uri(self.store.uri),
                time.monotonic() - self._failing_since,
            )
            self._failing_since = None

    # -- background thread -----------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="runwidget-flusher", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        delay = self.interval
        while not self._stop.is_set():
            self._wake.wait(delay)
            self._wake.clear()
            try:
                ok = self._write_once() if self.pending() else True
                self._beat()
            except Exception:  # a bug here must not stop the writing of later points
                logger.exception("runwidget writer thread error")
                ok = False
            delay = self.interval if ok else min(max(delay * 2, 0.5), MAX_BACKOFF)

    def _beat(self) -> None:
        now = time.time()
        if not self._alive or now - self._last_beat < self._beat_interval:
            return
        self._last_beat = now
        try:
            self.store.beat(list(self._alive), now)
        except StoreUnavailableError as e:
            logger.debug("heartbeat failed: %s", e)

    def close(self, timeout: float | None = None) -> None:
        """Flush what is left (waiting up to ``timeout`` s for the store) and stop.

        ``timeout`` defaults to ``$RUNWIDGET_EXIT_FLUSH_TIMEOUT`` (60 s).
        """
        if timeout is None:
            timeout = _settings.exit_flush_timeout()
        if self.pending():
            if self._failing_since is not None:
                logger.warning(
                    "runwidget: waiting up to %.0f s for the run store to write %d items",
                    timeout,
                    self.pending(),
                )
            if not self.flush(timeout):
                logger.error(
                    "runwidget lost %d items: the run store %s stayed unreachable",
                    self.pending(),
                    redact_uri(self.store.uri),
                )
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)


_flushers: weakref.WeakKeyDictionary[RunStore, Flusher] = weakref.WeakKeyDictionary()
_flushers_lock = threading.Lock()


def flusher_for(store: RunStore) -> Flusher:
    with _flushers_lock:
        flusher = _flushers.get(store)
        if flusher is None:
            flusher = _flushers[store] = Flusher(store)
        return flusher


def close_all(timeout: float | None = None, forget: bool = False) -> None:
    """Close every writer (at exit); with ``forget``, the next ``flusher_for`` starts anew."""
    for flusher in list(_flushers.values()):
        flusher.close(timeout)
    if forget:
        _flushers.clear()


def _halves(batch: Batch) -> list[Batch]:
    """``batch`` split in two, each half keeping its items' order."""
    items: list[tuple[str, Any]] = [("metrics", m) for m in batch.metrics]
    items += [("logs", line) for line in batch.logs]
    items += [("files", f) for f in batch.files]
    middle = len(items) // 2
    halves = []
    for chunk in (items[:middle], items[middle:]):
        half = Batch()
        for kind, item in chunk:
            getattr(half, kind).append(item)
        halves.append(half)
    return halves


def _joined(parts: list[Batch]) -> Batch:
    whole = Batch()
    for part in parts:
        whole.metrics.extend(part.metrics)
        whole.logs.extend(part.logs)
        whole.files.extend(part.files)
    return whole


def _describe(batch: Batch) -> str:
    if batch.metrics:
        return f"a point of metric {batch.metrics[0][0]!r}"
    if batch.logs:
        return "a log line"
    return f"file {batch.files[0].path!r}"


def _warn(message: str, warn: Callable[..., None] = warnings.warn) -> None:
    # The warning is what users see; the log record is for those who configured logging.
    logger.debug(message)
    try:
        warn(message, RunwidgetWarning, stacklevel=3)
    except Warning:
        # Warnings turned into errors must not kill the writer thread; it was logged.
        if threading.current_thread() is threading.main_thread():
            raise


atexit.register(close_all)
