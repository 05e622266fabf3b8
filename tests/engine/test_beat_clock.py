"""The engine's musical clock and the quantisation maths against positions worked out by hand.

At 1000 samples per second: 120 bpm is a beat every 500 samples (a 4/4 bar every 2000), 60 bpm a beat every
1000 samples.
"""

from __future__ import annotations

import numpy as np
import pytest

from lmd_studio.engine.beat_clock import ClockMap, EngineClock, line_sample
from lmd_studio.engine.quantise import LandingPlan, check_quantise, plan_landing, splice_start

RATE = 1000


def _song() -> EngineClock:
    """4/4 at 120 from 0; 60 bpm from bar 3 (4000); back to 120 halfway through beat 2 of bar 4 (9500);
    3/4 from bar 5's downbeat (10750); 4/4 again in the middle of bar 7's first beat (14000)."""
    c = EngineClock(RATE)
    c.set_tempo(0, 120.0, 4)
    c.set_tempo(4000, 60.0, 4)
    c.set_tempo(9500, 120.0, 4)
    c.set_tempo(10750, 120.0, 3)
    c.set_tempo(14000, 120.0, 4)
    return c


def _bar_beat(m: ClockMap, position: int) -> tuple[int, int]:
    r = m.reading(position)
    assert r is not None
    return r.bar, r.beat


def test_bar_and_beat_across_tempo_and_meter_changes() -> None:
    m = _song().map
    expected = {
        0: (1, 1), 499: (1, 1), 500: (1, 2), 1999: (1, 4), 2000: (2, 1),  # 120 bpm, 4/4
        4000: (3, 1), 4999: (3, 1), 5000: (3, 2), 7999: (3, 4), 8000: (4, 1),  # 60 bpm from bar 3
        9000: (4, 2), 9500: (4, 2),  # 120 again at beat 2½: the count runs on (½ beat = 250 samples)
        9750: (4, 3), 10250: (4, 4), 10749: (4, 4),
        10750: (5, 1), 11750: (5, 3), 12250: (6, 1), 13750: (7, 1),  # 3/4: bars of 1500
        13999: (7, 1), 14000: (8, 1), 15500: (8, 4), 16000: (9, 1),  # 4/4 cuts bar 7 short: a new bar
    }
    assert {p: _bar_beat(m, p) for p in expected} == expected
    r = m.reading(9500)
    assert r is not None and r.bpm == 120.0 and r.beat_in_bar == pytest.approx(1.5)
    assert m.reading(11000) is not None and m.reading(11000).beats_per_bar == 3  # type: ignore[union-attr]


def test_grid_lines_are_sample_exact() -> None:
    m = _song().map
    bars = m.lines(0, 16001, per_bar=True)
    np.testing.assert_array_equal(bars, [0, 2000, 4000, 8000, 10750, 12250, 13750, 14000, 16000])
    beats = m.lines(7000, 11000)
    np.testing.assert_array_equal(beats, [7000, 8000, 9000, 9750, 10250, 10750])
    assert m.lines(2000, 2000).size == 0 and m.lines(1999, 2001, True).tolist() == [2000]  # [start, end)
    assert m.beats_between(8000, 10750) == pytest.approx(4.0)  # 1½ at 60 bpm, 2½ at 120: continuous


def test_a_line_between_samples_falls_on_the_next_one() -> None:
    c = EngineClock(48000)
    c.set_tempo(0, 130.0, 4)  # a bar is 4 × 60/130 s = 88615.38… samples
    assert line_sample(4 * 60 / 130, 48000) == 88616
    assert c.map.next_line(1, per_bar=True) == 88616 and c.map.next_line(88616, True) == 88616
    assert c.map.next_line(88617, True) == 177231  # 177230.77…
    assert c.map.next_line(0, True) == 0


def test_splice_and_seek_forget_the_tempo_changes_they_replace() -> None:
    c = _song()
    c.truncate(10000)  # the 3/4 and the second 4/4 came with audio now replaced
    m = c.map
    np.testing.assert_array_equal(m.lines(8000, 14500, per_bar=True), [8000, 10750, 12750])
    c.set_tempo(12750, 90.0, 4)  # the new audio's tempo, from its first sample
    assert _bar_beat(c.map, 12750) == (6, 1)
    r = c.map.reading(12750 + 666)
    assert r is not None and r.beat == 1 and r.bpm == 90.0  # 90 bpm: a beat every 666.7 samples
    assert _bar_beat(c.map, 12750 + 667) == (6, 2)


def test_no_tempo_then_a_tempo_starts_bar_one_there() -> None:
    c = EngineClock(RATE)
    c.set_tempo(0, None, 4)
    assert c.map.reading(100) is None and c.map.next_line(100, True) is None
    c.set_tempo(0, 120.0, 4)
    c.set_tempo(3000, None, 4)  # auto again: no grid from there
    assert c.map.reading(2999) is not None and c.map.reading(3000) is None
    assert c.map.lines(0, 6000, True).tolist() == [0, 2000]
    c.set_tempo(5100, 60.0, 3)
    assert _bar_beat(c.map, 5100) == (1, 1) and _bar_beat(c.map, 8100) == (2, 1)


def test_a_replaced_engine_carries_the_bar_count_on() -> None:
    c = EngineClock(RATE)
    c.carry_on(bar=17, beat_in_bar=2.5)
    c.set_tempo(0, 120.0, 4)
    assert _bar_beat(c.map, 0) == (17, 3) and _bar_beat(c.map, 750) == (18, 1)
    with pytest.raises(RuntimeError):
        c.carry_on(1, 0.0)


def test_many_tempo_changes_stay_bounded_and_continuous() -> None:
    """A BPM knob swept through hundreds of values: the pieces carry bar and beat on, and trimming keeps
    only what the timeline can show."""
    c = EngineClock(RATE)
    c.set_tempo(0, 120.0, 4)
    position, beats = 0, 0.0
    for k in range(300):
        bpm = 100.0 + (k % 40)
        nxt = position + 250
        c.set_tempo(position, bpm, 4)
        beats += bpm / 60.0 * 0.25
        position = nxt
    assert all(p.tempo is None or len(p.tempo.segments) <= 64 for p in c.map.pieces)
    r = c.map.reading(position)
    assert r is not None
    assert (r.bar - 1) * 4 + r.beat_in_bar == pytest.approx(beats, abs=1e-6)
    c.trim(position - 1000)
    assert c.map.pieces[0].start <= position - 1000 and len(c.map.pieces) <= 2
    assert c.map.reading(position) == r


def test_quantisation_at_bar_edges() -> None:
    c = EngineClock(RATE)
    c.set_tempo(0, 120.0, 4)
    m = c.map
    margin = 300
    # exactly on a bar line: that line is now, too close; the next one
    assert plan_landing(m, 4000, 4000 + margin, "bar") == LandingPlan(6000, True, skipped=1)
    # one sample before a bar line: too close as well
    assert plan_landing(m, 3999, 3999 + margin, "bar") == LandingPlan(6000, True, skipped=1)
    # one sample after: the next bar line, nothing passed over
    assert plan_landing(m, 4001, 4001 + margin, "bar") == LandingPlan(6000, True, skipped=0)
    # the earliest splice centre exactly on a line meets it; one sample later does not
    assert plan_landing(m, 3000, 4000, "bar") == LandingPlan(4000, True)
    assert plan_landing(m, 3000, 4001, "bar") == LandingPlan(6000, True, skipped=1)
    # beats: every 500
    assert plan_landing(m, 3100, 3100 + margin, "beat") == LandingPlan(3500, False)
    assert plan_landing(m, 3300, 3300 + margin, "beat") == LandingPlan(4000, False, skipped=1)
    # off, or no tempo: now
    assert plan_landing(m, 3000, 3300, "off") is None
    assert plan_landing(EngineClock(RATE).map, 3000, 3300, "bar") is None
    assert splice_start(4000, 12) == 3994  # the crossfade's centre on the line
    with pytest.raises(ValueError, match="quantise"):
        check_quantise("half-bar")


def test_a_shift_moves_the_count_from_its_position_on() -> None:
    """Lining the bars up with Link: from the shift on the count runs further (or back), at the same tempo;
    before it nothing changes; a shift across a bar line moves into the next bar."""
    c = EngineClock(RATE)
    c.set_tempo(0, 120.0, 4)
    c.shift(3000, 0.5)  # bar 2, beat 3 (in_bar 2.0) → in_bar 2.5
    m = c.map
    assert _bar_beat(m, 2999) == (2, 2)
    r = m.reading(3000)
    assert r is not None and (r.bar, r.beat_in_bar) == (2, pytest.approx(2.5)) and r.bpm == 120.0
    assert m.reading(3250).beat_in_bar == pytest.approx(3.0)  # the tempo runs on: half a beat in 250 samples
    assert _bar_beat(m, 3750) == (3, 1)  # the next bar comes 250 samples early
    c.shift(3750, 3.8)  # in_bar 0 + 3.8 → beat 4 of bar 3 …
    assert _bar_beat(c.map, 3750) == (3, 4)
    c.shift(3750, 0.5)  # … and again at the same position: they add up (3.8 + 0.5 → bar 4, 0.3 in), one piece
    r = c.map.reading(3750)
    assert m is not c.map and r is not None and (r.bar, r.beat_in_bar) == (4, pytest.approx(0.3))
    assert len(c.map.pieces) == 3
    c.shift(5000, -1.0)  # back across the bar line
    r = c.map.reading(5000)
    before = c.map.reading(4999)
    assert r is not None and before is not None and r.beat_in_bar == pytest.approx(before.beat_in_bar - 1.0, abs=0.01)


def test_no_shift_without_a_tempo() -> None:
    c = EngineClock(RATE)
    c.shift(100, 0.5)
    assert c.map.reading(100) is None
