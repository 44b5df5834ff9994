"""Processes of local runs: which host they run on, whether they are still alive, stopping them.

A process is named by its pid *and* its start time (``/proc/<pid>/stat`` on Linux), so that
a pid reused by an unrelated process is never taken for a run's supervisor or script, and
never signalled. Where the start time cannot be read (macOS), the pid alone is used.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
from dataclasses import dataclass
from typing import Any

_BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


@functools.lru_cache(maxsize=1)
def host_name() -> str:
    return socket.gethostname()


@functools.lru_cache(maxsize=1)
def boot_id() -> str | None:
    """An id that changes when the machine restarts (Linux), else None."""
    try:
        with open(_BOOT_ID_FILE, encoding="ascii") as f:
            return f.read().strip() or None
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name, or None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces and parentheses.
    return data[data.rfind(b")") + 2 :].decode("ascii", "replace").split()


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), else None."""
    fields = _stat_fields(pid)
    # Field 22 of stat is starttime; the list starts at field 3 (state).
    return int(fields[19]) if fields and len(fields) > 19 else None


@dataclass(frozen=True)
class ProcessId:
    """A process on a host: pid, start time (None where unknown), host and boot."""

    pid: int
    start: int | None
    host: str
    boot: str | None

    @classmethod
    def of(cls, pid: int) -> ProcessId:
        return cls(pid, start_time(pid), host_name(), boot_id())

    @classmethod
    def from_properties(cls, properties: dict[str, Any], prefix: str) -> ProcessId | None:
        """Read ``<prefix>_pid`` and ``<prefix>_start`` with the run's host and boot."""
        pid = properties.get(f"runwidget.{prefix}_pid")
        host = properties.get("runwidget.host")
        if not isinstance(pid, int) or not isinstance(host, str):
            return None
        start = properties.get(f"runwidget.{prefix}_start")
        return cls(pid, start if isinstance(start, int) else None, host,
                   properties.get("runwidget.boot_id"))  # fmt: skip

    def as_properties(self, prefix: str) -> dict[str, object]:
        return {f"runwidget.{prefix}_pid": self.pid, f"runwidget.{prefix}_start": self.start}

    @property
    def local(self) -> bool:
        """Whether this process ran on this machine (so its liveness can be checked here)."""
        return self.host == host_name()

    def alive(self) -> bool:
        """Whether the process still runs. Only meaningful when ``local``.

        A zombie (exited, not yet reaped by its parent) counts as gone.
        """
        if not self.local:
            raise ValueError(f"process {self.pid} runs on {self.host!r}, not on this host")
        if self.boot is not None and boot_id() is not None and self.boot != boot_id():
            return False  # the machine restarted since
        fields = _stat_fields(self.pid)
        if fields is not None:
            if fields[0] in ("Z", "X"):
                return False
            return self.start is None or int(fields[19]) == self.start
        if os.path.isdir("/proc/self"):
            return False  # procfs is there and has no such process
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # exists, owned by someone else
        return True

    def signal_group(self, sig: int) -> bool:
        """Send ``sig`` to the process group this process leads, if it is still this one.

        Returns:
            Whether a signal was sent.
        """
        if not self.local or not self.alive():
            return False
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def signal(self, sig: int) -> bool:
        """Send ``sig`` to this process if it is still this one. Returns whether it was sent."""
        if not self.local or not self.alive():
            return False
        try:
            os.kill(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
