"""The local queue: at most N scripts run at once on a machine; the others wait, oldest first.

A run waits with a *ticket* (``queue/<submit time>-<run id>.ticket``) that the submitting
process creates and the run's supervisor holds locked while it waits. A supervisor may take a
*slot* (``slots/<n>.lock``, ``n < N``) only when no live ticket is older than its own, so runs
start in the order they were submitted. Both are advisory file locks: the kernel drops them
when their process dies, however it dies (even SIGKILL), so a crashed supervisor never keeps
a slot or blocks the queue. A ticket that nobody has locked yet belongs to a supervisor still
starting; it is only taken for dead after ``TICKET_START_TIMEOUT`` seconds.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from runwidget.execution._local import ensure_dir

# How long a supervisor may take to start and lock its ticket before it is taken for dead.
TICKET_START_TIMEOUT = 60.0
POLL = 0.2


def ticket_path(base: Path, run_id: str, submitted: float) -> Path:
    # Fixed-width nanoseconds: names sort in submission order.
    return base / "queue" / f"{int(submitted * 1e9):020d}-{run_id}.ticket"


def create_ticket(base: Path, run_id: str, submitted: float) -> Path:
    """Put a run in the queue (done by the submitting process, before its supervisor starts)."""
    path = ticket_path(base, run_id, submitted)
    ensure_dir(path.parent)
    path.touch()
    return path


def remove_ticket(base: Path, run_id: str) -> None:
    """Take a run out of the queue whatever state its supervisor is in (cancel, failure)."""
    for path in (base / "queue").glob(f"*-{run_id}.ticket"):
        path.unlink(missing_ok=True)


def _try_lock(path: Path, create: bool) -> int | None:
    """An fd holding an exclusive lock on ``path``, or None if another process holds it."""
    import fcntl  # POSIX only; submit refuses other systems before coming here

    flags = os.O_RDWR | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


class Slot:
    """A held slot; released by ``release()`` or by the death of the process."""

    def __init__(self, number: int, fd: int) -> None:
        self.number = number
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Ticket:
    """A supervisor's place in the queue."""

    def __init__(self, path: Path) -> None:
        self.path = path
        ensure_dir(path.parent)
        # Lock the file the submitter created (recreated if a peer took it for dead). A
        # peer may hold the lock for an instant while it checks whether we are alive.
        deadline = time.monotonic() + 5.0
        fd = _try_lock(path, create=True)
        while fd is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"queue ticket {path} is locked by another process")
            time.sleep(0.01)
            fd = _try_lock(path, create=True)
        self._fd: int | None = fd

    def leave(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None

    def _live_tickets_ahead(self) -> bool:
        now = time.time()
        for other in sorted(self.path.parent.glob("*.ticket")):
            if other.name >= self.path.name:
                return False
            fd = _try_lock(other, create=False)
            if fd is None:
                return True  # locked: its supervisor waits
            try:
                try:
                    age = now - os.fstat(fd).st_mtime
                except OSError:
                    age = 0.0
                if age < TICKET_START_TIMEOUT:
                    return True  # not locked yet: its supervisor is starting
                # Its supervisor died while waiting (or never started).
                other.unlink(missing_ok=True)
            finally:
                os.close(fd)
        return False

    def wait_for_slot(
        self, base: Path, limit: int, should_stop: Callable[[], bool], poll: float = POLL
    ) -> Slot | None:
        """Wait until this ticket is first in the queue and a slot is free; take the slot.

        Returns:
            The slot, or None when ``should_stop()`` turned true first. The ticket is left
            in both cases.
        """
        slots = ensure_dir(base / "slots")
        try:
            while True:
                if should_stop():
                    return None
                if not self._live_tickets_ahead():
                    for number in range(limit):
                        fd = _try_lock(slots / f"{number}.lock", create=True)
                        if fd is not None:
                            return Slot(number, fd)
                time.sleep(poll)
        finally:
            self.leave()
