"""A single-producer single-consumer audio ring in shared memory, for an audio callback in another process.

Layout of one SharedMemory block: a header of int64 counters and float64 stats, then the float32 frames.
The parent (producer) owns `write_pos`; the child's callback (consumer) owns `read_pos` and its counters.
Each side stores only its own counters, after the data (x86/ARM keep aligned 8-byte stores atomic), so no
lock crosses the process boundary.

The audio input travels the other way in a second block of the same layout, used as a history: the child's
callback writes the input frames of each period at the *output* ring position that period played
(`write_columns_at`), never waiting for the parent; the parent copies them out by position (`copy_at`) and
learns from the positions whether it fell so far behind that some were overwritten (an input overrun).
"""

from __future__ import annotations

import sys
from multiprocessing import shared_memory

import numpy as np

# int64 header slots
WRITE_POS, READ_POS, UNDERFLOWS, CALLBACKS, STATE, HEARTBEAT, LATE_COUNT, DEVICE_UNDERFLOWS = range(8)
N_INT = 16
# float64 header slots
LAST_CB_S, OUTPUT_LATENCY_S = range(2)
N_FLOAT = 8
LATENESS_SLOTS = 4096
MESSAGE_BYTES = 512

MONITOR = 8  # parent → child: the monitor gain in thousandths (nonzero = add the input to the output)
SLOW_CALLBACKS = 10  # the child's callbacks whose own work took over half a period (ours to blame, not the device's)
# the input block's header: WRITE_POS and STATE as above, plus
IN_DEVICE_OVERFLOWS, IN_UNPLAYED_FRAMES = 8, 9  # device-reported overflows; input with no output frame
IN_ROUNDTRIP_S, IN_STREAM_LATENCY_S = 0, 1  # float slots: time_info's DAC − ADC time; stream.latency in + out

STATE_STARTING, STATE_RUNNING, STATE_FAILED, STATE_STOPPED = 0, 1, 2, 3


def _attach(name: str) -> shared_memory.SharedMemory:
    """Attach without handing the block to this process's resource tracker: before Python 3.13 an
    attaching process's tracker would unlink the owner's block when the attaching process exits."""
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, track=False)
    shm = shared_memory.SharedMemory(name=name)
    from multiprocessing import resource_tracker

    resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
    return shm


class ShmAudioRing:
    def __init__(self, capacity_frames: int, channels: int, name: str | None = None) -> None:
        if capacity_frames & (capacity_frames - 1):
            raise ValueError(f"capacity must be a power of two, got {capacity_frames}")
        self.capacity_frames = capacity_frames
        self.channels = channels
        n_bytes = self.size_bytes(capacity_frames, channels)
        self._owner = name is None
        self.shm = shared_memory.SharedMemory(create=True, size=n_bytes) if name is None else _attach(name)
        buf = self.shm.buf
        off = 0
        self.ints = np.ndarray((N_INT,), np.int64, buf, off)
        off += N_INT * 8
        self.floats = np.ndarray((N_FLOAT,), np.float64, buf, off)
        off += N_FLOAT * 8
        self.lateness_ms = np.ndarray((LATENESS_SLOTS,), np.float64, buf, off)
        off += LATENESS_SLOTS * 8
        self.message = np.ndarray((MESSAGE_BYTES,), np.uint8, buf, off)
        off += MESSAGE_BYTES
        self.frames = np.ndarray((capacity_frames, channels), np.float32, buf, off)
        self._mask = capacity_frames - 1
        if self._owner:
            self.ints[:] = 0
            self.floats[:] = 0.0
            self.frames[:] = 0.0

    @staticmethod
    def size_bytes(capacity_frames: int, channels: int) -> int:
        return N_INT * 8 + N_FLOAT * 8 + LATENESS_SLOTS * 8 + MESSAGE_BYTES + capacity_frames * channels * 4

    @property
    def name(self) -> str:
        return self.shm.name

    @property
    def readable_frames(self) -> int:
        return int(self.ints[WRITE_POS] - self.ints[READ_POS])

    def write(self, frames: np.ndarray) -> int:
        """Producer: copy what fits."""
        w, r = int(self.ints[WRITE_POS]), int(self.ints[READ_POS])
        n = min(frames.shape[0], self.capacity_frames - (w - r))
        if n <= 0:
            return 0
        i = w & self._mask
        first = min(n, self.capacity_frames - i)
        self.frames[i:i + first] = frames[:first]
        if n > first:
            self.frames[:n - first] = frames[first:n]
        self.ints[WRITE_POS] = w + n
        return n

    def read_into(self, out: np.ndarray) -> int:
        """Consumer (the child's callback): fill `out`, zero the shortfall, count underflows."""
        n = out.shape[0]
        r = int(self.ints[READ_POS])
        avail = int(self.ints[WRITE_POS]) - r
        k = n if avail >= n else (avail if avail > 0 else 0)
        if k:
            i = r & self._mask
            first = k if k <= self.capacity_frames - i else self.capacity_frames - i
            out[:first] = self.frames[i:i + first]
            if k > first:
                out[first:k] = self.frames[:k - first]
        if k < n:
            out[k:] = 0.0
            self.ints[UNDERFLOWS] += 1
        self.ints[READ_POS] = r + k
        return k

    # --- the input block -----------------------------------------------------------------------------------
    def write_columns_at(self, position: int, src: np.ndarray, columns: tuple[int, ...], n: int) -> None:
        """Child's callback: src[:n, columns] to frames [position, position + n), then publish the end.
        Overwrites whatever was there: the parent checks positions, the callback never waits."""
        i = position & self._mask
        first = n if n <= self.capacity_frames - i else self.capacity_frames - i
        for j, col in enumerate(columns):
            self.frames[i:i + first, j] = src[:first, col]
            if n > first:
                self.frames[:n - first, j] = src[first:n, col]
        self.ints[WRITE_POS] = position + n

    def copy_at(self, position: int, out: np.ndarray, guard_frames: int) -> int:
        """Parent: copy frames [position, position + len(out)) into `out`; returns how many leading frames
        were lost to overwriting (zeroed). `guard_frames`: how far past the published end the child may be
        writing at this moment (one device buffer)."""
        n = out.shape[0]
        i = position & self._mask
        first = n if n <= self.capacity_frames - i else self.capacity_frames - i
        out[:first] = self.frames[i:i + first]
        if n > first:
            out[first:] = self.frames[:n - first]
        oldest = int(self.ints[WRITE_POS]) + guard_frames - self.capacity_frames
        lost = min(n, oldest - position) if oldest > position else 0
        if lost:
            out[:lost] = 0.0
        return lost

    def set_message(self, text: str) -> None:
        data = text.encode("utf-8", "replace")[: MESSAGE_BYTES - 1]
        self.message[:] = 0
        self.message[: len(data)] = np.frombuffer(data, np.uint8)

    def get_message(self) -> str:
        raw = bytes(self.message)
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")

    def close(self) -> None:
        # numpy views must go before the mapping can close
        del self.ints, self.floats, self.lateness_ms, self.message, self.frames
        self.shm.close()
        if self._owner:
            self.shm.unlink()
