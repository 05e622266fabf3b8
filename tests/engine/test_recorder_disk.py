"""Full disks and unwritable folders, provoked for real (root ignores permissions, so mounts do it)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmd_studio.engine.audio_file import AudioFileError
from lmd_studio.engine.recorder import Recorder
from lmd_studio.engine.take_files import read_sidecar, sidecar_path_for
from tests.support.mounts import read_only_folder, tiny_filesystem
from tests.support.record_child import CHANNELS, SAMPLE_RATE_HZ, signal_at

LSB_24 = 2.0 ** -23


def wait_for_error(rec: Recorder, timeout_s: float = 10.0) -> str | None:
    deadline = time.monotonic() + timeout_s
    while rec.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return rec.error


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_disk_full_mid_take_reports_and_keeps_a_valid_file(tmp_path: Path, fmt: str) -> None:
    with tiny_filesystem(tmp_path, size_kib=256) as disk:
        path = disk / "takes" / f"full.{fmt}"
        rec = Recorder()
        rec.start(path, SAMPLE_RATE_HZ, CHANNELS, fmt=fmt, metadata={"seed": 3})
        pos = 0
        for _ in range(200):  # 4 s of stereo 24-bit = 1.1 MB: far more than 256 KiB
            rec.consume(signal_at(pos, 960), pos)  # must not raise, whatever the disk does
            pos += 960
            time.sleep(0.001)
        error = wait_for_error(rec)
        rec.consume(signal_at(pos, 960), pos)  # after the failure: still no exception
        result = rec.stop()

        assert error is not None and "disk full" in error and str(path) in error
        assert result.error is not None and "disk full" in result.error
        assert rec.error == result.error and not rec.is_recording  # what the UI polls after stop
        # FLAC: libFLAC gives up without writing its length; the recorder seals the file in place
        assert 0 < result.frames_written < pos
        got, sr = sf.read(str(path), dtype="float32")
        assert sr == SAMPLE_RATE_HZ and len(got) == result.frames_written
        np.testing.assert_allclose(got, signal_at(0, len(got)), rtol=0, atol=LSB_24)
        side = read_sidecar(sidecar_path_for(path))
        assert side["status"] == "failed" and "disk full" in side["error"] and side["seed"] == 3


def test_folder_under_a_regular_file_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    rec = Recorder()
    for target in (blocker / "take.wav", blocker / "sub" / "take.wav"):
        with pytest.raises(AudioFileError, match="not a folder|where a folder should be") as info:
            rec.start(target, SAMPLE_RATE_HZ, CHANNELS)
        assert str(target) in str(info.value) and rec.error == str(info.value)
        assert not rec.is_recording
    rec.start(tmp_path / "fine.wav", SAMPLE_RATE_HZ, CHANNELS)  # the recorder is still usable
    assert rec.error is None and rec.stop().ok


def test_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    with read_only_folder(tmp_path) as ro:
        rec = Recorder()
        with pytest.raises(AudioFileError, match="read-only file system") as info:
            rec.start(ro / "new-folder" / "take.wav", SAMPLE_RATE_HZ, CHANNELS)
        assert "take.wav" in str(info.value)
        with pytest.raises(AudioFileError, match="read-only file system"):
            rec.start(ro / "take.wav", SAMPLE_RATE_HZ, CHANNELS)
        assert not list(ro.iterdir())
