"""Block summaries of long numeric metric series, kept by the writer.

A chart of a million points draws about 2,000 of them: each bucket's first, lowest,
highest and last point (``runwidget.view.downsample``). Reading every point to find those
costs a second per million rows in Python. So the writer also stores, for every
``BLOCK_SIZE`` finite values of a metric, the block's first, lowest, highest and last
point; a reader of a long history reads the blocks (one row per ``BLOCK_SIZE`` values)
and only the points after the last complete block.

The buckets of a downsampled series are aligned on powers of two of the finite values'
arrival index, so a series whose buckets are ``BLOCK_SIZE`` values or wider is the same
whether it was built from the points or from the blocks.

Each role (first, min, max, last) of a block is stored as four numbers: the point's
index among the metric's numeric points (NaN and infinities included), its index among
the finite ones, its step (NaN when none was given) and its value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BLOCK_SIZE = 64
ROLES = 4  # first, min, max, last
FIELDS = 4  # numeric index, finite index, step, value


@dataclass(frozen=True)
class MetricBlocks:
    """The first ``len(self) * size`` finite values of a metric, summarised.

    ``index``, ``rank``, ``step`` and ``value`` have one row per block and one column per
    role (first, min, max, last): the point's index among all numeric points of the
    metric, among its finite values, its step (NaN if none) and its value. ``points`` is
    how many numeric points the blocks cover, non-finite ones included.
    """

    size: int
    points: int
    index: np.ndarray
    rank: np.ndarray
    step: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return len(self.index)


def decode_blocks(summaries: bytes, count: int, size: int = BLOCK_SIZE) -> MetricBlocks:
    """``count`` blocks from their stored summaries, joined in block order."""
    table = np.frombuffer(summaries, dtype="<f8").reshape(count, ROLES, FIELDS)
    index = table[:, :, 0].astype(np.int64)
    points = int(index[-1, 3]) + 1 if count else 0
    return MetricBlocks(
        size, points, index, table[:, :, 1].astype(np.int64), table[:, :, 2], table[:, :, 3]
    )


@dataclass
class BlockState:
    """What a writer knows of one metric of one run: how many numeric points it has
    written and the finite ones since the last complete block."""

    points: int = 0
    blocks: int = 0
    first_seq: int | None = None  # of the metric's first point, once written
    covered: int = 0  # numeric points up to the last point of the last complete block
    last_seq: int | None = None  # of that point
    # The finite values since the last complete block: their index, step and value.
    index: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    step: np.ndarray = field(default_factory=lambda: np.empty(0))
    value: np.ndarray = field(default_factory=lambda: np.empty(0))


@dataclass(frozen=True)
class NewBlock:
    """A block completed by a write: ``number``, the position in the written points of its
    last point (for its ``seq``), how many numeric points of the metric come up to that
    point, and the summary to store."""

    number: int
    last_position: int
    covered: int
    summary: bytes


def add_points(
    state: BlockState, positions: list[int], steps: np.ndarray, values: np.ndarray
) -> tuple[BlockState, list[NewBlock]]:
    """The state after numeric points are written, and the blocks they complete.

    ``positions`` are the points' places in the write (to find their ``seq`` once
    stored); ``steps`` hold NaN where no step was given. The state given is left as it
    was, so that a write that fails can be tried again from it.
    """
    value = np.asarray(values, dtype=float)
    index = state.points + np.arange(len(value), dtype=np.int64)
    finite = np.isfinite(value)
    where = np.asarray(positions, dtype=np.int64)
    # Pending finite values of earlier writes keep position -1: a block that ends in
    # this write ends on one of its own points.
    pending_index = np.r_[state.index, index[finite]]
    pending_step = np.r_[state.step, np.asarray(steps, dtype=float)[finite]]
    pending_value = np.r_[state.value, value[finite]]
    pending_where = np.r_[np.full(len(state.index), -1, dtype=np.int64), where[finite]]
    full = len(pending_value) // BLOCK_SIZE
    blocks: list[NewBlock] = []
    if full:
        n = full * BLOCK_SIZE
        rows = pending_value[:n].reshape(full, BLOCK_SIZE)
        local = (
            np.stack(
                [
                    np.zeros(full, dtype=np.int64),
                    rows.argmin(axis=1),
                    rows.argmax(axis=1),
                    np.full(full, BLOCK_SIZE - 1, dtype=np.int64),
                ],
                axis=1,
            )
            + (np.arange(full, dtype=np.int64) * BLOCK_SIZE)[:, None]
        )
        first_rank = state.blocks * BLOCK_SIZE
        table = np.stack(
            [
                pending_index[local].astype(float),
                (first_rank + local).astype(float),
                pending_step[local],
                pending_value[local],
            ],
            axis=2,
        ).astype("<f8")
        for b in range(full):
            blocks.append(
                NewBlock(
                    state.blocks + b,
                    int(pending_where[(b + 1) * BLOCK_SIZE - 1]),
                    int(pending_index[(b + 1) * BLOCK_SIZE - 1]) + 1,
                    table[b].tobytes(),
                )
            )
    else:
        n = 0
    new_state = BlockState(
        points=state.points + len(value),
        blocks=state.blocks + full,
        first_seq=state.first_seq,
        covered=blocks[-1].covered if blocks else state.covered,
        last_seq=state.last_seq,  # the writer sets it once the points have their seqs
        index=pending_index[n:],
        step=pending_step[n:],
        value=pending_value[n:],
    )
    return new_state, blocks
