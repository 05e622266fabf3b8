"""The timeline's data: waveform peaks and a coarse spectrogram of everything generated, by stream position.

Fed by the engine's block listener (worker thread) with each block — or spliced tail — as it is queued,
so it holds both what was played and what is generated ahead of the playhead. A notification at position
`p` replaces everything from `p` on (a splice or reset rewrote it). Positions are *stream* frames at the
device rate: `base` + the current engine's ring position, so the history runs on across model switches.

Storage is circular and preallocated: `history_s` of min/max columns of `peak_frames` each, and of
log-band spectra (uint8 dB) with hop `spec_hop_frames`. The worker's cost per 0.5 s block is a few
hundred microseconds. The GUI reads slices under a lock held for a copy.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

SPEC_FLOOR_DB = -84.0


@dataclass(frozen=True, slots=True)
class TimelineConfig:
    sample_rate_hz: int
    history_s: float = 600.0
    peak_frames: int = 256
    spec_hop_frames: int = 1024
    spec_bands: int = 64
    spec_min_hz: float = 30.0
    spec_max_hz: float = 16000.0

    def __post_init__(self) -> None:
        if self.sample_rate_hz <= 0 or self.history_s <= 0:
            raise ValueError(f"TimelineConfig: need sample_rate_hz > 0 and history_s > 0, got "
                             f"{self.sample_rate_hz}, {self.history_s}")
        if self.peak_frames < 1 or self.spec_hop_frames < 16 or self.spec_hop_frames % self.peak_frames:
            raise ValueError(f"TimelineConfig: spec_hop_frames ({self.spec_hop_frames}) must be a multiple of "
                             f"peak_frames ({self.peak_frames}) and >= 16")
        if not 0 < self.spec_min_hz < self.spec_max_hz or self.spec_bands < 2:
            raise ValueError("TimelineConfig: need 0 < spec_min_hz < spec_max_hz and spec_bands >= 2")

    @property
    def peak_columns(self) -> int:
        return int(math.ceil(self.history_s * self.sample_rate_hz / self.peak_frames))

    @property
    def spec_columns(self) -> int:
        return int(math.ceil(self.history_s * self.sample_rate_hz / self.spec_hop_frames))


@dataclass(frozen=True, slots=True)
class Marker:
    position: int  # stream frame where the change is heard
    label: str
    kind: str = "control"  # "control" | "prompt" | "scene" | "reset" | "model"


@dataclass(frozen=True, slots=True)
class WaveSlice:
    """Waveform columns of `frames_per_column` each: column k covers stream frames
    [(first_column + k) * frames_per_column, …); (min, max) per column."""

    first_column: int
    frames_per_column: int
    mins: np.ndarray
    maxs: np.ndarray

    @property
    def start_position(self) -> int:
        return self.first_column * self.frames_per_column


@dataclass(frozen=True, slots=True)
class SpecSlice:
    first_column: int
    frames_per_column: int
    image: np.ndarray  # uint8 [columns, bands], 0 = SPEC_FLOOR_DB, 255 = 0 dBFS

    @property
    def start_position(self) -> int:
        return self.first_column * self.frames_per_column


def _band_matrix(cfg: TimelineConfig) -> np.ndarray:
    """[bins, bands] 0/1 weights summing rfft bins into log-spaced bands (every band gets >= 1 bin)."""
    n_bins = cfg.spec_hop_frames // 2 + 1
    freqs = np.arange(n_bins) * cfg.sample_rate_hz / cfg.spec_hop_frames
    top = min(cfg.spec_max_hz, cfg.sample_rate_hz / 2)
    edges = np.geomspace(cfg.spec_min_hz, top, cfg.spec_bands + 1)
    m = np.zeros((n_bins, cfg.spec_bands), dtype=np.float32)
    for b in range(cfg.spec_bands):
        inside = (freqs >= edges[b]) & (freqs < edges[b + 1])
        if not inside.any():
            inside[int(np.argmin(np.abs(freqs - math.sqrt(edges[b] * edges[b + 1]))))] = True
        m[inside, b] = 1.0
    return m


class TimelineModel:
    def __init__(self, config: TimelineConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        cp, cs = config.peak_columns, config.spec_columns
        self._mins = np.zeros(cp, dtype=np.float32)
        self._maxs = np.zeros(cp, dtype=np.float32)
        self._spec = np.zeros((cs, config.spec_bands), dtype=np.uint8)
        for array in (self._mins, self._maxs, self._spec):
            array.fill(0)  # touch every page now: memory stays flat while the history fills
        self._end = 0  # stream position just past the newest data
        self._spec_end_col = 0  # spectrum columns [.., _spec_end_col) are valid
        self._carry = np.zeros(0, dtype=np.float32)  # mono frames of an unfinished spectrum column
        self._carry_pos = 0
        self._window = np.hanning(config.spec_hop_frames).astype(np.float32)
        self._amp_scale = 2.0 / float(self._window.sum())  # |rfft| → sine amplitude
        # a sine's energy spreads over the window's main lobe: dividing the band's summed power by the
        # window's equivalent noise bandwidth (1.5 bins for Hann) reads a sine's amplitude back exactly
        self._enbw_bins = len(self._window) * float((self._window ** 2).sum()) / float(self._window.sum()) ** 2
        self._bands = _band_matrix(config)
        self._boundaries: deque[tuple[int, int]] = deque(maxlen=8192)
        self._markers: deque[Marker] = deque(maxlen=2048)
        self.base = 0  # stream position of the current engine's ring position 0
        self.blocks_seen = 0
        self.version = 0  # bumped by every change, so a view can skip redrawing what it already shows

    # --- worker thread (engine block listener) ---------------------------------------------------
    def on_block(self, position: int, frames: np.ndarray, block_index: int, spliced: bool) -> None:
        pos = self.base + int(position)
        lo = frames.min(axis=1) if frames.ndim == 2 else frames  # [T] across channels
        hi = frames.max(axis=1) if frames.ndim == 2 else frames
        mono = frames.mean(axis=1, dtype=np.float32) if frames.ndim == 2 else frames.astype(np.float32)
        with self._lock:
            self._truncate_locked(pos)
            if not spliced:
                self._boundaries.append((pos, int(block_index)))
            self._write_peaks(pos, lo, hi)
            self._write_spectrum(pos, mono)
            self._end = pos + len(mono)
            self.blocks_seen += 1
            self.version += 1

    # --- app side ----------------------------------------------------------------------------------
    def rebase(self, stream_position: int) -> None:
        """A new engine starts at ring position 0 = `stream_position`; drop anything generated beyond it."""
        with self._lock:
            self._truncate_locked(stream_position)
            self.base = int(stream_position)
            self.version += 1

    def add_marker(self, position: int, label: str, kind: str = "control") -> None:
        with self._lock:
            self._markers.append(Marker(int(position), label, kind))
            self.version += 1

    @property
    def end_position(self) -> int:
        return self._end

    def oldest_position(self) -> int:
        span = self.config.peak_columns * self.config.peak_frames
        return max(0, self._end - span)

    def waveform(self, start: int, end: int, max_columns: int) -> WaveSlice:
        """Min/max columns covering [start, end), merged so that at most `max_columns` come back."""
        cfg = self.config
        with self._lock:
            c0 = max(start, self.oldest_position(), 0) // cfg.peak_frames
            c1 = min(end, self._end) // cfg.peak_frames + (1 if min(end, self._end) % cfg.peak_frames else 0)
            if c1 <= c0:
                empty = np.zeros(0, dtype=np.float32)
                return WaveSlice(max(0, start // cfg.peak_frames), cfg.peak_frames, empty, empty)
            idx = np.arange(c0, c1) % self._mins.shape[0]
            mins, maxs = self._mins[idx], self._maxs[idx]
        group = max(1, int(math.ceil((c1 - c0) / max(1, max_columns))))
        if group > 1:
            c0_aligned = c0 - c0 % group  # stable grouping while scrolling: no shimmer
            pad_front, pad_back = c0 - c0_aligned, (-(c1 - c0_aligned)) % group
            mins = np.concatenate([np.full(pad_front, np.inf, np.float32), mins, np.full(pad_back, np.inf, np.float32)])
            maxs = np.concatenate([np.full(pad_front, -np.inf, np.float32), maxs, np.full(pad_back, -np.inf, np.float32)])
            mins = mins.reshape(-1, group).min(axis=1)  # [columns/group, group] → [columns/group]
            maxs = maxs.reshape(-1, group).max(axis=1)
            return WaveSlice(c0_aligned // group, cfg.peak_frames * group, mins, maxs)
        return WaveSlice(c0, cfg.peak_frames, mins, maxs)

    def spectrogram(self, start: int, end: int, max_columns: int) -> SpecSlice:
        """Spectrum columns covering [start, end), merged (max) so that at most `max_columns` come back."""
        cfg = self.config
        hop = cfg.spec_hop_frames
        with self._lock:
            oldest_col = max(0, self._spec_end_col - self._spec.shape[0])
            c0 = max(start // hop, oldest_col, 0)
            c1 = min(end // hop + 1, self._spec_end_col)
            if c1 <= c0:
                return SpecSlice(max(0, start // hop), hop, np.zeros((0, cfg.spec_bands), np.uint8))
            image = self._spec[np.arange(c0, c1) % self._spec.shape[0]]
        group = max(1, int(math.ceil((c1 - c0) / max(1, max_columns))))
        if group > 1:
            c0a = c0 - c0 % group
            pad = ((c0 - c0a, (-(c1 - c0a)) % group), (0, 0))
            image = np.pad(image, pad, mode="edge")
            image = image.reshape(-1, group, cfg.spec_bands).max(axis=1)  # [cols/group, group, bands] → max
            return SpecSlice(c0a // group, hop * group, image)
        return SpecSlice(c0, hop, image)

    def boundaries(self, start: int, end: int) -> list[tuple[int, int]]:
        out = []
        with self._lock:
            for p, i in reversed(self._boundaries):  # ascending positions: scan back from the newest
                if p < start:
                    break
                if p < end:
                    out.append((p, i))
        return out[::-1]

    def markers(self, start: int, end: int) -> list[Marker]:
        with self._lock:
            return [m for m in self._markers if start <= m.position < end]

    # --- internals --------------------------------------------------------------------------------------
    def _truncate_locked(self, pos: int) -> None:
        if pos >= self._end:
            return
        self._end = max(pos, 0)
        while self._boundaries and self._boundaries[-1][0] >= pos:
            self._boundaries.pop()
        self._spec_end_col = min(self._spec_end_col, pos // self.config.spec_hop_frames)

    def _write_peaks(self, pos: int, lo: np.ndarray, hi: np.ndarray) -> None:
        b = self.config.peak_frames
        size = self._mins.shape[0]
        n = len(lo)
        head = min(n, (-pos) % b)
        if head:  # finish the column `pos` falls into: merge with what it already holds
            c = (pos // b) % size
            self._mins[c] = min(self._mins[c], lo[:head].min())
            self._maxs[c] = max(self._maxs[c], hi[:head].max())
        full = (n - head) // b
        if full:
            c0 = (pos + head) // b
            idx = np.arange(c0, c0 + full) % size
            self._mins[idx] = lo[head:head + full * b].reshape(full, b).min(axis=1)  # [T] → [columns, b]
            self._maxs[idx] = hi[head:head + full * b].reshape(full, b).max(axis=1)
        rest = n - head - full * b
        if rest > 0:  # start a new column; the next contiguous block merges into it
            c = ((pos + n - rest) // b) % size
            self._mins[c] = lo[n - rest:].min()
            self._maxs[c] = hi[n - rest:].max()

    def _write_spectrum(self, pos: int, mono: np.ndarray) -> None:
        hop = self.config.spec_hop_frames
        carry_end = self._carry_pos + len(self._carry)
        if len(self._carry) and self._carry_pos <= pos <= carry_end:
            data = np.concatenate([self._carry[:pos - self._carry_pos], mono])
            start = self._carry_pos
        else:
            start = -(-pos // hop) * hop  # next column boundary at or after pos
            data = mono[start - pos:]
        full = len(data) // hop
        if full:
            frames = data[:full * hop].reshape(full, hop) * self._window  # [columns, hop]
            amp = np.abs(np.fft.rfft(frames, axis=1)) * self._amp_scale  # [columns, bins]
            band_amp = np.sqrt((amp * amp) @ self._bands / self._enbw_bins)  # [columns, bands]
            db = 20.0 * np.log10(np.maximum(band_amp, 1e-9))
            scaled = np.clip((db - SPEC_FLOOR_DB) * (255.0 / -SPEC_FLOOR_DB), 0, 255).astype(np.uint8)
            c0 = start // hop
            self._spec[np.arange(c0, c0 + full) % self._spec.shape[0]] = scaled
            self._spec_end_col = c0 + full
        self._carry = data[full * hop:].copy()
        self._carry_pos = start + full * hop

