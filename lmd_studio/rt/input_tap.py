"""The audio input, placed on the output's timeline: `InputTap` holds the most recent input frames indexed by
*output position*, with the round-trip latency already taken out.

Output position = frames the audio backend has asked the engine to render since it started (it equals
`OutputStage.output_position`). The backend writes input frame y, captured while output frame x was
leaving the device, at position `x - roundtrip_frames`, so frame p of the tap is what the player played
*while hearing* output frame p: a click played at output position p and looped back by a cable reads back
at tap position p (audio/calibration.py measures exactly that).

One writer (the backend's audio thread or its pump): `write` and `fill_silence_to`, allocation-free.
Any number of readers on other threads: `read`/`read_into` copy a span and check afterwards that the writer
did not overwrite it meanwhile (frames it did are zeroed and counted), so nothing is locked.

For the jam work: `read(end_output_position, frames)` gives the input that lines up with output positions
[end - frames, end); positions not captured (yet, or any more) read as silence. `end_position` says how far
the input has arrived: it trails the output being rendered by the device buffers and the round trip.
"""

from __future__ import annotations

import numpy as np

from lmd_studio.core.units import next_power_of_two


class InputTap:
    __slots__ = ("_buf", "_mask", "_capacity", "_channels", "_end", "_guard_frames", "_abs",
                 "_peak", "_sum_sq", "_count", "overwritten_reads", "skipped_frames", "gap_frames")

    def __init__(self, min_capacity_frames: int, channels: int, max_write_frames: int = 8192) -> None:
        if min_capacity_frames < 2 * max_write_frames or channels < 1 or max_write_frames < 1:
            raise ValueError(f"input tap needs capacity >= 2 x max_write_frames and channels >= 1, got "
                             f"{min_capacity_frames}, {channels}, {max_write_frames}")
        self._capacity = next_power_of_two(int(min_capacity_frames))
        self._mask = self._capacity - 1
        self._channels = int(channels)
        self._buf = np.zeros((self._capacity, self._channels), np.float32)
        self._end = 0  # output position just past the newest frame written
        # a reader keeps this far from the oldest frame: the writer may be filling that many past `_end`
        self._guard_frames = int(max_write_frames)
        self._abs = np.zeros((max_write_frames, self._channels), np.float32)
        self._peak = 0.0
        self._sum_sq = 0.0
        self._count = 0
        self.overwritten_reads = 0  # reads the writer overtook (the reader was too slow for the history)
        self.skipped_frames = 0  # input frames that arrived behind `end_position` (a latency change)
        self.gap_frames = 0  # positions written as silence because no input arrived for them

    # --- shared views -------------------------------------------------------------------------------------
    @property
    def channels(self) -> int:
        return self._channels

    @property
    def capacity_frames(self) -> int:
        return self._capacity

    @property
    def end_position(self) -> int:
        """Output position just past the newest input frame placed."""
        return self._end

    @property
    def start_position(self) -> int:
        """The oldest output position a read can still return."""
        return max(0, self._end - self._capacity + self._guard_frames)

    # --- writer (audio thread or the device pump) ---------------------------------------------------------
    def write(self, position: int, frames: np.ndarray) -> None:
        """Place `frames` ([n, channels]) at output positions [position, position + n).

        A gap since `end_position` is written as silence; frames before `end_position` (or before position 0)
        are dropped, so the tap only ever moves forward."""
        n = frames.shape[0]
        skip = self._end - position
        if skip > 0:
            self.skipped_frames += skip if skip < n else n
            if skip >= n:
                return
            frames = frames[skip:]
            position = self._end
            n = frames.shape[0]
        elif skip < 0:
            self._silence(-skip)
        done = 0
        while done < n:  # in steps of at most max_write_frames: the meter's scratch and the readers' guard
            k = min(n - done, self._guard_frames)
            part = frames[done:done + k]
            self._meter(part, k)
            self._copy_in(self._end, part, k)
            self._end += k  # publish after the data
            done += k

    def fill_silence_to(self, position: int) -> None:
        """No input for output positions up to `position` (no device, input closed): silence, so readers and
        the recording keep their timeline."""
        if position > self._end:
            self._silence(position - self._end)

    def _silence(self, n: int) -> None:
        self.gap_frames += n
        while n > 0:  # in steps, so a reader's overwrite check still holds
            k = n if n < self._guard_frames else self._guard_frames
            i = self._end & self._mask
            first = k if k <= self._capacity - i else self._capacity - i
            self._buf[i:i + first] = 0.0
            if k > first:
                self._buf[:k - first] = 0.0
            self._end += k
            n -= k

    def _copy_in(self, position: int, frames: np.ndarray, n: int) -> None:
        i = position & self._mask
        first = n if n <= self._capacity - i else self._capacity - i
        self._buf[i:i + first] = frames[:first]
        if n > first:
            self._buf[:n - first] = frames[first:n]

    def _meter(self, frames: np.ndarray, n: int) -> None:
        if n == 0:
            return
        a = self._abs[:n]
        np.abs(frames, out=a)
        peak = float(a.max())
        if peak > self._peak:
            self._peak = peak
        np.multiply(a, a, out=a)
        self._sum_sq += float(a.sum())
        self._count += n * self._channels

    # --- readers ---------------------------------------------------------------------------------------------
    def read(self, end_output_position: int, frames: int) -> np.ndarray:
        """A new [frames, channels] float32 array: the input lined up with output positions
        [end_output_position - frames, end_output_position); silence where none is held."""
        out = np.zeros((int(frames), self._channels), np.float32)
        self.read_into(out, end_output_position)
        return out

    def read_into(self, out: np.ndarray, end_output_position: int) -> int:
        """Fill `out` ([n, channels]) with output positions [end - n, end); returns how many frames came from
        real input history (the rest is silence: not arrived yet, or older than the history)."""
        n = out.shape[0]
        start = int(end_output_position) - n
        lo = max(start, self.start_position)
        hi = min(int(end_output_position), self._end)
        if hi <= lo:
            out[:] = 0.0
            return 0
        out[:lo - start] = 0.0
        out[hi - start:] = 0.0
        dst = out[lo - start:hi - start]
        i = lo & self._mask
        k = hi - lo
        first = k if k <= self._capacity - i else self._capacity - i
        dst[:first] = self._buf[i:i + first]
        if k > first:
            dst[first:] = self._buf[:k - first]
        # the writer may have lapped us while we copied: whatever it overwrote is not this span any more
        oldest = self._end - self._capacity + self._guard_frames
        if oldest > lo:
            self.overwritten_reads += 1
            lost = min(oldest, hi) - lo
            dst[:lost] = 0.0
            return max(0, k - lost)
        return k

    def take_level(self) -> tuple[float, float]:
        """(peak, rms) of the input written since the last call, linear full scale (for the meters)."""
        peak, sum_sq, count = self._peak, self._sum_sq, self._count
        self._peak, self._sum_sq, self._count = 0.0, 0.0, 0
        return peak, (sum_sq / count) ** 0.5 if count else 0.0
