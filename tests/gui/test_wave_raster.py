"""The incremental waveform raster draws exactly what a full raster of the same columns draws, in place in
one buffer while the view scrolls (a new buffer only when the slice runs off its end)."""

from __future__ import annotations

import numpy as np

from lmd_studio.gui.wave_raster import WaveRaster

PLAYED = np.array([10, 20, 30, 255], np.uint8)
AHEAD = np.array([200, 100, 50, 255], np.uint8)


def _fresh(first: int, per: int, mins: np.ndarray, maxs: np.ndarray, play: float, rows: int = 64) -> np.ndarray:
    raster = WaveRaster(rows, PLAYED, AHEAD)
    raster.update(first, per, mins, maxs, play)
    return _shown(raster)


def _shown(raster: WaveRaster) -> np.ndarray:
    """The slice of the last update; everything else in the buffer must be transparent."""
    a, b = raster.shown
    assert not raster.image[:, :a].any() and not raster.image[:, b:].any(), "stale columns outside the slice"
    return raster.image[:, a:b]


def test_scrolling_reuses_columns_and_matches_a_full_raster() -> None:
    rng = np.random.default_rng(3)
    per = 768
    maxs_all = rng.uniform(0.0, 1.0, 5000).astype(np.float32)  # [global columns]
    mins_all = -rng.uniform(0.0, 1.0, 5000).astype(np.float32)
    raster = WaveRaster(64, PLAYED, AHEAD)
    first, n, play = 100, 400, (100 + 300) * per + 5.0
    buffer = raster.update(first, per, mins_all[first:first + n], maxs_all[first:first + n], play)
    assert raster.columns_rasterised == n and raster.base == first
    for step in range(30):  # the view scrolls 2 columns a frame, the playhead 2.5 columns
        first += 2
        play += 2.5 * per
        end = first + n + (6 if step == 10 else 0)  # a new block arrives at the right edge
        mins, maxs = mins_all[first:end], maxs_all[first:end]
        image = raster.update(first, per, mins, maxs, play)
        assert raster.columns_rasterised <= 8, step  # only the new columns, not all 400
        assert image is buffer and raster.changed and raster.base == 100  # drawn in place: no new image
        np.testing.assert_array_equal(_shown(raster), _fresh(first, per, mins, maxs, play))
        n = end - first
    # scrolled past the buffer's end: a new buffer from the slice's first column, the pixels carried over
    first += 2 * n
    mins, maxs = mins_all[first:first + n], maxs_all[first:first + n]
    first_image = raster.update(first - 10, per, mins_all[first - 10:first + n - 10], maxs_all[first - 10:first + n - 10],
                                play + 2 * n * per)
    assert first_image is not buffer and raster.base == first - 10
    image = raster.update(first, per, mins, maxs, play + 2 * n * per)
    assert image is first_image and raster.columns_rasterised == 10
    np.testing.assert_array_equal(_shown(raster), _fresh(first, per, mins, maxs, play + 2 * n * per))


def test_changed_columns_are_redrawn_and_an_unchanged_frame_changes_nothing() -> None:
    per = 256
    mins = np.full(50, -0.2, np.float32)
    maxs = np.full(50, 0.2, np.float32)
    raster = WaveRaster(64, PLAYED, AHEAD)
    first = raster.update(0, per, mins, maxs, 20 * per)
    assert raster.update(0, per, mins.copy(), maxs.copy(), 20 * per) is first and not raster.changed
    spliced = maxs.copy()
    spliced[30:] = 0.9  # a splice rewrote what was generated ahead
    raster.update(0, per, mins, spliced, 20 * per)
    assert raster.columns_rasterised == 20 and raster.changed
    np.testing.assert_array_equal(_shown(raster), _fresh(0, per, mins, spliced, 20 * per))
    raster.update(0, per, mins, spliced, 5 * per)  # a fresh start moved the playhead back
    np.testing.assert_array_equal(_shown(raster), _fresh(0, per, mins, spliced, 5 * per))
    raster.update(0, per, mins[:35], spliced[:35], 5 * per)  # what was generated ahead is gone
    np.testing.assert_array_equal(_shown(raster), _fresh(0, per, mins[:35], spliced[:35], 5 * per))
    raster.update(0, 2 * per, mins[:20], spliced[:20], 5 * per)  # zoomed out: a new scale, a new buffer
    np.testing.assert_array_equal(_shown(raster), _fresh(0, 2 * per, mins[:20], spliced[:20], 5 * per))
