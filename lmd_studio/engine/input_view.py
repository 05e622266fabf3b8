"""The audio input as the generation side sees it (the seam for jam mode and generative delay).

The InputTap (rt/input_tap.py) holds the input on the *output* timeline: tap position p is what the player
played while hearing output position p. The generator thinks in *stream* positions (frames of the playback
ring, at the device rate), and the output stage's `stream_map` relates the two: stream frame s leaves the
device at output position s + offset, where the offset moves only at a stop or an underrun. `InputView`
puts them together:

- `latest(frames)`: the most recent input, and the output position just past it;
- `for_stream(end_stream_position, frames)`: the input lined up with stream frames [end − frames, end) —
  silence where it has not arrived yet (the generator runs ahead of the playhead by its look-ahead, so a
  jam cut-off must sit at or before `arrived_stream_position`);
- `arrived_stream_position`: the stream position up to which the input is in.

Any thread may call these (the tap's readers are lock-free); each returns a new array.
"""

from __future__ import annotations

import numpy as np

from lmd_studio.rt.input_tap import InputTap
from lmd_studio.rt.offset_log import OffsetLog


class InputView:
    def __init__(self, tap: InputTap, stream_map: OffsetLog) -> None:
        self.tap = tap
        self._stream_map = stream_map

    @property
    def channels(self) -> int:
        return self.tap.channels

    def latest(self, frames: int) -> tuple[np.ndarray, int]:
        """([frames, channels] float32 of the newest input, the output position just past it)."""
        end = self.tap.end_position
        return self.tap.read(end, frames), end

    @property
    def arrived_stream_position(self) -> int | None:
        """The stream position just past the newest input (None before the stream has played)."""
        return self._stream_map.from_output(self.tap.end_position)

    def for_stream(self, end_stream_position: int, frames: int) -> np.ndarray:
        """The input lined up with stream frames [end_stream_position − frames, end_stream_position): what the
        player played while those frames were heard. Silence before the stream played and where the input
        has not arrived."""
        end_output = self._stream_map.to_output(end_stream_position)
        if end_output is None:
            return np.zeros((int(frames), self.tap.channels), np.float32)
        return self.tap.read(end_output, frames)
