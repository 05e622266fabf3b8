"""The musical clock through the Session (fake generator, Null audio): the Tempo control, bar:beat in the
status, the timeline's grid, quantised changes with their countdown in beats, "now", and what is
remembered."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from lmd_studio.app.bootstrap import build_studio
from lmd_studio.core.params import METER, TEMPO
from lmd_studio.settings.paths import StudioPaths


@pytest.fixture
def session(tmp_path: Path):
    s = build_studio(StudioPaths.under(tmp_path), model="fake", audio="null", midi=False, retro_s=5.0)
    s.start()
    yield s
    s.shutdown()


def wait_for(s, predicate, timeout_s: float = 8.0) -> None:
    end = time.perf_counter() + timeout_s
    while time.perf_counter() < end:
        s.tick()
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def set_tempo(s, bpm: float) -> None:
    s.performance.set_auto(TEMPO.name, False)
    s.performance.set_value(TEMPO.name, bpm)


def test_no_tempo_until_one_is_chosen(session) -> None:
    assert session.performance.is_auto(TEMPO.name) and session.engine.mailbox.bpm is None
    assert any(c.spec.name == TEMPO.name and c.supported for c in session.performance.controls())
    session.transport.play()
    wait_for(session, lambda: session.tick().primed)
    status = session.tick()
    assert status.bar == 0 and status.bpm is None
    assert session.timeline.frame(16.0, 400).bar_lines_s == ()


def test_a_tempo_gives_bar_beat_and_the_timeline_grid(session) -> None:
    set_tempo(session, 120.0)  # stopped: the tempo starts with the first block made with it
    session.transport.play()
    wait_for(session, lambda: session.tick().bar >= 2)
    status = session.tick()
    assert status.bpm == 120.0 and 1 <= status.beat <= 4
    frame = session.timeline.frame(16.0, 400)
    bars = np.array(frame.bar_lines_s)
    assert len(bars) >= 3
    np.testing.assert_allclose(np.diff(bars), 2.0, atol=1.5 / frame.sample_rate_hz)  # 4/4 at 120: 2 s a bar
    beats = np.array(sorted(frame.beat_lines_s + frame.bar_lines_s))
    np.testing.assert_allclose(np.diff(beats), 0.5, atol=1.5 / frame.sample_rate_hz)
    assert beats[-1] > frame.play_s + 1.0  # ahead of the playhead too
    session.performance.set_value(METER.name, 3)
    wait_for(session, lambda: session.tick().beats_per_bar == 3)


def test_a_quantised_change_counts_down_in_beats_and_lands_on_a_bar_line(session) -> None:
    session.transport.set_quantise("bar")
    set_tempo(session, 120.0)
    session.transport.play()
    wait_for(session, lambda: session.tick().played_s > 1.0)
    runtime = session.engine.runtime
    engine = runtime.parts.engine
    landings = engine.metrics.landings
    session.performance.set_value("loudness", 0.95)
    countdown = session.tick().countdowns["loudness"]
    assert countdown.remaining_beats is not None and 0 < countdown.remaining_beats <= 8
    assert countdown.per_bar or countdown.remaining_beats == pytest.approx(countdown.remaining_s * 2, abs=0.2)
    wait_for(session, lambda: engine.metrics.landings > landings)
    centre = engine.stats.last_splice_position + engine.crossfade_frames // 2
    assert runtime.clock_map.next_line(centre, per_bar=True) == centre  # on a bar line, to the sample
    wait_for(session, lambda: session.tick().countdowns.get("loudness") is not None
             and session.tick().countdowns["loudness"].heard)


def test_now_lands_at_once(session) -> None:
    session.transport.set_quantise("bar")
    set_tempo(session, 60.0)  # a bar is 4 s: "now" is far sooner
    session.transport.play()
    wait_for(session, lambda: session.tick().played_s > 0.5)
    session.performance.set_value("brightness", 0.9)
    session.transport.land_now()
    countdown = session.tick().countdowns["brightness"]
    assert countdown.heard or countdown.remaining_s < 0.5
    wait_for(session, lambda: session.engine.runtime.controls_in_use.values["brightness"] == 0.9, 2.0)


def test_quantise_setting_reaches_the_engine_and_is_remembered(session) -> None:
    session.transport.set_quantise("beat")
    wait_for(session, lambda: session.engine.runtime.metrics.quantise == "beat")
    assert session.settings.quantise == "beat"
    with pytest.raises(ValueError, match="quantise"):
        session.transport.set_quantise("sixteenth")


def test_the_tempo_is_remembered_but_not_in_scenes(tmp_path: Path) -> None:
    paths = StudioPaths.under(tmp_path)
    s = build_studio(paths, model="fake", audio="null", midi=False, retro_s=5.0)
    s.start()
    set_tempo(s, 96.0)
    scene = s.scenes.save(0)
    assert TEMPO.name not in dict(scene.params) and METER.name not in dict(scene.params)
    set_tempo(s, 140.0)
    s.scenes.recall(0, morph_s=0.0)
    s.tick()
    assert s.engine.mailbox.bpm == 140.0  # a scene recall leaves the song's tempo alone
    s.shutdown()
    again = build_studio(paths, model="fake", audio="null", midi=False, retro_s=5.0)
    try:
        assert again.engine.mailbox.bpm == 140.0 and not again.performance.is_auto(TEMPO.name)
    finally:
        again.engine.runtime.shutdown()


def test_the_bar_count_runs_on_across_an_engine_rebuild(session) -> None:
    import dataclasses

    set_tempo(session, 120.0)
    session.transport.play()
    wait_for(session, lambda: session.tick().bar >= 2)
    before = session.tick().bar
    audio = dataclasses.replace(session.settings.audio, buffer_frames=512)
    session.apply_settings(dataclasses.replace(session.settings, audio=audio))  # a new engine
    wait_for(session, lambda: session.tick().playing and session.tick().bar > 0)
    assert session.tick().bar >= before  # not back to bar 1
