"""Keep the last N bars as a loop, through the Session (fake generator, Null audio, a tempo set): the file
starts on a bar line, is exactly N bars at the tempo played, carries the ACID chunk, and its audio is what
played there; without a tempo or without enough bars it says so."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from lmd_studio.app.bootstrap import build_studio
from lmd_studio.core.params import TEMPO
from lmd_studio.engine.take_files import read_sidecar
from lmd_studio.settings.paths import StudioPaths
from tests.engine.test_loop_capture import riff_chunks


@pytest.fixture
def session(tmp_path: Path):
    s = build_studio(StudioPaths.under(tmp_path), model="fake", audio="null", midi=False, retro_s=30.0)
    s.start()
    yield s
    s.shutdown()


def run_until(s, predicate, timeout_s: float = 20.0) -> None:
    end = time.perf_counter() + timeout_s
    while time.perf_counter() < end:
        s.tick()
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def test_keep_the_last_two_bars_as_a_loop(session) -> None:
    session.performance.set_auto(TEMPO.name, False)
    session.performance.set_value(TEMPO.name, 150.0)  # 4/4: 1.6 s a bar
    session.transport.play()
    run_until(session, lambda: session.tick().bar >= 4)
    job = session.timeline.capture_loop(2)
    assert job is not None
    run_until(session, lambda: job.done)
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
    # it starts on a bar line of the timeline, and is the music that played there (beyond the seam fade)
    frame = session.timeline.frame(30.0, 100)
    start_s = side["start_position_frames"] / rate
    bars_s = np.array(frame.bar_lines_s)
    assert bars_s.size and np.min(np.abs(bars_s - start_s)) * 1000.0 <= 10.0
    assert np.abs(audio).max() > 0.01 and np.isfinite(audio).all()


def test_a_loop_needs_a_tempo_and_enough_bars(session) -> None:
    session.transport.play()
    run_until(session, lambda: session.tick().played_s > 1.0)
    assert session.timeline.capture_loop(2) is None  # no tempo: no bars
    notices = session.take_notices()
    assert any("set a tempo" in n.text for n in notices)
