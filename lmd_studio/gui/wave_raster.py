"""The timeline's waveform as one RGBA image, a column per min/max pair, redrawn only where it changed.

While the music plays the view scrolls: each frame shares almost all of its columns with the previous one
(the grid is aligned to stream positions, see TimelineModel.waveform), a new block adds columns at the
right edge, and the playhead turns a few 'ahead' columns into 'played' ones. So a frame copies the
columns it already had, rasterises only new or changed ones and recolours the few the playhead crossed,
instead of rasterising every column on every frame.
"""

from __future__ import annotations

import math

import numpy as np


class WaveRaster:
    """RGBA [rows, columns] image of a min/max waveform; row 0 is the bottom (-1.0)."""

    def __init__(self, rows: int, played_rgba: np.ndarray, ahead_rgba: np.ndarray) -> None:
        if rows < 2:
            raise ValueError(f"WaveRaster needs rows >= 2, got {rows}")
        self.rows = rows
        self._colors = (np.asarray(played_rgba, np.uint8), np.asarray(ahead_rgba, np.uint8))
        self._first = 0
        self._per_column = 0
        self._mins = np.zeros(0, np.float32)
        self._maxs = np.zeros(0, np.float32)
        self._split = 0  # columns [0, split) are in the played colour
        self.image = np.zeros((rows, 0, 4), np.uint8)
        self.columns_rasterised = 0  # by the last update (tests and benchmarks read it)

    def update(self, first_column: int, per_column: int, mins: np.ndarray, maxs: np.ndarray,
               play_position: float) -> np.ndarray:
        """The image for columns [first_column, first_column + len(mins)) of `per_column` frames each;
        columns starting at or after `play_position` (frames) take the 'ahead' colour. The very same
        array object comes back when nothing changed (nothing to upload)."""
        n = len(mins)
        start = first_column * per_column
        split = min(n, max(0, math.ceil((play_position - start) / per_column))) if n else 0
        self.columns_rasterised = 0
        if ((first_column, per_column, n, split) == (self._first, self._per_column, self.image.shape[1], self._split)
                and np.array_equal(mins, self._mins) and np.array_equal(maxs, self._maxs)):
            return self.image
        image = np.zeros((self.rows, n, 4), np.uint8)  # [rows, C, RGBA]
        todo = np.ones(n, dtype=bool)  # [C] columns to rasterise
        offset = first_column - self._first  # column j now was column j + offset before
        j0, j1 = max(0, -offset), min(n, self.image.shape[1] - offset)
        if per_column == self._per_column and j1 > j0:
            same = ((self._mins[j0 + offset:j1 + offset] == mins[j0:j1])
                    & (self._maxs[j0 + offset:j1 + offset] == maxs[j0:j1]))  # [overlap]
            image[:, j0:j1] = self.image[:, j0 + offset:j1 + offset]
            todo[j0:j1] = ~same
            old_split = min(j1, max(j0, self._split - offset))
            new_split = min(j1, max(j0, split))
            if old_split != new_split:  # the playhead crossed these columns: swap their colour
                lo, hi = sorted((old_split, new_split))
                part = image[:, lo:hi]  # a view: writes land in `image`
                part[part[..., 3] > 0] = self._colors[0 if new_split > old_split else 1]
        columns = np.flatnonzero(todo)
        if columns.size:
            image[:, columns] = self._rasterise(mins[columns], maxs[columns], columns < split)
        self.columns_rasterised = int(columns.size)
        self._first, self._per_column, self._mins, self._maxs, self._split = first_column, per_column, mins, maxs, split
        self.image = image
        return image

    def _rasterise(self, mins: np.ndarray, maxs: np.ndarray, played: np.ndarray) -> np.ndarray:
        """RGBA [rows, k] for k columns: each filled from its min to its max sample."""
        rows = self.rows
        scale = (rows - 1) / 2.0
        lo = np.clip(np.floor((np.minimum(mins, 0.0) + 1.0) * scale), 0, rows - 1).astype(np.int32)  # [k]
        hi = np.clip(np.ceil((np.maximum(maxs, 0.0) + 1.0) * scale), 0, rows - 1).astype(np.int32)
        y = np.arange(rows, dtype=np.int32)[:, None]  # [rows, 1]
        inside = (y >= lo[None, :]) & (y <= hi[None, :])  # [rows, k]
        out = np.zeros((rows, len(mins), 4), dtype=np.uint8)  # [rows, k, RGBA]
        out[inside & played[None, :]] = self._colors[0]
        out[inside & ~played[None, :]] = self._colors[1]
        return out
