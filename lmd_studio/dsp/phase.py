"""Streaming phase reconstruction: STFT magnitudes → waveform, chunk by chunk, with explicit state.

The codec decoder predicts magnitudes only. Turning them into sound here is a two-stage recursion run once
per *chunk* (the STFT frames of one latent frame):

1. Phase-gradient initialisation (a vectorised, zero-look-ahead variant of real-time PGHI, Průša et al.):
   for a Gaussian-like window the phase derivatives follow from the log-magnitude — along time from its
   frequency slope (instantaneous frequency), along frequency from its time slope (group delay).
   Spectral peaks that were already present in the previous frame are integrated along time; every other
   bin takes its phase by integrating along frequency from the peak that owns its region (regions split at
   the magnitude minimum between peaks). Transients, which have no history, get coherent vertical phase.
2. A few fast Griffin-Lim iterations (with momentum) on the chunk's frames, consistent with the overlap-add
   tail already committed by earlier chunks (RTISI-style: committed audio never changes).

Because the unit of work is one chunk and nothing looks past it, decoding in blocks of any size gives the
same samples as decoding the whole sequence at once: block boundaries cannot be heard by construction.
Every chunk runs the same float32 operations on same-shaped arrays, so the equality is exact, and float32
keeps the per-chunk cost low (the decode budget is 30 ms per second of audio on 2 cores).
`PhaseReconstructor` is the seam where a neural vocoder can replace this later.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from lmd_studio.dsp.stft import StftConfig, hann_window, ola_gain

_LOG_FLOOR = math.log(1e-9)
# time-frequency spread of a Gaussian equivalent to the Hann window, in samples^2 (Průša et al.)
_HANN_LAMBDA = 0.25645


@dataclass(frozen=True, slots=True)
class PhaseConfig:
    stft: StftConfig = StftConfig()
    frames_per_chunk: int = 4
    gl_iters: int = 8
    momentum: float = 0.99
    peak_floor_db: float = 60.0
    onset_rise_db: float = 6.0

    def __post_init__(self) -> None:
        if self.frames_per_chunk < 1:
            raise ValueError(f"frames_per_chunk must be >= 1, got {self.frames_per_chunk}")
        if self.gl_iters < 0:
            raise ValueError(f"gl_iters must be >= 0, got {self.gl_iters}")
        if not 0.0 <= self.momentum < 1.5:
            raise ValueError(f"momentum must be in [0, 1.5), got {self.momentum}")
        if self.peak_floor_db <= 0 or self.onset_rise_db < 0:
            raise ValueError("peak_floor_db must be > 0 and onset_rise_db >= 0")

    @property
    def chunk_frames(self) -> int:
        """Audio frames produced per chunk."""
        return self.frames_per_chunk * self.stft.hop_frames


@dataclass(frozen=True, slots=True)
class PhaseState:
    """Everything carried from one chunk to the next. Arrays are never modified in place."""

    prev_log_mag: np.ndarray  # [K] log-magnitude of the last frame
    prev_phase: np.ndarray  # [K] its phase, frame-centred convention
    prev_advance: np.ndarray  # [K] its phase advance per hop (radians)
    ola_tail: np.ndarray  # [n_fft - hop] window-weighted overlap-add sums not yet complete
    chunks_done: int = 0


@runtime_checkable
class PhaseReconstructor(Protocol):
    """Magnitude frames → audio, streaming. A neural vocoder can implement this later."""

    @property
    def chunk_frames(self) -> int: ...

    @property
    def frames_per_chunk(self) -> int: ...

    def init_state(self) -> PhaseState: ...

    def process(self, mag: np.ndarray, state: PhaseState) -> tuple[np.ndarray, PhaseState]: ...


class StreamingPhaseReconstructor:
    """PGHI initialisation + per-chunk fast Griffin-Lim (see module docstring)."""

    def __init__(self, cfg: PhaseConfig | None = None) -> None:
        self.cfg = cfg or PhaseConfig()
        s = self.cfg.stft
        k = np.arange(s.n_bins)
        self._lambda = _HANN_LAMBDA * s.n_fft * s.n_fft
        self._bin_advance = (s.hop_frames * 2.0 * np.pi * k / s.n_fft).astype(np.float32)  # [K] advance per hop
        self._centre_sign = np.where(k % 2 == 0, 1.0, -1.0).astype(np.float32)  # frame-start ↔ frame-centre
        self._window = hann_window(s.n_fft).astype(np.float32)
        self._gain = np.float32(ola_gain(s))
        self._bins = k
        # Window-square envelope seen by a chunk when every earlier frame exists but no later one does:
        # full (= gain) over the chunk's own rows, partial over its tail. Dividing the projection by it makes
        # the re-analysis of the chunk's last frames unbiased although their future neighbours are unknown.
        f, r, hop = self.cfg.frames_per_chunk, s.overlap, s.hop_frames
        w2 = (self._window ** 2).reshape(r, hop)
        env = np.zeros((f + r - 1 + r - 1, hop))  # r - 1 earlier frames, then the chunk's f frames
        for i in range(f + r - 1):
            env[i:i + r] += w2
        self._envelope = np.maximum(env[r - 1:], 0.1 * self._gain).astype(np.float32)  # [f + r - 1, hop]
        self._gather = np.arange(s.n_fft)[None, :] + hop * np.arange(f)[:, None]  # [f, n_fft] sample indices

    @property
    def chunk_frames(self) -> int:
        return self.cfg.chunk_frames

    @property
    def frames_per_chunk(self) -> int:
        return self.cfg.frames_per_chunk

    def init_state(self) -> PhaseState:
        s = self.cfg.stft
        k = s.n_bins
        return PhaseState(prev_log_mag=np.full(k, _LOG_FLOOR, dtype=np.float32), prev_phase=np.zeros(k, np.float32),
                          prev_advance=self._bin_advance.copy(), ola_tail=np.zeros(s.tail_frames, np.float32))

    def reconstruct(self, mag: np.ndarray) -> np.ndarray:
        """Offline: the whole magnitude sequence [T, K] from a fresh state."""
        audio, _ = self.process(mag, self.init_state())
        return audio

    def process(self, mag: np.ndarray, state: PhaseState) -> tuple[np.ndarray, PhaseState]:
        """Magnitudes [n_chunks * frames_per_chunk, K] → (audio [n_chunks * chunk_frames], next state)."""
        mag = np.asarray(mag, dtype=np.float32)
        f = self.cfg.frames_per_chunk
        if mag.ndim != 2 or mag.shape[1] != self.cfg.stft.n_bins or mag.shape[0] % f:
            raise ValueError(f"expected magnitudes [n * {f}, {self.cfg.stft.n_bins}], got {list(mag.shape)}")
        out = []
        for c in range(mag.shape[0] // f):
            audio, state = self._chunk(mag[c * f:(c + 1) * f], state)
            out.append(audio)
        return (np.concatenate(out) if out else np.zeros(0, np.float32)), state

    # --- internals -------------------------------------------------------------------------------------
    def _advance(self, log_mag: np.ndarray) -> np.ndarray:
        """Phase advance per hop from the log-magnitude's slope along frequency (instantaneous frequency).
        log_mag [..., K] → [..., K]."""
        slope = np.zeros_like(log_mag)
        slope[..., 1:-1] = 0.5 * (log_mag[..., 2:] - log_mag[..., :-2])
        s = self.cfg.stft
        return self._bin_advance + np.float32(s.hop_frames * s.n_fft / self._lambda) * slope

    def _owners(self, log_mag: np.ndarray, prev_log_mag: np.ndarray) -> np.ndarray:
        """For each bin, the anchor peak whose phase it inherits (regions split at magnitude minima)."""
        peak = np.zeros(log_mag.shape, dtype=bool)
        peak[1:-1] = (log_mag[1:-1] > log_mag[:-2]) & (log_mag[1:-1] >= log_mag[2:])
        peak &= log_mag > log_mag.max() - self.cfg.peak_floor_db / 20.0 * math.log(10.0)
        # a peak with history continues in time; a fresh onset is left to frequency integration
        peak &= prev_log_mag >= log_mag - self.cfg.onset_rise_db / 20.0 * math.log(10.0)
        anchors = np.flatnonzero(peak)
        if anchors.size == 0:
            anchors = np.array([int(np.argmax(log_mag))])
        if anchors.size == 1:
            return np.full(log_mag.shape, anchors[0])
        lo, hi = anchors[0], anchors[-1]
        span = log_mag[lo:hi]
        seg_min = np.minimum.reduceat(span, anchors[:-1] - lo)  # minimum between consecutive anchors
        hits = np.flatnonzero(span == np.repeat(seg_min, np.diff(anchors))) + lo
        seg = np.searchsorted(anchors[:-1], hits, side="right") - 1  # non-decreasing
        bounds = hits[np.flatnonzero(np.diff(seg, prepend=-1))]  # first minimum per gap: region i + 1 starts
        return anchors[np.searchsorted(bounds, self._bins, side="right")]

    def _chunk(self, mag: np.ndarray, st: PhaseState) -> tuple[np.ndarray, PhaseState]:
        cfg, s = self.cfg, self.cfg.stft
        f, r, hop = cfg.frames_per_chunk, s.overlap, s.hop_frames
        log_mag = np.log(np.maximum(mag, np.float32(1e-9)))  # [f, K]
        # everything except the phase recursion itself is computed for the chunk's frames at once
        advance = self._advance(log_mag)  # [f, K]
        prev_lm = np.concatenate([st.prev_log_mag[None], log_mag[:-1]])  # [f, K]
        # phase step per bin = -lambda / n_fft * d(log mag)/dt (group delay), backward difference in time
        freq_step = np.float32(-self._lambda / s.n_fft / s.hop_frames) * (log_mag - prev_lm)
        cum = np.zeros_like(log_mag)
        np.cumsum(0.5 * (freq_step[:, :-1] + freq_step[:, 1:]), axis=1, out=cum[:, 1:])
        phases = np.empty_like(mag)
        prev_ph, prev_adv = st.prev_phase, st.prev_advance
        for i in range(f):
            along_time = prev_ph + 0.5 * (prev_adv + advance[i])
            owner = self._owners(log_mag[i], prev_lm[i])
            phases[i] = np.mod(along_time[owner] + cum[i] - cum[i][owner], np.float32(2.0 * np.pi))
            prev_ph, prev_adv = phases[i], advance[i]
        spec = mag * np.exp(1j * phases) * self._centre_sign  # frame-start phase reference
        tail = st.ola_tail.reshape(r - 1, hop)
        prev_proj = spec
        for _ in range(cfg.gl_iters):
            proj = self._project(spec, tail)
            accel = proj + cfg.momentum * (proj - prev_proj)
            prev_proj = proj
            # keep the target magnitude, take the projection's phase (x / |x| is 5x cheaper than exp(i angle))
            spec = mag * (accel / np.maximum(np.abs(accel), np.float32(1e-12)))
        rows = self._overlap_add(spec, tail)  # [f + r - 1, hop] raw window-weighted sums
        final_phase = np.angle(spec[-1] * self._centre_sign)
        nxt = PhaseState(prev_log_mag=log_mag[-1].copy(), prev_phase=final_phase,
                         prev_advance=advance[-1].copy(), ola_tail=rows[f:].reshape(-1).copy(),
                         chunks_done=st.chunks_done + 1)
        return rows[:f].reshape(-1) / self._gain, nxt

    def _overlap_add(self, spec: np.ndarray, tail: np.ndarray) -> np.ndarray:
        s = self.cfg.stft
        f, r, hop = spec.shape[0], s.overlap, s.hop_frames
        frames = np.fft.irfft(spec, n=s.n_fft, axis=-1) * self._window  # [f, n_fft]
        parts = frames.reshape(f, r, hop)  # [f, R, hop]
        rows = np.zeros((f + r - 1, hop), np.float32)
        rows[: r - 1] += tail
        for c in range(r):
            rows[c:c + f] += parts[:, c]
        return rows

    def _project(self, spec: np.ndarray, tail: np.ndarray) -> np.ndarray:
        """STFT of the overlap-added chunk (committed tail included) at the chunk's own frame positions."""
        f = spec.shape[0]
        rows = self._overlap_add(spec, tail) / self._envelope  # [f + r - 1, hop]
        frames = rows.reshape(-1)[self._gather[:f]]  # [f, n_fft]: frame i = rows i .. i + r - 1
        # numpy's FFT, not SciPy's: SciPy's is faster on these sizes but the app would carry 77 MB for it
        return np.fft.rfft(frames * self._window, axis=-1)
