"""Recording that keeps its promises, through the Session (fake generator, Null audio, a temporary home):
a take that cannot start says why at once; a full disk stops the take at once and keeps what was written;
takes a killed process left behind are repaired at the next start; the sidecar says what really happened."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmd_studio.app import bootstrap
from lmd_studio.app.bootstrap import build_studio
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.params import STEPS, ParamSpec
from lmd_studio.engine.take_files import read_sidecar, sidecar_path_for
from lmd_studio.settings.paths import StudioPaths
from tests.support.killed_take import record_then_kill
from tests.support.mounts import read_only_folder, tiny_filesystem
from tests.support.record_child import SAMPLE_RATE_HZ, signal_at

LSB_24 = 2.0 ** -23


@pytest.fixture
def session(tmp_path: Path):
    s = build_studio(StudioPaths.under(tmp_path), model="fake", audio="null", midi=False, retro_s=30.0)
    s.start()
    yield s
    s.shutdown()


def ticks_until(s, predicate, timeout_s: float = 10.0) -> list:
    """Tick like the GUI timer (every 20 ms) until `predicate()`; returns the notices seen meanwhile."""
    seen = []
    end = time.perf_counter() + timeout_s
    while time.perf_counter() < end:
        s.tick()
        seen += s.take_notices()
        if predicate():
            return seen
        time.sleep(0.02)
    raise AssertionError(f"condition not reached; notices: {[n.text for n in seen]}")


def run_for(s, seconds: float) -> list:
    seen = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        s.tick()
        seen += s.take_notices()
        time.sleep(0.02)
    return seen


def use_folder(s, folder: Path) -> None:
    s.apply_settings(dataclasses.replace(s.settings, recordings_dir=str(folder)))
    s.take_notices()


def play_primed(s) -> None:
    s.transport.play()
    ticks_until(s, lambda: s.tick().primed)


# --- a take that cannot start ---------------------------------------------------------------------------
def test_a_take_that_cannot_start_says_where_why_and_what_to_do(session, tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file where the recordings folder should be")
    use_folder(session, blocker / "takes")
    play_primed(session)
    session.recording.toggle_take()  # the R key / the Rec button: must not raise into the GUI
    notices = session.take_notices()
    assert len(notices) == 1 and notices[0].level == "error", notices
    text = notices[0].text
    assert str(blocker / "takes") in text and "not a folder" in text and "Settings" in text
    status = session.tick()
    assert not status.recording and not session.recording.recording and status.record_path == ""
    use_folder(session, tmp_path / "fine")  # choosing another folder is all it takes
    assert session.recording.start_take() is not None and session.tick().recording


def test_a_read_only_recordings_folder_is_named_at_once(session, tmp_path: Path) -> None:
    with read_only_folder(tmp_path) as ro:
        use_folder(session, ro)
        play_primed(session)
        session.recording.toggle_take()
        (notice,) = session.take_notices()
        assert notice.level == "error" and str(ro) in notice.text and "read-only" in notice.text
        assert "Choose another recordings folder in Settings" in notice.text
        assert not session.tick().recording and not list(ro.iterdir())


# --- the disk fills up during a take ------------------------------------------------------------------------
def test_disk_full_during_a_take_is_shown_at_once_and_the_audio_so_far_is_kept(session, tmp_path: Path) -> None:
    with tiny_filesystem(tmp_path, size_kib=256) as disk:  # ~0.9 s of 48 kHz stereo 24-bit
        use_folder(session, disk)
        session.transport.set_volume_db(0.0)
        play_primed(session)
        path = session.recording.start_take()
        recorder = session.recording.recorder
        seen: list = []
        end = time.perf_counter() + 10
        while time.perf_counter() < end:  # the GUI timer
            failed_before_tick = recorder.error is not None
            status = session.tick()
            notices = session.take_notices()
            seen += notices
            if any(n.level == "error" for n in notices):
                assert failed_before_tick or recorder.error is not None
                assert not status.recording  # the transport stops showing a take in the same tick
                break
            assert not failed_before_tick, "the recorder had failed a whole tick ago and nothing was shown"
            time.sleep(0.02)
        assert session.transport.playing  # the music goes on; only the take stopped
        seen += ticks_until(session, lambda: not recorder.is_recording and not session.recording.jobs())
        errors = [n for n in seen if n.level == "error"]
        first, final = errors[0], errors[-1]
        assert "disk full" in first.text and str(path) in first.text
        assert len(errors) == 2 and "kept in" in final.text
        audio, rate = sf.read(str(path), dtype="float32")  # a valid, readable file with what reached the disk
        seconds = len(audio) / rate
        assert 0.3 < seconds < 1.5 and f"{seconds:.1f} s" in final.text and str(path) in final.text
        assert final.path == path and not session.tick().recording
        side = read_sidecar(sidecar_path_for(path))
        assert side["status"] == "failed" and side["frames_written"] == len(audio)
        assert "disk full" in side["error"] and side["dropouts"]["underrun_frames"] is not None


# --- takes a killed process left behind --------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_start_up_repairs_takes_a_killed_process_left(tmp_path: Path, fmt: str) -> None:
    paths = StudioPaths.under(tmp_path)
    take = paths.recordings_dir / f"lmd-killed.{fmt}"
    fed = record_then_kill(take, fmt)
    assert read_sidecar(sidecar_path_for(take))["status"] == "recording"
    if fmt == "flac":
        with pytest.raises((RuntimeError, ValueError)):
            sf.read(str(take))  # unreadable until repaired

    s = build_studio(paths, model="fake", audio="null", midi=False, retro_s=30.0)
    try:
        s.start()
        assert [j.name for j in s.recording.jobs()] == ["recover takes"]  # in the background, not in start()
        notices = ticks_until(s, lambda: not s.recording.jobs())
        (told,) = [n for n in notices if "Recovered" in n.text]
        audio, rate = sf.read(str(take), dtype="float32")
        frames = len(audio)
        assert rate == SAMPLE_RATE_HZ and SAMPLE_RATE_HZ <= frames <= fed  # at most 1 s lost, as promised
        np.testing.assert_allclose(audio, signal_at(0, frames), rtol=0, atol=LSB_24)
        side = read_sidecar(sidecar_path_for(take))
        assert side["status"] == "recovered" and side["interrupted"] and side["frames_written"] == frames
        assert side["duration_s"] == pytest.approx(frames / SAMPLE_RATE_HZ)
        assert told.level == "warning" and take.name in told.text and str(paths.recordings_dir) in told.text
        assert f"({frames / SAMPLE_RATE_HZ:.1f} s)" in told.text and told.path == take
    finally:
        s.shutdown()
    s2 = build_studio(paths, model="fake", audio="null", midi=False, retro_s=30.0)  # nothing left to do
    try:
        s2.start()
        notices = ticks_until(s2, lambda: not s2.recording.jobs())
        assert not [n for n in notices if "ecover" in n.text]
    finally:
        s2.shutdown()


def test_recovery_passes_over_a_take_this_session_is_recording(session) -> None:
    play_primed(session)
    path = session.recording.start_take()
    run_for(session, 0.3)
    job = session.recording.recover_unfinished()  # as at start-up, had the player pressed Rec at once
    job.wait(10)
    assert job.result.recovered == () and job.result.failed == ()
    assert session.tick().recording and read_sidecar(sidecar_path_for(path))["status"] == "recording"
    stop = session.recording.stop_take()
    stop.wait(10)
    assert stop.result.ok and read_sidecar(sidecar_path_for(path))["status"] == "complete"


# --- what the sidecar says ---------------------------------------------------------------------------------
def record(s, seconds: float) -> dict:
    path = s.recording.start_take()
    assert path is not None
    run_for(s, seconds)
    job = s.recording.stop_take()
    assert job.wait(20) and job.result.ok, job.error or job.result.error
    side = json.loads(job.result.sidecar_path.read_text())
    side["_audio"] = sf.read(str(path), dtype="float32")[0]
    return side


def silent_frames(audio: np.ndarray, min_run: int = 32) -> int:
    """Frames in runs of >= `min_run` exact zeros on every channel (tones never stay at 0 that long)."""
    zero = np.all(audio == 0.0, axis=1).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], zero, [0]))))
    runs = edges[1::2] - edges[::2]
    return int(runs[runs >= min_run].sum())


def test_sidecar_counts_the_silence_underruns_put_in_the_take(session) -> None:
    session.transport.set_volume_db(0.0)
    play_primed(session)
    session.engine.runtime.generator.compute_s = 0.8  # 0.5 s blocks that take 0.8 s: the ring runs dry
    # ≈ 1.5 s is queued ahead; it drains at 1 − 0.5/0.8 = 0.375 s per second, so after 4.5 s the take is
    # sure to start on an empty ring (with 1 s it started on ≈ 1.1 s of audio and sometimes barely underran)
    run_for(session, 4.5)
    side = record(session, 3.0)
    drop = side["dropouts"]
    rate = side["sample_rate_hz"]
    silence = silent_frames(side["_audio"])
    print(f"\nunderruns: sidecar {drop['underrun_s']:.2f} s in {drop['underruns']} callbacks, "
          f"silence in the file {silence / rate:.2f} s of {len(side['_audio']) / rate:.2f} s")
    assert drop["underruns"] > 0 and drop["underrun_frames"] > 0.3 * rate
    assert drop["underrun_s"] == drop["underrun_frames"] / rate
    assert drop["total_frames"] == drop["underrun_frames"] + drop["silence_filled_frames"]
    assert abs(silence - drop["total_frames"]) < 0.15 * rate  # the take's silence, to a few buffers


class SteppedFake(FakeBlockGenerator):
    """The fake tones, declaring sampling steps like the real model (safe mode then acts on them)."""

    @property
    def param_specs(self) -> tuple[ParamSpec, ...]:
        return (*super().param_specs, STEPS)


def test_sidecar_says_which_steps_safe_mode_really_ran(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(bootstrap, "studio_generator", lambda model=None, threads=1: SteppedFake(compute_s=0.45))
    s = build_studio(StudioPaths.under(tmp_path), model="fake", audio="null", midi=False, retro_s=30.0)
    s.start()
    try:
        assert s.settings.safe_mode and s.performance.value("steps") == 4
        play_primed(s)
        ticks_until(s, lambda: s.tick().steps_override == 1)  # 0.45 s per 0.5 s block: safe mode steps down
        side = record(s, 1.5)
    finally:
        s.shutdown()
    assert side["parameters"]["steps"] == 4  # what the knob asked for ...
    steps = side["steps"]  # ... and what played
    assert steps["requested"] == 4 and steps["run_min"] == steps["run_max"] == 1 and steps["safe_mode"] is True
    assert steps["blocks_by_steps"] == {"1": pytest.approx(3, abs=2)}


def test_models_without_steps_do_not_claim_any(session) -> None:
    play_primed(session)
    assert record(session, 0.5)["steps"] is None  # the fake tones have no sampling steps


def test_sidecar_lists_only_the_prompt_slots_that_play(session) -> None:
    session.prompts.set_text(1, "bowed metal")
    session.prompts.set_weight(1, 0.4)
    play_primed(session)
    prompts = record(session, 0.5)["prompts"]
    assert session.prompts.slot_count > 2
    assert [(p["slot"], p["text"]) for p in prompts] == [(0, session.prompts.entries()[0].text), (1, "bowed metal")]
    assert prompts[1]["weight"] == 0.4 and all(p["text"].strip() for p in prompts)


def test_sidecar_counts_clipping_during_the_take(session) -> None:
    session.transport.set_volume_db(6.0)
    session.performance.set_value("loudness", 1.0)
    play_primed(session)
    run_for(session, 0.5)
    metrics = session.engine.runtime.metrics
    clipping = record(session, 1.5)["clipping"]
    engine_counters = [n for n in ("clipped_samples_pre_limiter", "over_full_scale_samples") if hasattr(metrics, n)]
    assert set(clipping) == {"clipped_samples_in_file", *engine_counters}
    if "clipped_samples_pre_limiter" in engine_counters:  # a limiter catches the peaks before the file
        assert clipping["clipped_samples_pre_limiter"] > 0
    else:  # no limiter: the file's samples were clipped when written
        assert clipping["clipped_samples_in_file"] > 0


def test_sidecar_stores_the_asked_tempo_meter_and_key(session) -> None:
    play_primed(session)
    session.engine.mailbox.set_bpm(97.0)
    session.engine.mailbox.set_beats_per_bar(3)
    session.engine.mailbox.set_held_notes(((57, 100), (60, 90), (64, 80)))
    side = record(session, 0.5)
    assert side["tempo"] == {"bpm": 97.0, "beats_per_bar": 3}
    assert side["key"] == {"held_notes": [57, 60, 64]}
    session.engine.mailbox.set_bpm(None)
    session.engine.mailbox.set_held_notes(())
    session.performance.set_auto("pitch", False)
    session.performance.set_value("pitch", 9.0)
    side = record(session, 0.5)
    assert side["tempo"] is None and side["key"] == {"pitch_class": 9, "name": "A major"}
    session.performance.set_value("pitch", 21.0)  # the knob's minor half: 12 + A
    side = record(session, 0.5)
    assert side["key"] == {"pitch_class": 9, "name": "A minor"}
    assert side["progression"] is None  # off by default
    session.performance.set_value("progression", 1.0)
    side = record(session, 0.5)
    assert side["progression"] is None  # no tempo: the progression is silent, and the sidecar says so
    session.engine.mailbox.set_bpm(100.0)
    side = record(session, 0.5)
    assert side["progression"] == {"name": "I–V–vi–IV", "numerals": "i–v–VI–iv", "chords": "Am Em F Dm"}
