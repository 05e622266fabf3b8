"""A deterministic stand-in for the model: chords of sines and noise clicks steered by the controls.

It implements the BlockGenerator contract exactly (explicit immutable state, block_frames per call) so
the engine, the GUI and the tests run without torch. Optional `compute_s` makes each block take that long
(time.sleep, which releases the GIL like torch does) to simulate a slow model.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

import numpy as np

from lmd_studio.core.generator import BlockControls
from lmd_studio.core.musical_key import Key
from lmd_studio.core.params import (
    BRIGHTNESS,
    DENSITY,
    LOUDNESS,
    PITCH,
    PROGRESSION,
    SEED,
    TEMPERATURE,
    ParamSpec,
)
from lmd_studio.core.progression import chord_for_bar, progression_from_knob

_MAX_VOICES = 4
_MAX_HARMONICS = 6


@dataclass(frozen=True, slots=True)
class FakeState:
    seed: int
    block_index: int
    phases: tuple[float, ...]  # one running phase (radians) per voice × harmonic


class FakeBlockGenerator:
    """Deterministic tones: same state + same controls → bit-identical block."""

    def __init__(self, sample_rate: int = 44100, channels: int = 2, block_seconds: float = 0.5,
                 compute_s: float = 0.0, context_seconds: float = 4.0) -> None:
        if sample_rate <= 0 or channels not in (1, 2) or block_seconds <= 0:
            raise ValueError(f"bad FakeBlockGenerator config: sr={sample_rate} ch={channels} block={block_seconds}")
        self._sample_rate = int(sample_rate)
        self._channels = int(channels)
        self._block_frames = int(round(block_seconds * sample_rate))
        self._context_frames = int(round(context_seconds * sample_rate))
        self.compute_s = float(compute_s)
        self._t_s = np.arange(self._block_frames, dtype=np.float64) / self._sample_rate

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def block_frames(self) -> int:
        return self._block_frames

    @property
    def context_frames(self) -> int:
        return self._context_frames

    @property
    def name(self) -> str:
        return "fake-tones"

    @property
    def param_specs(self) -> tuple[ParamSpec, ...]:
        return (TEMPERATURE, SEED, LOUDNESS, BRIGHTNESS, DENSITY, PITCH, PROGRESSION)

    def init_state(self, seed: int) -> FakeState:
        return FakeState(seed=int(seed), block_index=0, phases=(0.0,) * (_MAX_VOICES * _MAX_HARMONICS))

    def _bar_at_block_start(self, controls: BlockControls, block_index: int) -> int | None:
        """The bar the block starts in: the engine's, else counted from the stream's start at this tempo."""
        if controls.bpm is None:
            return None
        if controls.bar_number is not None and controls.bar_position_beats is not None:
            return controls.bar_number
        beats = block_index * self._block_frames / self._sample_rate * controls.bpm / 60.0
        return int(beats // controls.beats_per_bar + 1e-9)

    def _voices_hz(self, controls: BlockControls, seed: int, block_index: int = 0) -> list[tuple[float, float]]:
        """(frequency, amplitude) of each voice: held notes win, then a progression's chord of the bar the
        block starts in (the fake changes chord a block late at worst; the model changes on the bar line), else
        a chord from pitch + prompt."""
        if controls.held_notes:
            notes = sorted(controls.held_notes)[:_MAX_VOICES]
            return [(440.0 * 2.0 ** ((n - 69) / 12.0), v / 127.0) for n, v in notes]
        progression = progression_from_knob(controls.value(PROGRESSION))
        bar = self._bar_at_block_start(controls, block_index)
        if progression is not None and bar is not None and not controls.is_auto(PITCH):
            triad = chord_for_bar(Key.from_knob(controls.value(PITCH)), progression, bar)
            chord_notes = [48 + triad[0] + (pc - triad[0]) % 12 for pc in triad]  # root position from C3
            return [(440.0 * 2.0 ** ((n - 69) / 12.0), 0.8) for n in chord_notes]
        key = Key.from_knob(controls.value(PITCH))
        root, minor = 48 + key.tonic, key.minor
        if controls.is_auto(PITCH):
            mix = controls.prompt_mix
            root, minor = 48 + seed % 12, (zlib.crc32(mix[0][0].encode()) if mix else 0) % 2 == 1
        chord = (0, 3 if minor else 4, 7, 12)
        return [(440.0 * 2.0 ** ((root + iv - 69) / 12.0), 0.8) for iv in chord]

    def generate_block(self, state: FakeState, controls: BlockControls) -> tuple[np.ndarray, FakeState]:
        if self.compute_s > 0:
            time.sleep(self.compute_s)
        seed = int(controls.value(SEED)) if SEED.name in controls.values else state.seed
        loud = 0.5 if controls.is_auto(LOUDNESS) else controls.value(LOUDNESS)
        bright = 0.5 if controls.is_auto(BRIGHTNESS) else controls.value(BRIGHTNESS)
        density = 0.5 if controls.is_auto(DENSITY) else controls.value(DENSITY)
        n_harm = 1 + int(round(bright * (_MAX_HARMONICS - 1)))
        voices = self._voices_hz(controls, seed, state.block_index)

        out = np.zeros(self._block_frames, dtype=np.float64)
        phases = list(state.phases)
        two_pi = 2.0 * np.pi
        for v, (f0, amp) in enumerate(voices):
            for h in range(_MAX_HARMONICS):
                k = v * _MAX_HARMONICS + h
                f = f0 * (h + 1)
                if h < n_harm and f < self._sample_rate / 2:
                    out += (amp / (h + 1)) * np.sin(phases[k] + two_pi * f * self._t_s)
                # keep every oscillator's phase running so switching harmonics on/off is seamless
                phases[k] = float((phases[k] + two_pi * f * self._block_frames / self._sample_rate) % two_pi)
        out *= 0.25 * loud / max(1, len(voices))

        # density: short noise clicks at a rate of 0..16 per second, deterministic per (seed, block)
        rng = np.random.default_rng((seed * 1_000_003 + state.block_index) & 0xFFFFFFFF)
        n_clicks = rng.poisson(density * 16.0 * self._block_frames / self._sample_rate)
        click_len = min(self._block_frames, self._sample_rate // 50)
        env = np.exp(-np.arange(click_len) / (click_len / 5.0))
        temp = controls.value(TEMPERATURE)
        for start in rng.integers(0, self._block_frames - click_len + 1, size=n_clicks):
            out[start:start + click_len] += 0.3 * loud * temp * env * rng.standard_normal(click_len)

        audio = np.repeat(out[:, None], self._channels, axis=1).astype(np.float32)
        np.clip(audio, -1.0, 1.0, out=audio)
        return audio, FakeState(seed=state.seed, block_index=state.block_index + 1, phases=tuple(phases))
