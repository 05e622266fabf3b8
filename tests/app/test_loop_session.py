"""Keep the last N bars as a loop, through the Session (fake generator, Null audio, a tempo set): the file
starts on a bar line, is exactly N bars at the tempo played, carries the ACID chunk, and its audio is what
played there; without a tempo or without enough bars it says so."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmd_studio.app.bootstrap import build_studio
from lmd_studio.core.params import TEMPO
from lmd_studio.engine.take_files import read_sidecar
from lmd_studio.settings.paths import StudioPaths
from tests.app.test_tempo_session import wait_for
from tests.engine.test_loop_capture import riff_chunks


@pytest.fixture
def session(tmp_path: Path):
    s = build_studio(StudioPaths.under(tmp_path), model="fake", audio="null", midi=False, retro_s=30.0)
    s.start()
    yield s
    s.shutdown()


def test_keep_the_last_two_bars_as_a_loop(session) -> None:
    session.performance.set_auto(TEMPO.name, False)
    session.performance.set_value(TEMPO.name, 150.0)  # 4/4: 1.6 s a bar
    take = session.recording.start_take()  # the same music, recorded as it played, to compare with
    assert take is not None
    session.transport.play()
    wait_for(session, lambda: session.tick().bar >= 4, timeout_s=20.0)
    job = session.timeline.capture_loop(2)
    assert job is not None
    wait_for(session, lambda: job.done, timeout_s=20.0)
    assert job.error is None, job.error
    result = job.result
    assert result.ok, result.error
    audio, rate = sf.read(result.path, dtype="float32", always_2d=True)
    bar_frames = 4 * 60.0 / 150.0 * rate
    assert abs(audio.shape[0] - 2 * bar_frames) <= 1  # exactly two bars, to the sample
    side = read_sidecar(result.sidecar_path)
    assert side["kind"] == "loop" and side["loop"]["bars"] == 2 and side["loop"]["beats"] == 8
    assert side["loop"]["bpm"] == pytest.approx(150.0, abs=0.01)
    acid = struct.unpack("<IHHfIHHf", riff_chunks(result.path)[b"acid"])
    assert acid[4] == 8 and acid[7] == pytest.approx(150.0, abs=0.01)
    # it starts on one of the timeline's bar lines
    frame = session.timeline.frame(30.0, 100)
    assert side["start_position_frames"] / rate in frame.bar_lines_s
    # and, beyond the seam fade, it is the music the take recorded there: found by content in the take
    stop = session.recording.stop_take()
    assert stop is not None
    wait_for(session, lambda: stop.done, timeout_s=20.0)
    played, _ = sf.read(take, dtype="float32", always_2d=True)
    seam = side["loop"]["seam_crossfade_frames"]
    probe = audio[seam + 2000:seam + 2064, 0]  # 64 frames well inside the loop (24-bit files: 1 LSB apart)
    windows = np.lib.stride_tricks.sliding_window_view(played[:, 0], probe.size)
    hits = np.flatnonzero(np.abs(windows - probe).max(axis=1) <= 2.5e-7)
    assert hits.size == 1 and np.abs(probe).max() > 0.01
    start = hits[0] - 2000
    np.testing.assert_allclose(played[start:start + len(audio) - seam, 0], audio[seam:, 0], atol=2.5e-7)


def test_a_loop_needs_a_tempo_and_enough_bars(session) -> None:
    session.transport.play()
    wait_for(session, lambda: session.tick().played_s > 1.0, timeout_s=20.0)
    assert session.timeline.capture_loop(2) is None  # no tempo: no bars
    notices = session.take_notices()
    assert any("set a tempo" in n.text for n in notices)
