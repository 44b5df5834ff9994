"""The output log: the last lines kept for display, and the lines new since the last poll."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from runwidget.store import LogLine


def line_json(line: LogLine) -> dict[str, Any]:
    return {"seq": line.seq, "stream": line.stream, "text": line.text, "time": line.time}


class LogTail:
    """Keeps the last ``limit`` lines; ``take_new`` returns the lines added since it was
    last called, so a front end receives each line once."""

    def __init__(self, limit: int = 1000) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.limit = limit
        self.cursor = 0
        self.total = 0
        self._lines: deque[dict[str, Any]] = deque(maxlen=limit)
        self._new: deque[dict[str, Any]] = deque(maxlen=limit)

    def add(self, lines: Iterable[LogLine]) -> None:
        for line in lines:
            item = line_json(line)
            self._lines.append(item)
            self._new.append(item)
            self.total += 1
            self.cursor = line.seq

    def snapshot(self) -> dict[str, Any]:
        return {"lines": list(self._lines), "total": self.total, "limit": self.limit}

    def take_new(self) -> dict[str, Any] | None:
        if not self._new:
            return None
        new = list(self._new)
        self._new.clear()
        return {"append": new, "total": self.total}
