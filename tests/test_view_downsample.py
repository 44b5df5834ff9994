"""Downsampling keeps every bucket's extremes, stays bounded, and sends only its tail."""

from __future__ import annotations

import numpy as np
import pytest

from runwidget.view.downsample import MinMaxSeries


def _brute_force(x: np.ndarray, y: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """First, lowest, highest and last point of every aligned bucket (the M4 rule)."""
    keep: list[int] = []
    for start in range(0, len(y), width):
        part = y[start : start + width]
        keep += sorted(
            {
                start,
                start + int(np.argmin(part)),
                start + int(np.argmax(part)),
                start + len(part) - 1,
            }
        )
    return x[keep], y[keep]


def test_a_million_points_keep_their_spikes_within_the_bound() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=1_000_000)
    y[123_456] = 50.0
    y[777_777] = -40.0
    x = np.arange(len(y), dtype=float)
    series = MinMaxSeries(2000)
    series.extend(x, y)
    px, py = series.points()
    assert len(px) <= 2000
    assert py.max() == 50.0 and py.min() == -40.0
    assert px[py.argmax()] == 123_456 and px[py.argmin()] == 777_777
    # The line starts on the first point and ends on the latest one.
    assert (px[0], py[0]) == (0.0, y[0]) and (px[-1], py[-1]) == (999_999.0, y[-1])
    assert np.all(np.diff(px) > 0)


@pytest.mark.parametrize("chunk", [1, 3, 64, 333, 5000])
def test_incremental_equals_one_batch_equals_brute_force(chunk: int) -> None:
    rng = np.random.default_rng(chunk)
    y = rng.normal(size=5000)
    x = np.cumsum(rng.uniform(0.5, 1.5, size=5000))
    parts, whole = MinMaxSeries(64), MinMaxSeries(64)
    for i in range(0, len(y), chunk):
        parts.extend(x[i : i + chunk], y[i : i + chunk])
    whole.extend(x, y)
    bx, by = _brute_force(x, y, whole.width)
    for series in (parts, whole):
        sx, sy = series.points()
        np.testing.assert_array_equal(sx, bx)
        np.testing.assert_array_equal(sy, by)
        assert len(sx) <= 64


def test_ties_keep_the_first_occurrence() -> None:
    series = MinMaxSeries(8)
    series.extend(np.arange(40.0), np.r_[np.zeros(20), np.ones(20)])
    x, y = series.points()
    assert len(x) <= 8 and y.min() == 0 and y.max() == 1


def test_deltas_rebuild_the_series_and_stay_small() -> None:
    rng = np.random.default_rng(7)
    series = MinMaxSeries(400)
    received_x: list[float] = []
    received_y: list[float] = []
    sizes = []
    for step in range(300):
        y = rng.normal(size=37)
        x = np.arange(step * 37, (step + 1) * 37, dtype=float)
        series.extend(x, y)
        delta = series.take_delta()
        assert delta is not None
        received_x = received_x[: delta.start] + delta.x.tolist()
        received_y = received_y[: delta.start] + delta.y.tolist()
        sizes.append(len(delta.x))
        assert series.take_delta() is None  # nothing new, nothing sent
    sx, sy = series.points()
    assert received_x == sx.tolist() and received_y == sy.tolist()
    # Apart from the rare merges (the width doubles), a poll sends only a few points.
    assert sorted(sizes)[len(sizes) // 2] <= 12


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="max_points must be at least 8"):
        MinMaxSeries(4)
    with pytest.raises(ValueError, match="1-D of one length"):
        MinMaxSeries().extend([1.0, 2.0], [1.0])


def _blocks(x: np.ndarray, y: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Per block of ``size`` points: arrival index, x and y of its first, min, max, last."""
    n = len(y) // size
    rows = y[: n * size].reshape(n, size)
    local = (
        np.stack(
            [np.zeros(n, int), rows.argmin(axis=1), rows.argmax(axis=1), np.full(n, size - 1)],
            axis=1,
        )
        + (np.arange(n) * size)[:, None]
    )
    return local, x[local], y[local]


@pytest.mark.parametrize("size", [4, 64])
def test_blocks_start_the_same_series_as_the_points(size: int) -> None:
    rng = np.random.default_rng(size)
    y = rng.normal(size=20_000)
    x = np.cumsum(rng.uniform(0.5, 1.5, size=len(y)))
    covered = len(y) // size * size - 3 * size  # some whole blocks, then points
    from_points, from_blocks = MinMaxSeries(200), MinMaxSeries(200)
    from_points.extend(x, y)
    from_blocks.extend_blocks(size, *_blocks(x[:covered], y[:covered], size))
    from_blocks.extend(x[covered:], y[covered:])
    assert from_blocks.width == from_points.width >= size
    for a, b in zip(from_blocks.points(), from_points.points(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_blocks_only_start_a_series() -> None:
    series = MinMaxSeries(64)
    i, x, y = _blocks(np.arange(64.0), np.arange(64.0), 8)
    with pytest.raises(ValueError, match="power of two"):
        series.extend_blocks(6, i, x, y)
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        series.extend_blocks(8, i[:, :3], x, y)
    series.extend([1.0], [1.0])
    with pytest.raises(ValueError, match="only start a series"):
        series.extend_blocks(8, i, x, y)
