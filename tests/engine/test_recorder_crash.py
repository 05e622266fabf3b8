"""SIGKILL a process in the middle of a take; what is on disk must be a valid file missing at most 1 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmd_studio.engine.audio_file import readable_frames
from lmd_studio.engine.flac_repair import repair_truncated_flac
from lmd_studio.engine.take_files import read_sidecar, sidecar_path_for
from tests.support.record_child import SAMPLE_RATE_HZ, signal_at

LSB_24 = 2.0 ** -23
REPO = Path(__file__).resolve().parents[2]
MAX_LOSS_FRAMES = SAMPLE_RATE_HZ  # the promise: at most 1 s lost


def record_then_kill(path: Path, fmt: str, kill_after_s: float = 2.0) -> int:
    """Run the recording child, SIGKILL it once it reports `kill_after_s` fed; return the last frames fed
    that it reported (every line it printed before dying counts, even those still in the pipe)."""
    child = subprocess.Popen([sys.executable, "-m", "tests.support.record_child", str(path), fmt, "60"],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last_fed = 0
    try:
        deadline = time.monotonic() + 60
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("fed "):
                last_fed = int(line.split()[1])
                if last_fed >= kill_after_s * SAMPLE_RATE_HZ:
                    os.kill(child.pid, signal.SIGKILL)
                    break
            assert time.monotonic() < deadline, "child did not reach the kill point in 60 s"
        rest, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL, f"child was not killed: rc={child.returncode} {err}"
    for line in rest.splitlines():
        if line.startswith("fed "):
            last_fed = int(line.split()[1])
    return last_fed


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


def test_sigkill_mid_take_flac_is_recoverable(tmp_path: Path) -> None:
    path = tmp_path / "take.flac"
    fed = record_then_kill(path, "flac")
    with pytest.raises((ValueError, RuntimeError)):  # soundfile cannot read a FLAC without its length
        sf.read(str(path))
    frames = repair_truncated_flac(path)
    lost = fed - frames
    print(f"\nSIGKILL flac: fed {fed} frames, repaired file holds {frames}, lost {lost / SAMPLE_RATE_HZ * 1e3:.0f} ms")
    assert frames >= SAMPLE_RATE_HZ and 0 <= lost <= MAX_LOSS_FRAMES
    got, _ = sf.read(str(path), dtype="float32")
    np.testing.assert_allclose(got, signal_at(0, frames), rtol=0, atol=LSB_24)
