"""Output capture: a script's stdout and stderr, split into lines, each with its stream and time.

The script writes into two pipes; ``OutputPump`` reads both with ``select`` in large chunks
and hands whole lines to a sink in the order they were read. A line's time is the time its
chunk was read. Within one stream the order is exact; between stdout and stderr it is the
order in which the supervisor saw the data, which for lines written a moment apart is the
order they were written (two pipes carry no common clock; data found waiting on both at once
is taken stdout first, as in the usual "output, then a traceback").

Lines are what a terminal would show: a trailing ``\\r`` of a Windows line end is dropped,
and a line rewritten with ``\\r`` (a progress bar) keeps only its last state. A line longer
than ``MAX_LINE`` characters is cut into pieces of that size; nothing is dropped. Bytes that
are not UTF-8 are replaced with U+FFFD.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import selectors
import time
from collections import deque
from collections.abc import Callable

LogRow = tuple[str, str, float]

MAX_LINE = 64 * 1024
READ_SIZE = 1 << 16
# Bigger pipes (Linux) let a fast script run ahead while the supervisor writes to the store.
PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = 1031
# stderr lines kept to describe a failure (the traceback's last lines).
ERROR_TAIL_LINES = 200


def _terminal_view(line: str) -> str:
    """What a terminal shows of a line holding carriage returns."""
    if line.endswith("\r"):
        line = line.rstrip("\r")
    cut = line.rfind("\r")
    return line if cut < 0 else line[cut + 1 :]


class LineSplitter:
    """Turns one stream's bytes into lines, keeping the unfinished last line."""

    __slots__ = ("stream", "_decoder", "_tail")

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._tail = ""

    def feed(self, data: bytes, now: float) -> list[LogRow]:
        text = self._decoder.decode(data)
        if self._tail:
            text = self._tail + text
        if "\n" not in text:
            self._tail = text
            return self._cut_long_tail(now)
        lines = text.split("\n")
        self._tail = lines.pop()
        stream = self.stream
        if "\r" in text:
            rows = [(stream, _terminal_view(line), now) for line in lines]
        else:
            rows = [(stream, line, now) for line in lines]
        if len(self._tail) > MAX_LINE:
            rows += self._cut_long_tail(now)
        return rows

    def _cut_long_tail(self, now: float) -> list[LogRow]:
        tail = self._tail
        cut = tail.rfind("\r", 0, len(tail) - 1)
        if cut >= 0:
            # A progress bar redrawn in place: only its latest state matters.
            tail = self._tail = tail[cut + 1 :]
        if len(tail) <= MAX_LINE:
            return []
        rows = []
        while len(tail) > MAX_LINE:
            rows.append((self.stream, tail[:MAX_LINE], now))
            tail = tail[MAX_LINE:]
        self._tail = tail
        return rows

    def finish(self, now: float) -> list[LogRow]:
        """The unfinished last line, if any, once the stream has ended."""
        text = self._tail + self._decoder.decode(b"", final=True)
        self._tail = ""
        if not text:
            return []
        return [(self.stream, _terminal_view(text), now)]


def enlarge_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
    except (ImportError, OSError):
        pass  # not Linux, or above the system's pipe-max-size: the default size works too


class OutputPump:
    """Reads several pipes until they end, handing their lines to ``sink``.

    Args:
        streams: file descriptor → stream name (``"stdout"``, ``"stderr"``); streams that
            both have data waiting are read in this order.
        sink: called with each batch of lines, in reading order.
        wake_fd: an extra readable fd that ends a wait early (a signal wake-up pipe); its
            bytes are drained and ignored.
    """

    def __init__(
        self,
        streams: dict[int, str],
        sink: Callable[[list[LogRow]], None],
        wake_fd: int | None = None,
    ) -> None:
        self._sink = sink
        self._selector = selectors.DefaultSelector()
        self._splitters: dict[int, LineSplitter] = {}
        self._rank = {fd: index for index, fd in enumerate(streams)}
        for fd, stream in streams.items():  # stdout first: see poll()
            enlarge_pipe(fd)
            self._splitters[fd] = LineSplitter(stream)
            self._selector.register(fd, selectors.EVENT_READ)
        self._wake_fd = wake_fd
        if wake_fd is not None:
            self._rank[wake_fd] = -1
            self._selector.register(wake_fd, selectors.EVENT_READ)
        self.stderr_tail: deque[str] = deque(maxlen=ERROR_TAIL_LINES)
        self.lines = 0

    @property
    def open(self) -> bool:
        """Whether some stream has not ended yet."""
        return bool(self._splitters)

    def poll(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for output; read and hand over what is there."""
        if not self._splitters:
            time.sleep(timeout)
            return
        # Registration order: stdout first. When both streams have data waiting, the usual
        # story is output, then a traceback, and that is the order kept.
        ready = [key.fd for key, _ in self._selector.select(timeout)]
        ready.sort(key=self._rank.__getitem__)
        for fd in ready:
            if fd == self._wake_fd:
                with contextlib.suppress(BlockingIOError, InterruptedError):
                    os.read(fd, 4096)
                continue
            try:
                data = os.read(fd, READ_SIZE)
            except (BlockingIOError, InterruptedError):
                continue
            now = time.time()
            splitter = self._splitters[fd]
            if data:
                rows = splitter.feed(data, now)
            else:
                rows = splitter.finish(now)
                self._selector.unregister(fd)
                del self._splitters[fd]
            if rows:
                self._hand_over(rows)

    def _hand_over(self, rows: list[LogRow]) -> None:
        self.lines += len(rows)
        if rows[0][0] == "stderr":
            self.stderr_tail.extend(row[1] for row in rows)
        self._sink(rows)

    def close(self) -> None:
        """Stop reading: hand over unfinished lines of streams still open, forget them."""
        now = time.time()
        for fd, splitter in list(self._splitters.items()):
            rows = splitter.finish(now)
            if rows:
                self._hand_over(rows)
            self._selector.unregister(fd)
        self._splitters.clear()
        self._selector.close()
