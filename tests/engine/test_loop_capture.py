"""Loop capture: exactly N bars from a downbeat, a seam that continues the music, the ACID chunk a DAW reads
(parsed back here by hand, not by our writer's code), a sidecar, and clear failures."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmd_studio.dsp.metrics import loop_seam_ratio
from lmd_studio.engine.acid import AcidInfo, append_acid_chunk
from lmd_studio.engine.loop_capture import LoopSpec, save_loop, seamless_loop
from lmd_studio.engine.retro import RetroBuffer
from lmd_studio.engine.retro_types import RetroConfig
from lmd_studio.engine.take_files import read_sidecar

RATE = 48000


def riff_chunks(path: Path) -> dict[bytes, bytes]:
    """Every top-level chunk of a RIFF/WAVE file, read independently of engine/acid.py."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8  # the RIFF size covers the whole file
    chunks, i = {}, 12
    while i + 8 <= len(data):
        cid, size = data[i:i + 4], struct.unpack("<I", data[i + 4:i + 8])[0]
        chunks[cid] = data[i + 8:i + 8 + size]
        i += 8 + size + (size % 2)
    return chunks


def groove(seconds: float, bpm: float = 120.0) -> np.ndarray:
    """Kick on every beat, hats on eighths, a held chord: music whose seams a click would show."""
    t = np.arange(int(seconds * RATE)) / RATE
    beat = (t * bpm / 60.0) % 1.0
    eighth = (t * bpm / 30.0) % 1.0
    x = (0.5 * np.sin(2 * np.pi * 55 * t) * np.exp(-beat * 12) + 0.1 * np.sin(2 * np.pi * 7000 * t) * np.exp(-eighth * 40)
         + 0.1 * np.sin(2 * np.pi * 220 * t) + 0.08 * np.sin(2 * np.pi * 277.2 * t))
    return x.astype(np.float32)[:, None]


def test_acid_chunk_round_trip(tmp_path: Path) -> None:
    wav = tmp_path / "loop.wav"
    sf.write(wav, np.zeros((4800, 2), np.float32), RATE, subtype="PCM_24")
    append_acid_chunk(wav, AcidInfo(beats=16, bpm=123.5, meter_numerator=4, meter_denominator=4, root_note=57))
    acid = riff_chunks(wav)[b"acid"]
    flags, root, _, _, beats, denominator, numerator, tempo = struct.unpack("<IHHfIHHf", acid)
    assert (beats, numerator, denominator, root) == (16, 4, 4, 57) and tempo == pytest.approx(123.5)
    assert flags & 0x04 and flags & 0x02 and not flags & 0x01  # stretch, root note set, not a one-shot
    audio, rate = sf.read(wav)  # every player still opens it
    assert rate == RATE and audio.shape == (4800, 2)


def test_the_seam_continues_the_music() -> None:
    bar = 2 * RATE  # 4/4 at 120 bpm
    audio = groove(10.0)
    hard = audio[:2 * bar]  # cut at two downbeats, no crossfade
    loop = seamless_loop(audio, 2 * bar, 480)
    assert loop.shape == hard.shape
    # the wrap (last sample → first) now continues as the original did at the next downbeat
    np.testing.assert_allclose(loop[0], audio[2 * bar], atol=1e-6)
    np.testing.assert_array_equal(loop[480:], audio[480:2 * bar])
    beat = RATE / 2
    assert loop_seam_ratio(loop[:, 0], beat, RATE) <= 1.1  # the wrap sounds like any other beat
    # what the meter is there to catch: the same two bars cut without the crossfade (the 277-Hz voice of the
    # chord jumps at the wrap), and a click on the last sample
    assert loop_seam_ratio(hard[:, 0], beat, RATE) > 1.1
    clicked = loop.copy()
    clicked[-1] = 0.9
    assert loop_seam_ratio(clicked[:, 0], beat, RATE) > 1.1


def test_save_loop_writes_exactly_n_bars_with_acid_and_sidecar(tmp_path: Path) -> None:
    retro = RetroBuffer(RetroConfig(RATE, 1, duration_s=20.0))
    audio = groove(12.0)
    for i in range(0, len(audio), 4800):
        retro.consume(audio[i:i + 4800], i)
    bar = 2 * RATE
    spec = LoopSpec(start_position=2 * bar, loop_frames=2 * bar, bars=2, beats_per_bar=4, bpm=120.0,
                    root_note=57, crossfade_frames=480)
    result = save_loop(retro, spec, tmp_path / "loop.wav", "wav", {"model": "test"})
    assert result.ok, result.error
    written, rate = sf.read(tmp_path / "loop.wav", dtype="float32", always_2d=True)
    assert rate == RATE and written.shape[0] == 2 * bar  # exactly two bars
    np.testing.assert_allclose(written[1000:1100, 0], audio[2 * bar + 1000:2 * bar + 1100, 0], atol=2e-6)
    acid = struct.unpack("<IHHfIHHf", riff_chunks(tmp_path / "loop.wav")[b"acid"])
    assert acid[4] == 8 and acid[7] == pytest.approx(120.0)
    side = read_sidecar(result.sidecar_path)
    assert side["kind"] == "loop" and side["loop"]["bars"] == 2 and side["loop"]["bpm"] == 120.0
    assert side["frames_written"] == 2 * bar and side["start_position_frames"] == 2 * bar
    flac = save_loop(retro, spec, tmp_path / "loop.flac", "flac")
    assert flac.ok and read_sidecar(flac.sidecar_path)["loop"]["acid_chunk"] is False
    gone = save_loop(retro, LoopSpec(10 * bar, bar, 1, 4, 120.0), tmp_path / "late.wav")
    assert not gone.ok and "retro buffer" in (gone.error or "") and not (tmp_path / "late.wav").exists()
