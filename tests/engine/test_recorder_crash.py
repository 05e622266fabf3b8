"""SIGKILL a process in the middle of a take; what is on disk must be a valid file missing at most 1 s."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmd_studio.engine.audio_file import readable_frames
from lmd_studio.engine.recovery import find_unfinished_takes, recover_take
from lmd_studio.engine.take_files import read_sidecar, sidecar_path_for, write_sidecar
from tests.support.killed_take import record_then_kill
from tests.support.record_child import SAMPLE_RATE_HZ, signal_at

LSB_24 = 2.0 ** -23
MAX_LOSS_FRAMES = SAMPLE_RATE_HZ  # the promise: at most 1 s lost


def test_sigkill_mid_take_leaves_a_valid_wav(tmp_path: Path) -> None:
    path = tmp_path / "take.wav"
    fed = record_then_kill(path, "wav")
    frames = readable_frames(path)
    with wave.open(str(path)) as w:  # the stdlib reader trusts the header's sizes: they must be current
        assert w.getnframes() == frames and w.getsampwidth() == 3
    lost = fed - frames
    print(f"\nSIGKILL wav: fed {fed} frames, file holds {frames}, lost {lost / SAMPLE_RATE_HZ * 1e3:.0f} ms")
    assert frames >= SAMPLE_RATE_HZ, "less than 1 s survived"
    assert 0 <= lost <= MAX_LOSS_FRAMES, f"lost {lost} frames (> 1 s)"
    got, _ = sf.read(str(path), dtype="float32")
    np.testing.assert_allclose(got, signal_at(0, frames), rtol=0, atol=LSB_24)
    side = read_sidecar(sidecar_path_for(path))  # the sidecar from the start of the take is there
    assert side["status"] == "recording" and side["seed"] == 7 and side["prompts"] == ["crash test"]
    assert [e["text"] for e in side["events"]] == ["half a second in"]  # rewritten during the take

    assert find_unfinished_takes(tmp_path) == [sidecar_path_for(path)]
    result = recover_take(sidecar_path_for(path))
    assert result.ok and result.frames_written == frames
    side = read_sidecar(sidecar_path_for(path))
    assert side["status"] == "recovered" and side["interrupted"] and side["frames_written"] == frames
    assert side["end_position_frames"] == frames and find_unfinished_takes(tmp_path) == []


def test_sigkill_mid_take_flac_is_recoverable(tmp_path: Path) -> None:
    path = tmp_path / "take.flac"
    fed = record_then_kill(path, "flac")
    with pytest.raises((ValueError, RuntimeError)):  # soundfile cannot read a FLAC without its length
        sf.read(str(path))
    result = recover_take(sidecar_path_for(path))  # what the app does at the next start
    frames = result.frames_written
    assert result.ok and read_sidecar(result.sidecar_path)["status"] == "recovered"
    lost = fed - frames
    print(f"\nSIGKILL flac: fed {fed} frames, repaired file holds {frames}, lost {lost / SAMPLE_RATE_HZ * 1e3:.0f} ms")
    assert frames >= SAMPLE_RATE_HZ and 0 <= lost <= MAX_LOSS_FRAMES
    got, _ = sf.read(str(path), dtype="float32")
    np.testing.assert_allclose(got, signal_at(0, frames), rtol=0, atol=LSB_24)


@pytest.mark.slow
def test_sigkill_at_many_points_never_loses_more_than_1_s(tmp_path: Path) -> None:
    """Kill points spread over the flush cycle (flush every 0.25 s); prints the worst loss seen."""
    losses_ms = []
    for i, kill_at_s in enumerate(np.linspace(1.2, 3.0, 12)):
        path = tmp_path / f"take{i}.wav"
        fed = record_then_kill(path, "wav", kill_after_s=float(kill_at_s))
        frames = readable_frames(path)
        losses_ms.append((fed - frames) / SAMPLE_RATE_HZ * 1e3)
        got, _ = sf.read(str(path), dtype="float32")
        np.testing.assert_allclose(got, signal_at(0, frames), rtol=0, atol=LSB_24)
    print(f"\nSIGKILL x{len(losses_ms)}: lost ms min {min(losses_ms):.0f} "
          f"median {np.median(losses_ms):.0f} max {max(losses_ms):.0f}")
    assert max(losses_ms) <= 1000 and min(losses_ms) >= 0


def test_recover_refuses_finished_takes_and_reports_missing_audio(tmp_path: Path) -> None:
    from lmd_studio.engine.recorder import Recorder

    rec = Recorder()
    rec.start(tmp_path / "done.wav", SAMPLE_RATE_HZ, 2)
    done = rec.stop()
    with pytest.raises(ValueError, match="status is 'complete'; nothing to recover"):
        recover_take(done.sidecar_path)
    rec.start(tmp_path / "lost.flac", SAMPLE_RATE_HZ, 2, fmt="flac")
    rec.stop()
    side = read_sidecar(sidecar_path_for(tmp_path / "lost.flac"))
    side["status"] = "recording"  # as if the process had died...
    write_sidecar(sidecar_path_for(tmp_path / "lost.flac"), side)
    (tmp_path / "lost.flac").unlink()  # ...and the audio file were gone
    result = recover_take(sidecar_path_for(tmp_path / "lost.flac"))
    assert result.error is not None and "lost.flac" in result.error and result.frames_written == 0
    assert read_sidecar(result.sidecar_path)["status"] == "failed"
