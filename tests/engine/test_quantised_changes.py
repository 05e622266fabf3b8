"""Quantised changes in the engine, stepped synchronously with the fake generator: a change made mid-bar is
heard from the next bar line's sample (the crossfade centred on it), not from the next block boundary.

The fake generator's oscillators run on whatever the loudness, so with no noise clicks (density 0) a
louder take is the quiet one times the loudness ratio: the audio played with a change is compared with
the same stream played without it.
"""

from __future__ import annotations

import numpy as np
import pytest

from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.params import STANDARD_PARAMS
from lmd_studio.engine import commands as cmd
from lmd_studio.engine.worker import EngineConfig, GenerationEngine
from lmd_studio.rt.mailbox import ParamMailbox

RATE = 8000
BAR = 16000  # 4/4 at 120 bpm: a beat every 4000 samples
BUFFER = 64
QUIET, LOUD = 0.2, 0.9


def make_engine(quantise: str = "bar", bpm: float | None = 120.0, block_s: float = 0.3) -> GenerationEngine:
    gen = FakeBlockGenerator(sample_rate=RATE, channels=1, block_seconds=block_s)
    mb = ParamMailbox(STANDARD_PARAMS)
    for name, value in (("density", 0.0), ("master_gain_db", 0.0), ("loudness", QUIET)):
        mb.set(name, value)
    mb.set_bpm(bpm)
    config = EngineConfig(device_sample_rate_hz=RATE, device_channels=1, ahead_s=1.0, ring_s=4.0,
                          crossfade_s=0.005, quantise=quantise, limiter=None)
    engine = GenerationEngine(gen, mb, config, max_buffer_frames=1024)
    engine.send(cmd.Play())
    return engine


def play(engine: GenerationEngine, buffers: int, change_at: int | None = None, **change: float) -> np.ndarray:
    """Play `buffers` device buffers; before buffer `change_at`, write `change` into the mailbox. Returns
    what was played by ring position (the device plays silence until the ring is primed)."""
    out = np.zeros(engine.ring.read_position + buffers * BUFFER, np.float32)
    buf = np.zeros((BUFFER, 1), np.float32)
    for k in range(buffers):
        if k == change_at:
            for name, value in change.items():
                engine.mailbox.set(name, value)
        engine.step()
        before = engine.ring.read_position
        engine.output.render(buf)
        out[before:engine.ring.read_position] = buf[:engine.ring.read_position - before, 0]
    return out[:engine.ring.read_position]


def test_a_change_mid_bar_is_heard_from_the_next_bar_line() -> None:
    reference = play(make_engine(), 600)
    engine = make_engine()
    played = play(engine, 600, change_at=150, loudness=LOUD)  # at 9600 samples: bar 1 ends at 16000
    xf = engine.crossfade_frames
    assert engine.stats.landings == 1 and engine.metrics.underruns == 0
    start = BAR - xf // 2  # the crossfade's centre is on the bar line
    np.testing.assert_array_equal(played[:start], reference[:start])  # untouched up to the crossfade
    ratio = LOUD / QUIET
    np.testing.assert_allclose(played[start + xf:start + xf + 20000], ratio * reference[start + xf:start + xf + 20000],
                               atol=1e-5)
    # across the crossfade the gain climbs from 1 to the ratio, half way on the bar line's sample
    gain = played[start:start + xf] / np.where(np.abs(reference[start:start + xf]) > 1e-3,
                                                reference[start:start + xf], np.nan)
    centre = start + int(np.nanargmin(np.abs(gain - (1 + ratio) / 2)))
    assert abs(centre - BAR) <= 1
    r = engine.clock_map.reading(BAR)
    assert r is not None and (r.bar, r.beat) == (2, 1)


def test_beat_quantise_lands_on_the_next_beat() -> None:
    engine = make_engine(quantise="beat")
    play(engine, 600, change_at=150, loudness=LOUD)  # 9600: the next beat is at 12000
    assert engine.stats.last_splice_position == 12000 - engine.crossfade_frames // 2


def test_too_close_to_the_playhead_lands_on_the_following_bar() -> None:
    engine = make_engine()
    play(engine, 248)  # the playhead at 15872, 128 samples before the bar line: no time to regenerate
    assert engine.splice_margin_frames > BAR - engine.ring.read_position
    play(engine, 1, change_at=0, loudness=LOUD)
    m = engine.metrics
    assert (m.landing_position, m.landing_per_bar, m.landing_skipped) == (2 * BAR, True, 1)
    # published before the buffer was played: the playhead was one buffer earlier
    assert m.pending_change_s == pytest.approx((2 * BAR - engine.ring.read_position + BUFFER) / RATE, abs=1e-9)
    play(engine, 300)
    assert engine.stats.last_splice_position == 2 * BAR - engine.crossfade_frames // 2


def test_changes_while_one_waits_land_with_it() -> None:
    engine = make_engine()
    play(engine, 51, change_at=50, loudness=0.5)  # at 3200: the block holding the bar line is not made yet
    play(engine, 1, change_at=0, brightness=0.9)
    assert engine.controls_in_use.values["loudness"] == QUIET  # still waiting for the bar line
    assert engine.metrics.landing_position == BAR
    play(engine, 300)
    assert engine.stats.landings == 1  # one splice took both
    assert engine.stats.last_splice_position == BAR - engine.crossfade_frames // 2
    controls = engine.controls_in_use
    assert (controls.values["loudness"], controls.values["brightness"]) == (0.5, 0.9)


def test_now_lands_at_once_whatever_the_setting() -> None:
    engine = make_engine()
    play(engine, 150)
    engine.mailbox.set("loudness", LOUD)
    engine.send(cmd.LandNow(engine.mailbox.model_version))
    play(engine, 1)
    splice = engine.stats.last_splice_position
    assert splice is not None and splice < BAR - RATE // 10 and engine.stats.landings == 0
    assert engine.metrics.landing_position == -1


def test_a_waiting_change_goes_now_when_asked() -> None:
    engine = make_engine()
    play(engine, 150, change_at=100, loudness=LOUD)
    assert engine.metrics.landing_position == BAR  # spliced in on the bar line, not heard yet
    engine.send(cmd.LandNow(engine.mailbox.model_version))
    played = play(engine, 100)
    splice = engine.stats.last_splice_position
    assert splice is not None and splice < BAR - 3000 and engine.metrics.landing_position == -1
    quiet = np.sqrt(np.mean(played[splice - 600:splice - 100] ** 2))
    loud = np.sqrt(np.mean(played[splice + 100:splice + 600] ** 2))
    assert loud > 3 * quiet


def test_without_a_tempo_or_with_quantise_off_changes_land_at_once() -> None:
    for engine in (make_engine(bpm=None), make_engine(quantise="off")):
        play(engine, 150, change_at=100, loudness=LOUD)
        assert engine.stats.splices == 1 and engine.stats.landings == 0
        assert engine.stats.last_splice_position is not None and engine.stats.last_splice_position < 9600


def test_a_tempo_and_meter_change_take_effect_on_the_bar_line() -> None:
    """120 → 90 bpm and 4/4 → 3/4 from bar 2: bars of 3 × 60/90 s = 16000 samples from 16000 on; the
    count runs on (bar 2 beat 1 on the line), and the clock keeps bar 1 as it was."""
    engine = make_engine()
    play(engine, 150, change_at=100, tempo_bpm=90.0, beats_per_bar=3.0)
    play(engine, 400)
    m = engine.clock_map
    np.testing.assert_array_equal(m.lines(0, 40000, per_bar=True), [0, BAR, 2 * BAR])
    np.testing.assert_array_equal(m.lines(BAR, BAR + 16000), [BAR, BAR + 5334, BAR + 10667])  # 5333.3…, 10666.7…: the sample at or after
    r = m.reading(BAR)
    assert r is not None and (r.bar, r.beat, r.bpm, r.beats_per_bar) == (2, 1, 90.0, 3)
    before = m.reading(BAR - 1)
    assert before is not None and (before.bar, before.beat, before.bpm) == (1, 4, 120.0)


def test_a_crossfade_across_a_block_boundary_regenerates_both_blocks() -> None:
    """Blocks of 0.5 s put the bar line on a block boundary: the crossfade starts in the block before it."""
    reference = play(make_engine(block_s=0.5), 600)
    engine = make_engine(block_s=0.5)
    played = play(engine, 600, change_at=150, loudness=LOUD)
    xf = engine.crossfade_frames
    start = BAR - xf // 2
    assert engine.stats.last_splice_position == start
    np.testing.assert_array_equal(played[:start], reference[:start])
    np.testing.assert_allclose(played[BAR + xf:BAR + 8000], (LOUD / QUIET) * reference[BAR + xf:BAR + 8000], atol=1e-5)


def test_a_new_chord_held_on_the_keyboard_lands_on_the_next_beat() -> None:
    """Chord following: holding a new chord mid-beat changes the harmony from the next beat line, like a knob."""
    reference = play(make_engine(quantise="beat"), 600)
    engine = make_engine(quantise="beat")
    out = play(engine, 150)
    engine.mailbox.set_held_notes(((57, 100), (60, 100), (64, 100)))  # A minor, at 9600 samples
    rest = play(engine, 450)
    played = np.concatenate([out, rest[len(out):]])
    xf = engine.crossfade_frames
    start = 12000 - xf // 2  # the next beat, the crossfade centred on it
    assert engine.stats.landings == 1 and engine.stats.last_splice_position == start
    np.testing.assert_array_equal(played[:start], reference[:start])  # the old chord up to the line
    after = played[start + xf:start + xf + 4000]
    assert np.max(np.abs(after - reference[start + xf:start + xf + 4000])) > 0.05  # a different chord after it
