"""A take with the audio input on: the mix, the input and the generated part as three files that line up
sample for sample, cut where a one-file take would be, with the alignment in the sidecar."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmd_studio.app.engine_parts import build_engine, make_backend, make_mailbox
from lmd_studio.audio.fake_input import LoopbackInput
from lmd_studio.audio.input_path import InputConfig
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.engine import commands as cmd
from lmd_studio.engine.recorder import Recorder
from lmd_studio.engine.sinks import AlignedTracks, TrackSink
from lmd_studio.engine.take_files import pick_free_path, track_path
from lmd_studio.engine.take_tracks import TrackFormat

RATE = 48000


def read(path: Path) -> np.ndarray:
    return sf.read(str(path), dtype="float32", always_2d=True)[0]


def sidecar(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".json").read_text())


def record_through_the_engine(tmp_path: Path, delay: int, monitoring: bool) -> Path:
    """Play the fake generator through the Null clock with a loopback input (true delay = reported delay)
    and record ~1.5 s."""
    gen = FakeBlockGenerator(sample_rate=RATE, channels=2, block_seconds=0.25)
    backend = make_backend("null", buffer_frames=256, fake_input=LoopbackInput(delay, reported_frames=delay),
                           input_config=InputConfig(channels=(1,), monitoring=monitoring))
    parts = build_engine(gen, backend, make_mailbox(gen))
    recorder = Recorder()
    assert isinstance(recorder, TrackSink)
    parts.capture.add_sink(recorder)
    parts.capture.add_track_sink(recorder)
    parts.start()
    try:
        parts.engine.send(cmd.Play())
        deadline = time.monotonic() + 5
        while not parts.engine.metrics.primed and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        path = recorder.start(tmp_path / "take.wav", RATE, 2, "wav", {"model": "fake"},
                              tracks=TrackFormat(1, {"roundtrip_latency_frames": delay}))
        time.sleep(1.5)
        result = recorder.stop()
    finally:
        parts.stop()
    assert result.ok, result.error
    return path


def test_the_input_track_lines_up_with_the_generated_track_sample_exact(tmp_path: Path) -> None:
    """The loopback input is the output `delay` frames later; with that delay taken out, the input track
    must equal the generated track's first channel sample for sample — and the mix (monitoring off) the
    generated part."""
    path = record_through_the_engine(tmp_path, delay=733, monitoring=False)
    mix, inp, gen = read(path), read(track_path(path, "input")), read(track_path(path, "generated"))
    assert len(mix) == len(inp) == len(gen) > RATE
    assert inp.shape[1] == 1 and np.abs(gen).max() > 0.05
    np.testing.assert_array_equal(inp[:, 0], gen[:, 0])
    np.testing.assert_array_equal(mix, gen)
    # one sample off would not do: the generated signal is not constant over one frame
    assert np.abs(inp[1:, 0] - gen[:-1, 0]).max() > 1e-3
    side = sidecar(path)
    assert side["tracks"] == {"mix": "take.wav", "input": "take.input.wav", "generated": "take.generated.wav"}
    assert side["alignment"]["roundtrip_latency_frames"] == 733
    assert isinstance(side["alignment"]["first_frame_output_position"], int)
    for track in ("input", "generated"):
        other = sidecar(track_path(path, track))
        assert other["kind"] == "track" and other["track"] == track and other["take"] == "take.wav"
        assert other["start_position_frames"] == side["start_position_frames"]
        assert other["frames_written"] == side["frames_written"]
        assert other["alignment"] == side["alignment"]


def test_with_monitoring_the_mix_is_generated_plus_input(tmp_path: Path) -> None:
    path = record_through_the_engine(tmp_path, delay=480, monitoring=True)
    mix, inp, gen = read(path), read(track_path(path, "input")), read(track_path(path, "generated"))
    assert np.abs(mix).max() <= 10 ** (-1 / 20)
    np.testing.assert_allclose(mix, gen + inp, atol=3 / 2**23)  # PCM_24 rounding of each file


def aligned(position: int, n: int, output_offset: int = 100_000) -> AlignedTracks:
    """Stretches whose samples are their own capture positions, to see exactly where files start and end."""
    ramp = (np.arange(position, position + n, dtype=np.float32) / 100_000)[:, None]
    return AlignedTracks(np.repeat(ramp, 2, 1), ramp.copy(), np.repeat(ramp, 2, 1), position + output_offset)


def test_the_tracks_start_and_stop_where_the_capture_stood(tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.consume(np.zeros((1000, 2), np.float32), 0)  # the capture stands at 1000 when Rec is pressed
    path = recorder.start(tmp_path / "t.wav", RATE, 2, "wav", tracks=TrackFormat(1))
    recorder.consume(np.zeros((2000, 2), np.float32), 1000)  # ... and at 3000 at stop
    for start in range(400, 3400, 300):  # the aligned stretches trail and overshoot, in odd sizes
        recorder.consume_tracks(aligned(start, 300), start)
    result = recorder.stop()
    assert result.ok and result.frames_written == 2000
    for f in (path, track_path(path, "input"), track_path(path, "generated")):
        audio = read(f)
        np.testing.assert_allclose(audio[:, 0], np.arange(1000, 3000) / 100_000, atol=1 / 2**22)
    assert sidecar(path)["alignment"]["first_frame_output_position"] == 101_000


def test_a_take_whose_input_never_catches_up_still_finishes_with_equal_files(tmp_path: Path) -> None:
    recorder = Recorder()
    recorder.track_wait_s = 0.2
    recorder.consume(np.zeros((100, 2), np.float32), 0)
    path = recorder.start(tmp_path / "t.wav", RATE, 2, "wav", tracks=TrackFormat(2))
    recorder.consume(np.zeros((5000, 2), np.float32), 100)
    recorder.consume_tracks(AlignedTracks(np.ones((1000, 2), np.float32) * 0.1, np.ones((1000, 2), np.float32) * 0.2,
                                          np.ones((1000, 2), np.float32) * 0.3, 0), 100)
    result = recorder.stop()
    assert result.error is not None and "did not catch up" in result.error
    lengths = {len(read(f)) for f in (path, track_path(path, "input"), track_path(path, "generated"))}
    assert lengths == {1000}


def test_a_free_name_is_free_for_all_three_files(tmp_path: Path) -> None:
    (tmp_path / "take.generated.wav").write_bytes(b"")
    assert pick_free_path(tmp_path, "take.wav").name == "take.wav"
    assert pick_free_path(tmp_path, "take.wav", tracks=("input", "generated")).name == "take-2.wav"


def test_a_track_that_cannot_be_created_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "take.input.wav").mkdir()  # a folder where the input track should go
    recorder = Recorder()
    with pytest.raises(Exception, match="take.input.wav"):
        recorder.start(tmp_path / "take.wav", RATE, 2, "wav", tracks=TrackFormat(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.input.wav"]
    assert not recorder.is_recording and recorder.error
