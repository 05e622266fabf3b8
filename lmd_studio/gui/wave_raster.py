"""The timeline's waveform as one RGBA image, a column per min/max pair, redrawn only where it changed.

While the music plays the view scrolls: each frame shares almost all of its columns with the previous one
(the grid is aligned to stream positions, see TimelineModel.waveform), a new block adds columns at the
right edge, and the playhead turns a few 'ahead' columns into 'played' ones. So the image is a buffer
wider than the slice shown, anchored at a stream column (`base`): a frame rasterises only new or changed
columns into it, in place, recolours the few the playhead crossed and clears those that scrolled out.
The buffer (and so the item's placement) only changes when the slice runs off its end or the scale
changes; in between nothing is allocated and the image item needs no new image nor a new rect.
"""
from __future__ import annotations

import math

import numpy as np


class WaveRaster:
    """RGBA [rows, capacity] buffer of a min/max waveform; row 0 is the bottom (-1.0). Buffer column j is
    stream column `base` + j; the slice of the last update is columns [shown[0], shown[1]) of the buffer,
    the rest is transparent."""

    def __init__(self, rows: int, played_rgba: np.ndarray, ahead_rgba: np.ndarray) -> None:
        if rows < 2:
            raise ValueError(f"WaveRaster needs rows >= 2, got {rows}")
        self.rows = rows
        self._colors = (np.asarray(played_rgba, np.uint8), np.asarray(ahead_rgba, np.uint8))
        self._first = 0
        self._per_column = 0
        self._mins = np.zeros(0, np.float32)
        self._maxs = np.zeros(0, np.float32)
        self._split = 0  # columns [first, first + split) of the slice are in the played colour
        self.base = 0  # the stream column of buffer column 0
        self.image = np.zeros((rows, 0, 4), np.uint8)
        self.changed = False  # did the last update change any pixel
        self.columns_rasterised = 0  # by the last update (tests and benchmarks read it)

    @property
    def shown(self) -> tuple[int, int]:
        """The buffer columns [start, end) of the last update's slice."""
        start = self._first - self.base
        return start, start + len(self._mins)

    def update(self, first_column: int, per_column: int, mins: np.ndarray, maxs: np.ndarray,
               play_position: float) -> np.ndarray:
        """Draw columns [first_column, first_column + len(mins)) of `per_column` frames each; columns
        starting at or after `play_position` (frames) take the 'ahead' colour. Returns the buffer: the same
        array object, changed in place (`changed`), unless a new buffer had to be made."""
        n = len(mins)
        start = first_column * per_column
        split = min(n, max(0, math.ceil((play_position - start) / per_column))) if n else 0
        self.columns_rasterised = 0
        old_first, old_n = self._first, len(self._mins)
        if ((first_column, per_column, n, split) == (old_first, self._per_column, old_n, self._split)
                and np.array_equal(mins, self._mins) and np.array_equal(maxs, self._maxs)):
            self.changed = False
            return self.image
        self.changed = True
        same_scale = per_column == self._per_column
        lo, hi = max(first_column, old_first), min(first_column + n, old_first + old_n)  # columns both show
        if not same_scale or first_column < self.base or first_column + n > self.base + self.image.shape[1]:
            # a new buffer from this slice's first column, with room to scroll on by as much again
            image = np.zeros((self.rows, 2 * n + 64, 4), np.uint8)  # [rows, capacity, RGBA]
            if same_scale and hi > lo:
                image[:, lo - first_column:hi - first_column] = self.image[:, lo - self.base:hi - self.base]
            self.image, self.base = image, first_column
        else:  # clear what the old slice showed and this one does not
            for a, b in ((old_first, min(old_first + old_n, first_column)),
                         (max(old_first, first_column + n), old_first + old_n)):
                if b > a:
                    self.image[:, a - self.base:b - self.base] = 0
        offset = first_column - self.base  # slice column j is buffer column offset + j
        todo = np.ones(n, dtype=bool)  # [n] columns to rasterise
        if same_scale and hi > lo:
            j0, j1, k0 = lo - first_column, hi - first_column, lo - old_first
            same = ((self._mins[k0:k0 + j1 - j0] == mins[j0:j1])
                    & (self._maxs[k0:k0 + j1 - j0] == maxs[j0:j1]))  # [overlap]
            todo[j0:j1] = ~same
            old_split = min(hi, max(lo, old_first + self._split))  # stream columns, within the overlap
            new_split = min(hi, max(lo, first_column + split))
            if old_split != new_split:  # the playhead crossed these columns: swap their colour
                a, b = sorted((old_split, new_split))
                part = self.image[:, a - self.base:b - self.base]  # a view: writes land in the buffer
                part[part[..., 3] > 0] = self._colors[0 if new_split > old_split else 1]
        columns = np.flatnonzero(todo)
        if columns.size:
            self.image[:, offset + columns] = self._rasterise(mins[columns], maxs[columns], columns < split)
        self.columns_rasterised = int(columns.size)
        self._first, self._per_column, self._mins, self._maxs, self._split = first_column, per_column, mins, maxs, split
        return self.image

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
