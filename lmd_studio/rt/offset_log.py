"""A piecewise-constant position map written by the audio thread: position a → a + offset.

The output stage notes, at every buffer, where a counter it feeds (the capture ring, the playback ring) stood
against the output position. The offset between the two only changes at a transport change or an underrun,
so only those changes are kept: a preallocated ring of (start, offset) entries, appended by one writer
(allocation-free: two int64 stores, then the count), read by any thread. A reader asks `to_output(a)` or
splits a span into its constant-offset pieces (`segments`).
"""

from __future__ import annotations

import numpy as np


class OffsetLog:
    __slots__ = ("_starts", "_offsets", "_mask", "_count", "_last_offset", "_last_end")

    def __init__(self, slots: int = 4096) -> None:
        if slots < 2 or slots & (slots - 1):
            raise ValueError(f"slots must be a power of two >= 2, got {slots}")
        self._starts = np.zeros(slots, np.int64)
        self._offsets = np.zeros(slots, np.int64)
        self._mask = slots - 1
        self._count = 0
        self._last_offset = 0
        self._last_end = -1  # end of the last noted span: a note starting elsewhere is a jump

    # --- writer (audio thread) ----------------------------------------------------------------------
    def note(self, position: int, mapped: int, frames: int) -> None:
        """`frames` frames from `position` map to `mapped` onwards."""
        offset = mapped - position
        if self._count == 0 or offset != self._last_offset or position != self._last_end:
            i = self._count & self._mask
            self._starts[i] = position
            self._offsets[i] = offset
            self._last_offset = offset
            self._count += 1  # publish after the entry
        self._last_end = position + frames

    # --- readers --------------------------------------------------------------------------------------
    def _entries(self) -> tuple[np.ndarray, np.ndarray]:
        count = self._count
        slots = self._mask + 1
        first = max(0, count - slots + 1)  # the oldest slot may be rewritten under us: leave it out
        idx = np.arange(first, count) & self._mask
        return self._starts[idx], self._offsets[idx]

    def to_output(self, position: int) -> int | None:
        """The mapped position of `position`, or None when it lies before everything noted."""
        starts, offsets = self._entries()
        i = int(np.searchsorted(starts, position, side="right")) - 1
        return None if i < 0 else int(position + offsets[i])

    def from_output(self, mapped: int) -> int | None:
        """The inverse: the position that maps to `mapped` (by the latest offset in force there), or None
        before everything noted."""
        starts, offsets = self._entries()
        if not len(starts):
            return None
        i = int(np.searchsorted(starts + offsets, mapped, side="right")) - 1
        return None if i < 0 else int(mapped - offsets[i])

    def segments(self, position: int, frames: int) -> list[tuple[int, int, int]]:
        """[position, position + frames) as (start, length, mapped start) pieces of constant offset; a part
        before everything noted is left out."""
        starts, offsets = self._entries()
        out: list[tuple[int, int, int]] = []
        end = position + frames
        i = int(np.searchsorted(starts, position, side="right")) - 1
        pos = position
        if i < 0:
            if not len(starts) or starts[0] >= end:
                return out
            pos, i = int(starts[0]), 0
        while pos < end:
            stop = end if i + 1 >= len(starts) else min(end, int(starts[i + 1]))
            if stop > pos:
                out.append((pos, stop - pos, pos + int(offsets[i])))
            pos = max(pos, stop)
            i += 1
        return out
