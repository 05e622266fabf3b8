"""A saved selection is exactly the stretch selected on the timeline. The timeline shows the music as it
was generated; while the stream stood still (a dropout on a busy laptop, priming after a fresh start)
the device kept playing silence, and that silence used to land inside the saved file: a 4.6 s drag saved
as 7.9 s."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import soundfile as sf

from lmd_studio.app.capture_chain import PositionMap
from lmd_studio.core.fake import FakeBlockGenerator
from tests.app.test_startup import _session


class StallingModel(FakeBlockGenerator):
    """Test tones whose block number `slow_block` takes `stall_s`: the playback ring runs dry."""

    def __init__(self, slow_block: int, stall_s: float) -> None:
        super().__init__()
        self.slow_block, self.stall_s = slow_block, stall_s

    def generate_block(self, state, controls):
        if state.block_index == self.slow_block:
            time.sleep(self.stall_s)
        return super().generate_block(state, controls)


def _longest_silence_s(audio: np.ndarray, rate: int) -> float:
    quiet = np.abs(audio).max(axis=1) < 1e-6 if audio.ndim == 2 else np.abs(audio) < 1e-6
    best = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        best = max(best, run)
    return best / rate


def test_a_selection_across_a_dropout_saves_the_selected_music(tmp_path: Path) -> None:
    s = _session(tmp_path, StallingModel(slow_block=6, stall_s=3.0))
    s.start()
    try:
        s.transport.set_volume_db(0.0)
        s.transport.play()
        while s.tick().played_s < 4.6:  # the window's 30 fps timer; a ~1.5 s dropout on the way
            time.sleep(0.033)
        assert s.tick().underruns >= 1
        job = s.timeline.save_selection(0.3, 4.3)
        assert job is not None and job.wait(20)
        r = job.result
        assert r.ok, r.error
        assert abs(r.duration_s - 4.0) < 0.05, r.duration_s  # 4 s selected is 4 s saved
        audio, rate = sf.read(str(r.path), dtype="float32")
        assert _longest_silence_s(audio, rate) < 0.05  # the dropout's silence is not in the file
    finally:
        s.shutdown()


def test_position_map_spans_leave_out_what_the_stream_did_not_play() -> None:
    m = PositionMap()
    for stream, capture in ((0, 0), (0, 0), (1000, 1000), (1000, 1600), (1000, 2200), (1200, 2400),
                            (1300, 2500)):  # a stall at 1000: 1200 frames of silence captured
        m.sample(stream, capture)
    assert m.spans(500, 1500) == [(500, 1000), (2200, 2700)]
    assert sum(b - a for a, b in m.spans(500, 1500)) == 1000
    assert m.spans(0, 900) == [(0, 900)] and m.spans(900, 900) == []


def test_position_map_ignores_reads_that_straddle_a_callback() -> None:
    """The offset only grows (the capture runs on while the stream stalls); a smaller one is the stream
    counter read after a callback the capture counter was read before — twice in a row under load."""
    m = PositionMap()
    for stream, capture in ((0, 512), (0, 512), (1000, 1512), (1256, 1512), (1512, 1768), (1512, 1768),
                            (3000, 3512)):
        m.sample(stream, capture)
    assert m.spans(0, 3000) == [(512, 3512)]  # one range: nothing repeated, nothing left out
