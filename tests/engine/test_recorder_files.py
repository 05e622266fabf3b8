"""What libsndfile does with unfinished files, checked on real files in child processes that never close
them (os._exit), so the writer's crash-safety rests on measured behaviour rather than on belief."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmd_studio.engine import audio_file
from lmd_studio.engine.audio_file import AudioFileError, AudioFileWriter, readable_frames
from lmd_studio.engine.flac_repair import repair_truncated_flac
from tests.support.record_child import CHANNELS, SAMPLE_RATE_HZ, signal_at

LSB_24 = 2.0 ** -23
REPO = Path(__file__).resolve().parents[2]


def write_and_die(path: Path, fmt: str, blocks: int, flush_after: int | None) -> None:
    """In a child: write `blocks` x 4800 frames, flush after block `flush_after`, exit without closing."""
    code = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from lmd_studio.engine.audio_file import AudioFileWriter
        from tests.support.record_child import signal_at
        w = AudioFileWriter(Path({str(path)!r}), {SAMPLE_RATE_HZ}, {CHANNELS}, {fmt!r})
        for b in range({blocks}):
            w.write(signal_at(b * 4800, 4800))
            if b == {flush_after!r}:
                w.flush()
        os._exit(0)
    """)
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def wav_header_sizes(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:4096]
    data_at = head.index(b"data")
    return struct.unpack("<I", head[4:8])[0], struct.unpack("<I", head[data_at + 4:data_at + 8])[0]


def test_soundfile_flush_alone_leaves_wav_sizes_zero(tmp_path: Path) -> None:
    """Why flush() updates the header itself: sf_write_sync only fsyncs; sizes stay 0 until close."""
    path = tmp_path / "raw.wav"
    code = (f"import os, soundfile as sf, numpy as np\n"
            f"f = sf.SoundFile({str(path)!r}, 'w', 48000, 2, subtype='PCM_24', format='WAV')\n"
            f"f.write(np.zeros((4800, 2), np.float32)); f.flush(); os._exit(0)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert wav_header_sizes(path) == (8, 0)  # RIFF size covers nothing, data size 0
    with pytest.raises(wave.Error, match="data chunk missing"):  # a strict reader rejects the file
        wave.open(str(path)).close()


def test_flushed_wav_survives_an_unclean_exit(tmp_path: Path) -> None:
    path = tmp_path / "killed.wav"
    write_and_die(path, "wav", blocks=6, flush_after=3)  # 4 blocks flushed, 2 more written after
    riff, data = wav_header_sizes(path)
    flushed = 4 * 4800
    assert data == flushed * CHANNELS * 3 and riff == path.stat().st_size - 8 - 2 * 4800 * CHANNELS * 3
    with wave.open(str(path)) as w:  # the stdlib reader trusts the header: it must be right
        assert (w.getnframes(), w.getsampwidth(), w.getframerate()) == (flushed, 3, SAMPLE_RATE_HZ)
    got, _ = sf.read(str(path), dtype="float32")
    assert got.shape == (flushed, CHANNELS)
    np.testing.assert_allclose(got, signal_at(0, flushed), atol=LSB_24)


def decodes_cleanly(path: Path) -> bool:
    """True if libsndfile decodes `path` to its end without an error (no broken frame left over)."""
    f = sf.SoundFile(str(path))
    buf = np.empty((4096, f.channels), np.float32)
    while sf._snd.sf_readf_float(f._file, sf._ffi.cast("float *", buf.ctypes.data), 4096) > 0:
        pass
    ok = sf._snd.sf_error(f._file) == 0
    f.close()
    return ok


def test_killed_flac_needs_repair_and_repair_keeps_exact_samples(tmp_path: Path) -> None:
    path = tmp_path / "killed.flac"
    write_and_die(path, "flac", blocks=20, flush_after=19)  # 96000 frames handed to the encoder
    assert sf.info(str(path)).frames == 2**63 - 1  # STREAMINFO never got its length
    with pytest.raises((ValueError, RuntimeError)):  # so soundfile cannot read it as it is
        sf.read(str(path))
    with pytest.raises(AudioFileError, match="unfinished FLAC stream"):
        readable_frames(path)
    kept = repair_truncated_flac(path)
    # libFLAC holds back the frame it is still filling (4096 frames at the default level)
    assert 96000 - 8192 <= kept <= 96000 and readable_frames(path) == kept
    got, sr = sf.read(str(path), dtype="float32")
    assert sr == SAMPLE_RATE_HZ and got.shape == (kept, CHANNELS)
    np.testing.assert_allclose(got, signal_at(0, kept), atol=LSB_24)
    assert repair_truncated_flac(path) == kept  # a sealed file is left alone


def test_flac_cut_mid_frame_is_sealed_in_place_at_the_last_whole_frame(tmp_path: Path) -> None:
    path = tmp_path / "cut.flac"
    write_and_die(path, "flac", blocks=20, flush_after=None)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2 + 7])  # a SIGKILL in the middle of a write(2)
    assert not decodes_cleanly(path)
    kept = repair_truncated_flac(path)
    assert 0 < kept < 96000 and kept % 4096 == 0
    assert path.stat().st_size < len(raw) // 2 + 7  # the broken partial frame was cut off
    assert path.read_bytes()[42:] == raw[42:path.stat().st_size]  # only STREAMINFO changed, in place
    assert decodes_cleanly(path)  # strict decoders see no trailing garbage
    got, _ = sf.read(str(path), dtype="float32")
    np.testing.assert_allclose(got, signal_at(0, kept), atol=LSB_24)


def test_finished_flac_is_untouched(tmp_path: Path) -> None:
    path = tmp_path / "done.flac"
    sf.write(str(path), signal_at(0, 5000), SAMPLE_RATE_HZ, subtype="PCM_24", format="FLAC")
    before = path.read_bytes()
    assert repair_truncated_flac(path) == 5000 and path.read_bytes() == before


def test_repair_rejects_what_it_cannot_fix(tmp_path: Path) -> None:
    junk = tmp_path / "junk.flac"
    junk.write_bytes(b"not audio at all" * 10)
    with pytest.raises(AudioFileError, match="junk.flac cannot be repaired: it does not start with a FLAC"):
        repair_truncated_flac(junk)
    wav = tmp_path / "ok.wav"
    sf.write(str(wav), np.zeros((10, 2), np.float32), SAMPLE_RATE_HZ, subtype="PCM_24")
    with pytest.raises(AudioFileError, match="ok.wav cannot be repaired"):
        repair_truncated_flac(wav)


def test_wav_size_limit_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio_file, "_WAV_MAX_BYTES", 6 * 1000)  # pretend 4 GiB is 1000 stereo frames
    w = AudioFileWriter(tmp_path / "long.wav", SAMPLE_RATE_HZ, CHANNELS)
    w.write(signal_at(0, 1000))
    with pytest.raises(AudioFileError, match="WAV files cannot exceed 4 GiB.*use FLAC"):
        w.write(signal_at(1000, 1))
    w.close()
    assert readable_frames(tmp_path / "long.wav") == 1000
