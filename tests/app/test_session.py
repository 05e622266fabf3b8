"""The Session without Qt: the fake generator, the Null audio backend, a temporary home."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmd_studio.app.bootstrap import build_studio
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.settings.paths import StudioPaths


@pytest.fixture
def session(tmp_path: Path):
    s = build_studio(StudioPaths.under(tmp_path), model="fake", audio="null", midi=False, retro_s=30.0)
    s.start()
    yield s
    s.shutdown()


def run_for(s, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        s.tick()
        time.sleep(0.02)


def wait_for(s, predicate, timeout_s: float = 5.0) -> None:
    end = time.perf_counter() + timeout_s
    while time.perf_counter() < end:
        s.tick()
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def test_prompt_weight_reaches_the_engines_snapshot(session) -> None:
    session.prompts.set_morph_s(0.0)
    session.prompts.set_text(1, "bowed metal")
    session.prompts.set_weight(1, 0.25)
    session.tick()
    runtime = session.engine.runtime
    wait_for(session, lambda: runtime.controls_in_use.prompt_mix != ())
    wait_for(session, lambda: dict(runtime.controls_in_use.prompt_mix).get("bowed metal") == pytest.approx(0.2))


def test_recording_survives_an_audio_engine_rebuild(session, tmp_path: Path) -> None:
    session.transport.set_volume_db(0.0)
    session.transport.play()
    wait_for(session, lambda: session.tick().primed)
    path = session.recording.start_take()
    run_for(session, 1.0)
    new = dataclasses.replace(session.settings, audio=dataclasses.replace(session.settings.audio, buffer_frames=512))
    session.apply_settings(new)  # rebuilds the engine and its backend
    assert session.transport.playing and session.tick().buffer_frames == 512
    run_for(session, 1.0)
    job = session.recording.stop_take()
    job.wait(10)
    result = job.result
    assert result.ok and result.path == path
    frames = sf.info(str(path)).frames
    assert 1.6 < frames / 48000 < 3.0  # about the 2 s played (in real time, on a shared machine)
    # one take across both engines: its stream positions run on (gaps filled, no restart at zero)
    side = json.loads(result.sidecar_path.read_text())
    assert side["end_position_frames"] - side["start_position_frames"] == side["frames_written"] == frames


def test_a_saved_selection_is_the_audio_that_played_there(session) -> None:
    session.transport.set_volume_db(0.0)  # unity gain: the capture equals the generated audio the timeline shows
    session.performance.set_value("density", 1.0)
    session.transport.play()
    run_for(session, 4.0)
    frame = session.timeline.frame(16.0, 100_000)
    start_s, end_s = frame.play_s - 3.0, frame.play_s - 1.0
    job = session.timeline.save_selection(start_s, end_s)
    job.wait(10)
    r = job.result
    assert r.ok and abs(r.duration_s - 2.0) < 0.01
    audio, rate = sf.read(str(r.path), dtype="float32")
    w = frame.wave
    x = (w.start_position + np.arange(len(w.maxs)) * w.frames_per_column) / rate
    segment = 0.1
    timeline_env = [w.maxs[(x >= start_s + i * segment) & (x < start_s + (i + 1) * segment)].max()
                    for i in range(20)]
    # Envelope maxima per 100 ms flip between neighbouring segments when an onset sits on a segment edge, so
    # a few ms of offset (the limiter's 2-ms look-ahead sits between what the timeline shows and what is
    # captured) made this flaky under load: take the best of small lags, still far below the 3-s misplacement
    # this test exists to catch.
    def file_env(lag_s: float) -> list[float]:
        lo = int(lag_s * rate)
        return [np.abs(audio[max(0, lo + int(i * segment * rate)):max(0, lo + int((i + 1) * segment * rate))]).max()
                for i in range(19)]
    corr = max(np.corrcoef(timeline_env[:19], file_env(lag))[0, 1] for lag in (0.0, 0.002, 0.004, -0.002, -0.004))
    assert corr > 0.9, (timeline_env, file_env(0.0))


def test_capture_last_and_nothing_to_capture(tmp_path: Path) -> None:
    s = build_studio(StudioPaths.under(tmp_path), model="fake", audio="null", midi=False, retro_s=30.0)
    s.start()
    try:
        assert s.recording.capture_last(30.0) is None
        assert "Nothing to capture" in s.take_notices()[-1].text
        s.transport.play()
        run_for(s, 1.5)
        path = s.recording.capture_last(60.0)
        wait_for(s, lambda: s.recording.last_saved is not None)
        saved = s.recording.last_saved
        assert saved.path == path and 1.0 < saved.duration_s < 2.5
        assert "last-1min" in path.name
    finally:
        s.shutdown()


def test_panic_then_the_volume_comes_back(session) -> None:
    transport, mailbox = session.transport, session.engine.mailbox
    transport.set_volume_db(-3.0)
    transport.play()
    wait_for(session, lambda: session.tick().primed)
    transport.panic()
    assert mailbox.get("master_gain_db") == -60.0 and transport.volume_db == -3.0
    wait_for(session, lambda: not transport.playing and mailbox.get("master_gain_db") == -3.0)


def test_actions_from_midi_buttons(session) -> None:
    actions, transport = session.actions, session.transport
    assert actions.run("play_toggle", 1) and transport.playing
    actions.run("play_toggle", 2)  # pressed twice between polls: no change
    assert transport.playing
    actions.run("stop")
    wait_for(session, lambda: not transport.playing)
    assert not actions.run("make_coffee")


def test_tap_tempo_action_sets_the_tempo_from_the_session_clock(tmp_path: Path) -> None:
    now_s = [100.0]
    s = build_studio(StudioPaths.under(tmp_path), model="fake", audio="null", midi=False, retro_s=30.0,
                     clock=lambda: now_s[0])
    s.start()
    try:
        assert s.engine.mailbox.bpm != 240.0
        for interval_s in (0.0, 0.25, 0.25):
            now_s[0] += interval_s
            assert s.actions.run("tap_tempo")
        assert s.engine.mailbox.bpm == 240.0
    finally:
        s.shutdown()


def test_scenes_persist_and_recall_morphs(session, tmp_path: Path) -> None:
    knobs, scenes = session.performance, session.scenes
    knobs.set_value("guidance", 1.0)
    session.prompts.set_text(0, "cathedral organ")
    scenes.save(2, "church")
    knobs.set_value("guidance", 5.0)
    session.prompts.set_text(0, "acid bass")
    assert scenes.recall(2, morph_s=0.6)
    mid = []
    wait_for(session, lambda: mid.append(knobs.value("guidance")) or knobs.value("guidance") == 1.0)
    assert any(1.0 < g < 5.0 for g in mid)  # glided, did not jump
    assert session.prompts.entries()[0].text == "cathedral organ"
    again = build_studio(StudioPaths.under(tmp_path), model="fake", audio="null", midi=False, retro_s=30.0)
    try:
        saved = again.scenes.slots()[2]
        assert saved.name == "church" and saved.param_values["guidance"] == 1.0
    finally:
        again.engine.runtime.shutdown()
    assert not scenes.recall(5)  # empty slot: a message, nothing changes


def test_adapters_only_where_the_model_supports_them(session) -> None:
    model = session.model
    assert not model.adapter_supported and model.set_adapter("x.safetensors", 0.5) is None

    class WithAdapter(FakeBlockGenerator):
        def __init__(self) -> None:
            super().__init__()
            self.calls = []

        def set_adapter(self, path, strength) -> None:
            if path is not None and path.name == "broken.safetensors":
                raise ValueError(f"{path}: not an LMD adapter")
            self.calls.append((path, strength))

    gen = WithAdapter()
    model.install(gen)
    assert model.adapter_supported
    model.set_adapter("/a/b/mine.safetensors", 0.7).wait(5)
    session.tick()
    assert gen.calls == [(Path("/a/b/mine.safetensors"), 0.7)] and session.settings.adapter_strength == 0.7
    model.set_adapter("", 1.0).wait(5)
    session.tick()
    assert gen.calls[-1] == (None, 1.0) and session.settings.adapter == ""
    session.take_notices()
    model.set_adapter("/x/broken.safetensors", 1.0).wait(5)
    session.tick()
    assert any("Adapter not loaded" in n.text for n in session.take_notices())
    assert session.settings.adapter == ""  # unchanged


def test_render_offline_in_the_background(session, tmp_path: Path) -> None:
    job = session.model.render_offline(2.0, tmp_path / "render.wav")
    assert job.wait(30) and job.error is None
    assert sf.info(str(tmp_path / "render.wav")).frames == 2 * 44100
    session.tick()
    assert any("Rendered render.wav" in n.text for n in session.take_notices())
