"""Keyboard → held notes (sustain, velocity → loudness) and MIDI clock → BPM / transport."""

from __future__ import annotations

import random

import pytest

from lmd_studio.core.params import LOUDNESS
from lmd_studio.midi.clock import TICKS_PER_BEAT, ClockConfig, ClockFollower
from lmd_studio.midi.keyboard import Keyboard, KeyboardConfig


def held(params):
    return params.snapshot().controls.held_notes


def test_held_notes_follow_the_keys(sink, catalog, params):
    kb = Keyboard(KeyboardConfig(), sink, catalog)
    for n in (60, 64, 67):
        kb.note(0, n, 100)
    assert held(params) == ((60, 100), (64, 100), (67, 100))
    kb.note(0, 64, 0)
    assert held(params) == ((60, 100), (67, 100)) == kb.held_notes


def test_sustain_pedal_holds_released_notes(sink, catalog, params):
    kb = Keyboard(KeyboardConfig(), sink, catalog)
    kb.note(0, 60, 90)
    assert kb.control(0, 64, 127)
    kb.note(0, 60, 0)
    kb.note(0, 62, 80)
    kb.note(0, 62, 0)
    assert held(params) == ((60, 90), (62, 80))  # both ring on
    kb.note(0, 65, 70)
    kb.control(0, 64, 0)  # pedal up: only the key still down remains
    assert held(params) == ((65, 70),)


def test_all_notes_off_and_panic(sink, catalog, params):
    kb = Keyboard(KeyboardConfig(), sink, catalog)
    kb.note(0, 60, 90), kb.control(0, 64, 127)
    kb.control(0, 123, 0)
    assert held(params) == () and not kb.pedal_down
    kb.note(0, 61, 90)
    kb.release_all()
    assert held(params) == ()


def test_velocity_feeds_loudness(sink, catalog, params):
    kb = Keyboard(KeyboardConfig(velocity_lo=0.2, velocity_hi=1.0), sink, catalog)
    kb.note(0, 60, 127)
    assert params.get("loudness") == pytest.approx(LOUDNESS.from_normalized(1.0))
    kb.note(0, 62, 1)
    assert params.get("loudness") == pytest.approx(0.2 + 0.8 / 127)
    kb.note(0, 62, 0)  # note-off does not change loudness
    assert params.get("loudness") == pytest.approx(0.2 + 0.8 / 127)
    quiet = Keyboard(KeyboardConfig(velocity_target=None), sink, catalog)
    quiet.note(0, 70, 127)
    assert params.get("loudness") == pytest.approx(0.2 + 0.8 / 127)


def test_keyboard_channel_filter_and_bad_config(sink, catalog, params):
    kb = Keyboard(KeyboardConfig(channel=2), sink, catalog)
    assert not kb.note(0, 60, 100)
    assert kb.note(2, 60, 100)
    assert held(params) == ((60, 100),)
    with pytest.raises(ValueError, match="action"):
        Keyboard(KeyboardConfig(velocity_target="play_toggle"), sink, catalog)
    with pytest.raises(ValueError, match="velocity range"):
        KeyboardConfig(velocity_lo=0.9, velocity_hi=0.1)


def feed_clock(clock, bpm, beats, start_s=100.0, jitter_s=0.0, period_s=None, seed=0):
    """Tick times of a steady clock, delayed like JACK does: to the next period boundary plus jitter."""
    rng = random.Random(seed)
    dt = 60.0 / (bpm * TICKS_PER_BEAT)
    t = start_s
    for _ in range(int(beats * TICKS_PER_BEAT)):
        arrival = t
        if period_s:
            arrival = (int(t / period_s) + 1) * period_s
        clock.tick(arrival + rng.uniform(0.0, jitter_s))
        t += dt
    return t


@pytest.mark.parametrize("bpm", [60.0, 120.0, 174.0])
def test_clock_bpm_within_half_a_bpm_despite_period_jitter(sink, params, bpm):
    clock = ClockFollower(ClockConfig(), sink)
    feed_clock(clock, bpm, beats=8, period_s=256 / 48000, jitter_s=0.002)
    assert params.bpm is not None and abs(params.bpm - bpm) <= 0.5
    assert abs(clock.estimate_bpm - bpm) < 0.1


def test_clock_does_not_flicker_the_model_version(sink, params):
    clock = ClockFollower(ClockConfig(), sink)
    end = feed_clock(clock, 120.0, beats=4, period_s=256 / 48000, jitter_s=0.002)
    version = params.model_version
    feed_clock(clock, 120.0, beats=16, start_s=end, period_s=256 / 48000, jitter_s=0.002, seed=1)
    assert params.model_version == version  # 384 more jittery ticks, no new tempo published


def test_clock_follows_a_tempo_change(sink, params):
    clock = ClockFollower(ClockConfig(), sink)
    end = feed_clock(clock, 100.0, beats=4)
    assert params.bpm == pytest.approx(100.0, abs=0.01)
    feed_clock(clock, 140.0, beats=5, start_s=end)  # window is 4 beats: fully moved after it
    assert params.bpm == pytest.approx(140.0, abs=0.3)


def test_clock_resets_after_a_pause_and_reports_state(sink, params):
    clock = ClockFollower(ClockConfig(), sink)
    end = feed_clock(clock, 120.0, beats=2)
    state = clock.state(end)
    assert state.receiving and state.bpm == pytest.approx(120.0, abs=0.01)
    assert not clock.state(end + 5.0).receiving
    feed_clock(clock, 90.0, beats=2, start_s=end + 5.0)  # the long gap is not one slow tick
    assert params.bpm == pytest.approx(90.0, abs=0.01)


def test_transport_messages_and_beat_count(sink, actions):
    clock = ClockFollower(ClockConfig(follow_transport=True), sink)
    clock.transport("start")
    feed_clock(clock, 120.0, beats=3)
    assert clock.state(0.0).beats == pytest.approx(3.0) and clock.state(0.0).playing
    clock.transport("stop")
    assert not clock.state(0.0).playing
    clock.transport("songpos", 8)  # 8 sixteenths = 2 beats
    assert clock.state(0.0).beats == pytest.approx(2.0)
    clock.transport("continue")
    assert dict(actions.poll().actions) == {"play": 2, "stop": 1}
    quiet = ClockFollower(ClockConfig(follow_transport=False), sink)
    quiet.transport("start")
    assert actions.poll().empty


def test_clock_following_can_be_switched_off_and_on(loopback, make_service, params):
    import mido

    box = loopback.plug("Clock box")
    service = make_service()
    service.open_input("Clock box")
    service.set_follow_clock(False)
    for _ in range(48):
        box.send(mido.Message("clock"))
    assert params.bpm is None and not service.clock_state().receiving
    service.set_follow_clock(True)
    t = 0.0
    for _ in range(48):
        service.clock.tick(t)
        t += 60.0 / (100.0 * 24)
    assert params.bpm == pytest.approx(100.0, abs=0.01)


def test_lost_ticks_bend_neither_tempo_nor_beat_count(sink, params):
    clock = ClockFollower(ClockConfig(), sink)
    clock.transport("start")
    dt = 60.0 / (120.0 * TICKS_PER_BEAT)
    rng = random.Random(3)
    t = 50.0
    for k in range(16 * TICKS_PER_BEAT):
        lost = k > TICKS_PER_BEAT * 2 and rng.random() < 0.05  # 5 % of ticks dropped (xruns)
        if not lost:
            clock.tick(t + rng.uniform(0.0, 0.003))
        t += dt
    assert abs(params.bpm - 120.0) <= 0.5 and abs(clock.estimate_bpm - 120.0) < 0.1
    assert clock.state(t).beats == pytest.approx(16.0, abs=1.0 / TICKS_PER_BEAT)


def test_late_ticks_bunched_with_the_next_are_not_counted_as_lost(sink, params):
    """A stalled sender (or JACK cycle) delivers a late tick together with the next ones: those ticks
    were late, none was lost, and the tempo must not bend (it went 2 BPM off for a whole window)."""
    clock = ClockFollower(ClockConfig(), sink)
    clock.transport("start")
    dt = 60.0 / (120.0 * TICKS_PER_BEAT)
    t0 = 50.0
    arrivals = [t0 + k * dt for k in range(12 * TICKS_PER_BEAT)]
    for start, late in ((100, 3), (200, 1), (230, 2)):  # runs of late ticks, all delivered at once
        for k in range(start, start + late):
            arrivals[k] = arrivals[start + late]
    # as measured through JACK under load: gaps of 3.7, 0.47, 0, 0 tick periods
    arrivals[250] = arrivals[253] - 0.47 * dt
    arrivals[251] = arrivals[252] = arrivals[253]
    for t in arrivals:
        clock.tick(t)
        if clock.estimate_bpm is not None and t > t0 + 2.0:
            assert abs(clock.estimate_bpm - 120.0) < 0.1, (t - t0, clock.estimate_bpm)
    assert clock.state(arrivals[-1]).beats == pytest.approx(12.0)  # no tick lost, none counted twice
