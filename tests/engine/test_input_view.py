"""InputView, the seam for jam mode: the input lined up with the generated stream's own positions."""

from __future__ import annotations

import time

import numpy as np

from lmd_studio.app.engine_parts import build_engine, make_backend, make_mailbox
from lmd_studio.audio.fake_input import LoopbackInput
from lmd_studio.audio.input_path import InputConfig
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.engine import commands as cmd
from lmd_studio.rt.offset_log import OffsetLog


def test_the_input_for_a_stretch_of_the_stream_is_what_played_it() -> None:
    """With the output looped into the input (latency known), the input lined up with stream frames
    [a, b) is those very frames as they left: the generated block at the volume's gain."""
    gen = FakeBlockGenerator(sample_rate=48000, channels=2, block_seconds=0.25)
    backend = make_backend("null", buffer_frames=256, fake_input=LoopbackInput(900, reported_frames=900),
                           input_config=InputConfig(channels=(1,)))
    parts = build_engine(gen, backend, make_mailbox(gen))
    view = parts.input_view
    assert view is not None and view.channels == 1
    generated: dict[int, np.ndarray] = {}
    parts.engine.add_block_listener(lambda pos, frames, i, spliced: generated.update({pos: np.array(frames)}))
    parts.start()
    try:
        parts.engine.send(cmd.Play())
        deadline = time.monotonic() + 10
        while (view.arrived_stream_position or 0) < 48000 and time.monotonic() < deadline:
            time.sleep(0.02)
        arrived = view.arrived_stream_position
        assert arrived is not None and arrived >= 48000
        got = view.for_stream(arrived, 12000)[:, 0]
        latest, end = view.latest(1000)
        gain = parts.engine.output.gain.gain
    finally:
        parts.stop()
    stream = np.concatenate([generated[p] for p in sorted(generated)])[:, 0]  # blocks from position 0
    want = stream[arrived - 12000:arrived] * np.float32(gain)
    assert np.abs(want).max() > 0.01
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert latest.shape == (1000, 1) and end >= arrived


def test_the_inverse_map_finds_the_stream_position_of_an_output_position() -> None:
    log = OffsetLog()
    log.note(0, 500, 256)
    log.note(256, 756, 100)  # an underrun: 156 frames of silence follow
    log.note(356, 1012, 256)
    assert log.from_output(600) == 100 and log.from_output(1100) == 444
    assert log.from_output(100) is None
    assert log.to_output(log.from_output(1100) or 0) == 1100
