from __future__ import annotations

import numpy as np

from lmd_studio.app.capture_chain import CaptureFanout, PositionMap


class _Sink:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def consume(self, frames, start_position) -> None:
        self.calls.append((start_position, len(frames)))


class _Broken:
    def consume(self, frames, start_position) -> None:
        raise OSError("disk on fire")


def test_positions_continue_across_hubs_and_a_broken_sink_is_contained() -> None:
    fan = CaptureFanout()
    sink = _Sink()
    fan.add(_Broken())
    fan.add(sink)
    block = np.zeros((100, 2), np.float32)
    fan.consume(block, 0)
    fan.consume(block, 100)
    fan.restart()  # a new engine's hub counts from 0 again
    fan.consume(block, 0)
    assert sink.calls == [(0, 100), (100, 100), (200, 100)]
    assert fan.sink_errors == 3 and "disk on fire" in fan.last_error and fan.end_position == 300


def test_position_map_keeps_confirmed_offsets() -> None:
    m = PositionMap()
    assert m.to_capture(10) is None
    m.sample(1000, 1500)  # candidate only
    assert m.to_capture(1000) is None
    m.sample(2000, 2500)  # confirmed: offset 500
    m.sample(3000, 3900)  # a torn read or a real change: not yet
    m.sample(4000, 4500)  # back to 500: the odd one is forgotten
    m.sample(5000, 5800)  # an underrun shifted the capture by 300 before this sample
    m.sample(6000, 6800)  # confirmed: it applies from 5000, where it was first seen
    assert m.to_capture(2500) == 3000 and m.to_capture(5500) == 6300 and m.to_capture(7000) == 7800


def test_position_map_puts_a_stall_where_the_stream_stopped() -> None:
    """Space pressed before the model was ready: the device captured 3.3 s of silence while the stream
    stood at 0. A selection from 0 must start at the first generated frame, after that silence."""
    m = PositionMap()
    m.sample(0, 0)
    m.sample(0, 0)  # stopped: offset 0
    for captured in range(4800, 158_401, 4800):  # 3.3 s of priming at 48 kHz, sampled every 0.1 s
        m.sample(0, captured)
    m.sample(1600, 158_400 + 1600)  # primed: both move together
    m.sample(3200, 158_400 + 3200)
    assert m.to_capture(0) == 158_400  # not 0: that was the silence before the music
    assert m.to_capture(220_800) - m.to_capture(0) == 220_800  # 4.6 s selected is 4.6 s saved
