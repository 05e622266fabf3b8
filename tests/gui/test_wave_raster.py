"""The incremental waveform raster draws exactly what a full raster of the same columns draws."""

from __future__ import annotations

import numpy as np

from lmd_studio.gui.wave_raster import WaveRaster

PLAYED = np.array([10, 20, 30, 255], np.uint8)
AHEAD = np.array([200, 100, 50, 255], np.uint8)


def _fresh(first: int, per: int, mins: np.ndarray, maxs: np.ndarray, play: float, rows: int = 64) -> np.ndarray:
    return WaveRaster(rows, PLAYED, AHEAD).update(first, per, mins, maxs, play)


def test_scrolling_reuses_columns_and_matches_a_full_raster() -> None:
    rng = np.random.default_rng(3)
    per = 768
    maxs_all = rng.uniform(0.0, 1.0, 5000).astype(np.float32)  # [global columns]
    mins_all = -rng.uniform(0.0, 1.0, 5000).astype(np.float32)
    raster = WaveRaster(64, PLAYED, AHEAD)
    first, n, play = 100, 400, (100 + 300) * per + 5.0
    raster.update(first, per, mins_all[first:first + n], maxs_all[first:first + n], play)
    assert raster.columns_rasterised == n
    for step in range(30):  # the view scrolls 2 columns a frame, the playhead 2.5 columns
        first += 2
        play += 2.5 * per
        end = first + n + (6 if step == 10 else 0)  # a new block arrives at the right edge
        mins, maxs = mins_all[first:end], maxs_all[first:end]
        image = raster.update(first, per, mins, maxs, play)
        assert raster.columns_rasterised <= 8, step  # only the new columns, not all 400
        np.testing.assert_array_equal(image, _fresh(first, per, mins, maxs, play))
        n = end - first


def test_changed_columns_are_redrawn_and_an_unchanged_frame_is_the_same_object() -> None:
    per = 256
    mins = np.full(50, -0.2, np.float32)
    maxs = np.full(50, 0.2, np.float32)
    raster = WaveRaster(64, PLAYED, AHEAD)
    first = raster.update(0, per, mins, maxs, 20 * per)
    assert raster.update(0, per, mins.copy(), maxs.copy(), 20 * per) is first  # nothing changed
    spliced = maxs.copy()
    spliced[30:] = 0.9  # a splice rewrote what was generated ahead
    image = raster.update(0, per, mins, spliced, 20 * per)
    assert raster.columns_rasterised == 20
    np.testing.assert_array_equal(image, _fresh(0, per, mins, spliced, 20 * per))
    backwards = raster.update(0, per, mins, spliced, 5 * per)  # a fresh start moved the playhead back
    np.testing.assert_array_equal(backwards, _fresh(0, per, mins, spliced, 5 * per))
