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
    m.sample(5000, 5800)
    m.sample(6000, 6800)  # an underrun shifted the capture by 300 from here
    assert m.to_capture(2500) == 3000 and m.to_capture(5500) == 6000 and m.to_capture(7000) == 7800
