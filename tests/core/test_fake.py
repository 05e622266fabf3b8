from __future__ import annotations

import numpy as np

from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.generator import BlockControls, BlockGenerator, PromptSlot


def test_fake_implements_protocol_and_shapes() -> None:
    g = FakeBlockGenerator(sample_rate=22050, channels=2, block_seconds=0.25)
    assert isinstance(g, BlockGenerator)
    audio, state = g.generate_block(g.init_state(1), BlockControls())
    assert audio.shape == (g.block_frames, 2) and audio.dtype == np.float32
    assert np.abs(audio).max() > 0.01 and np.abs(audio).max() <= 1.0


def test_fake_is_deterministic_and_does_not_mutate_state() -> None:
    g = FakeBlockGenerator(block_seconds=0.1, channels=1)
    s0 = g.init_state(3)
    controls = BlockControls(values={"density": 1.0}, prompts=(PromptSlot("dark techno"),))
    a1, s1 = g.generate_block(s0, controls)
    a2, s2 = g.generate_block(s0, controls)
    np.testing.assert_array_equal(a1, a2)
    assert s1 == s2 and s0.block_index == 0


def test_fake_hears_controls() -> None:
    g = FakeBlockGenerator(block_seconds=0.2, channels=1)
    s = g.init_state(0)
    quiet, _ = g.generate_block(s, BlockControls(values={"loudness": 0.1, "density": 0.0}))
    loud, _ = g.generate_block(s, BlockControls(values={"loudness": 1.0, "density": 0.0}))
    assert np.sqrt((loud**2).mean()) > 5 * np.sqrt((quiet**2).mean())
    chord, _ = g.generate_block(s, BlockControls(held_notes=((60, 100), (64, 100))))
    spectrum = np.abs(np.fft.rfft(chord[:, 0]))
    peak_hz = np.argmax(spectrum) * g.sample_rate / chord.shape[0]
    assert abs(peak_hz - 261.6) < 10 or abs(peak_hz - 329.6) < 10


def test_fake_phase_is_continuous_across_blocks() -> None:
    g = FakeBlockGenerator(block_seconds=0.05, channels=1)
    controls = BlockControls(values={"density": 0.0, "brightness": 0.0})
    a, s = g.generate_block(g.init_state(0), controls)
    b, _ = g.generate_block(s, controls)
    joined = np.concatenate([a[:, 0], b[:, 0]])
    jump = abs(joined[len(a)] - joined[len(a) - 1])
    typical = np.abs(np.diff(joined)).max()
    assert jump <= typical * 1.01


def test_fake_plays_the_progression_a_chord_a_bar() -> None:
    """C major, I–V–vi–IV at 120 bpm in 4/4 (2-s bars), 0.5-s blocks: the fourth block is still C, the fifth
    (bar 2) G; the engine's bar number wins over the fake's own count; a held chord wins over both."""
    g = FakeBlockGenerator(block_seconds=0.5, channels=1, sample_rate=8000)
    values = {"pitch": 0.0, "progression": 1.0, "density": 0.0, "brightness": 0.0}
    controls = BlockControls(values=values, bpm=120.0)

    def lowest_hz(block: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(block[:, 0]))
        peaks = np.flatnonzero(spectrum > 0.3 * spectrum.max())
        return float(peaks[0] * g.sample_rate / block.shape[0])

    state, roots = g.init_state(0), []
    for _ in range(5):
        block, state = g.generate_block(state, controls)
        roots.append(lowest_hz(block))
    assert all(abs(r - 130.8) < 4 for r in roots[:4]) and abs(roots[4] - 196.0) < 4  # C3 … then G3
    told = BlockControls(values=values, bpm=120.0, bar_number=2, bar_position_beats=0.0)
    assert abs(lowest_hz(g.generate_block(g.init_state(0), told)[0]) - 220.0) < 4  # bar 3 of 4: A minor
    held = BlockControls(values=values, bpm=120.0, held_notes=((62, 100),))
    assert abs(lowest_hz(g.generate_block(g.init_state(0), held)[0]) - 293.7) < 4  # the held D4
