"""Downsampling with stable buckets, so that a growing series sends only its tail.

Points are grouped by arrival index into buckets of ``width`` points (a power of two,
aligned on multiples of ``width``). Each bucket keeps its first, lowest, highest and last
point (the M4 rule: a line drawn through them looks like the line through every point), so
a spike is never lost however long the series grows, and the line ends on the latest value.
When the buckets would exceed ``max_points / 4``, neighbours merge pairwise and ``width``
doubles; the kept points of a merged bucket are among those of its halves, so no raw point
has to be kept.

Because buckets are aligned, appending changes only the last bucket and adds new ones:
``take_delta`` returns just that tail, except after a merge (then from the start).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Per bucket: count, then index/x/y of its first, min, max and last points.
_ROLES = ("first", "min", "max", "last")


@dataclass(frozen=True)
class SeriesDelta:
    """The change of a downsampled series since the last ``take_delta``.

    ``start`` is the index of the first output point that changed: the receiver keeps its
    first ``start`` points and appends ``x``/``y``.
    """

    start: int
    x: np.ndarray
    y: np.ndarray


class MinMaxSeries:
    """A series downsampled to at most ``max_points`` points, keeping each bucket's extremes.

    Args:
        max_points: the most points ``points()`` returns (at least 8).

    Raises:
        ValueError: ``max_points`` is below 8.
    """

    def __init__(self, max_points: int = 2000) -> None:
        if max_points < 8:
            raise ValueError(f"max_points must be at least 8, got {max_points}")
        self.max_buckets = max_points // 4
        self.width = 1
        self.count = 0
        self._count = np.empty(0, dtype=np.int64)
        self._i = np.empty((0, 4), dtype=np.int64)
        self._x = np.empty((0, 4))
        self._y = np.empty((0, 4))
        self._dirty_bucket: int | None = 0  # first bucket changed since the last delta

    def __len__(self) -> int:
        """The number of buckets."""
        return len(self._count)

    # -- adding ----------------------------------------------------------------------------
    def extend(self, x: np.ndarray | list[float], y: np.ndarray | list[float]) -> None:
        """Append points (finite values only: the caller drops NaN and infinities).

        Raises:
            ValueError: ``x`` and ``y`` are not 1-D arrays of one length.
        """
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"x and y must be 1-D of one length, got {x.shape} and {y.shape}")
        if len(x) == 0:
            return
        total = self.count + len(x)
        width = self.width
        while -(-total // width) > self.max_buckets:
            width *= 2
        if width != self.width:
            self._merge_to(width)
        self._append(x, y)

    def extend_blocks(self, size: int, i: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        """Start the series from block summaries: ``size`` finite points per block, and per
        block the arrival index, x and y of its first, lowest, highest and last points
        (``runwidget.store.blocks``). The same series as from the points themselves when
        its buckets are ``size`` points or wider.

        Raises:
            ValueError: the series has points already, ``size`` is not a power of two, or
                the arrays are not of shape ``(blocks, 4)``.
        """
        if self.count:
            raise ValueError("blocks can only start a series")
        if size < 1 or size & (size - 1):
            raise ValueError(f"the block size must be a power of two, got {size}")
        i = np.asarray(i, dtype=np.int64)
        if i.ndim != 2 or i.shape[1] != 4 or np.shape(x) != i.shape or np.shape(y) != i.shape:
            raise ValueError(f"blocks must be arrays of shape (n, 4), got {i.shape}")
        if not len(i):
            return
        self.width = size
        self.count = size * len(i)
        self._count = np.full(len(i), size, dtype=np.int64)
        self._i = i.copy()
        self._x = np.asarray(x, dtype=float).copy()
        self._y = np.asarray(y, dtype=float).copy()
        width = size
        while -(-self.count // width) > self.max_buckets:
            width *= 2
        if width != size:
            self._merge_to(width)
        self._dirty_bucket = 0

    def _merge_to(self, width: int) -> None:
        """Regroup the buckets into wider aligned ones."""
        factor = width // self.width
        n = len(self._count)
        if n:
            groups = -(-n // factor)
            pad = groups * factor - n
            count = np.r_[self._count, np.zeros(pad, dtype=np.int64)].reshape(groups, factor)
            i, x, y = (
                np.concatenate([a, np.repeat(a[-1:], pad, axis=0)])
                for a in (self._i, self._x, self._y)
            )
            i = i.reshape(groups, factor, 4)
            x = x.reshape(groups, factor, 4)
            y = y.reshape(groups, factor, 4)
            rows = np.arange(groups)
            last = (count > 0).sum(axis=1) - 1  # the last real bucket of each group
            ymin = np.where(count > 0, y[:, :, 1], np.inf)
            ymax = np.where(count > 0, y[:, :, 2], -np.inf)
            kmin = ymin.argmin(axis=1)
            kmax = ymax.argmax(axis=1)
            picks = [(rows, 0, 0), (rows, kmin, 1), (rows, kmax, 2), (rows, last, 3)]
            self._i = np.stack([i[r, k, j] for r, k, j in picks], axis=1)
            self._x = np.stack([x[r, k, j] for r, k, j in picks], axis=1)
            self._y = np.stack([y[r, k, j] for r, k, j in picks], axis=1)
            self._count = count.sum(axis=1)
        self.width = width
        self._dirty_bucket = 0

    def _append(self, x: np.ndarray, y: np.ndarray) -> None:
        width = self.width
        n = len(x)
        first_bucket = self.count // width
        # Lay the points out as rows of one bucket each; the padding never wins a min or max.
        offset = self.count % width
        groups = -(-(offset + n) // width)
        padded = np.full(groups * width, np.inf)
        padded[offset : offset + n] = y
        rows = padded.reshape(groups, width)
        kmin = rows.argmin(axis=1)
        padded[:offset] = -np.inf
        padded[offset + n :] = -np.inf
        kmax = rows.argmax(axis=1)
        base = np.arange(groups, dtype=np.int64) * width - offset
        first = np.maximum(base, 0)
        last = np.minimum(base + width, n) - 1
        local = np.stack([first, base + kmin, base + kmax, last], axis=1)
        counts = last - first + 1
        new_i = local + self.count
        new_x = x[local]
        new_y = y[local]
        if offset:
            # The first group continues the existing partial bucket.
            b = first_bucket
            self._count[b] += counts[0]
            if new_y[0, 1] < self._y[b, 1]:
                self._i[b, 1], self._x[b, 1], self._y[b, 1] = new_i[0, 1], new_x[0, 1], new_y[0, 1]
            if new_y[0, 2] > self._y[b, 2]:
                self._i[b, 2], self._x[b, 2], self._y[b, 2] = new_i[0, 2], new_x[0, 2], new_y[0, 2]
            self._i[b, 3], self._x[b, 3], self._y[b, 3] = new_i[0, 3], new_x[0, 3], new_y[0, 3]
            counts, new_i, new_x, new_y = counts[1:], new_i[1:], new_x[1:], new_y[1:]
        self._count = np.concatenate([self._count, counts])
        self._i = np.concatenate([self._i, new_i])
        self._x = np.concatenate([self._x, new_x])
        self._y = np.concatenate([self._y, new_y])
        self.count += n
        if self._dirty_bucket is None or first_bucket < self._dirty_bucket:
            self._dirty_bucket = first_bucket

    # -- reading ---------------------------------------------------------------------------
    def _unique(self, start_bucket: int) -> tuple[np.ndarray, np.ndarray]:
        """Per bucket from ``start_bucket``: the order of its kept points and which to keep."""
        i = self._i[start_bucket:]
        order = np.argsort(i, axis=1, kind="stable")
        ordered = np.take_along_axis(i, order, axis=1)
        keep = np.ones(ordered.shape, dtype=bool)
        keep[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
        return order, keep

    def _points_of(self, start_bucket: int) -> tuple[np.ndarray, np.ndarray]:
        order, keep = self._unique(start_bucket)
        x = np.take_along_axis(self._x[start_bucket:], order, axis=1)[keep]
        y = np.take_along_axis(self._y[start_bucket:], order, axis=1)[keep]
        return x, y

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """The downsampled series: at most ``max_points`` points, in arrival order."""
        return self._points_of(0)

    def take_delta(self) -> SeriesDelta | None:
        """What changed since the last call (None when nothing did)."""
        if self._dirty_bucket is None:
            return None
        start_bucket = self._dirty_bucket
        _, keep_before = self._unique(0)
        start = int(keep_before[:start_bucket].sum())
        x, y = self._points_of(start_bucket)
        self._dirty_bucket = None
        return SeriesDelta(start, x, y)
