"""The studio's audio input as a jam partner, lined up with the blocks the model generates.

The engine tells each block where it sits in the playback stream (`BlockControls.stream_position`: the ring
position of its first sample, device rate). The input is held on the same stream timeline (InputView,
engine/input_view.py: what the player played while hearing stream frame s), up to the playhead. So partner
latent frame f — generator sample f·hop of the block's epoch — lines up with stream position

    stream_position + (f·hop − block_index·block_samples) · device_rate / model_rate

and this source pulls exactly that span of input, converts it to the codec's rate and channels, and
encodes it as it arrives (PartnerEncoder). Everything runs on the generation thread, right before a block.

When the mapping jumps (a stop and play, a seek, the engine's first block) or the input fell far behind
(jam switched back on after a while), the source starts over: the partner is then heard from a little
before the block being generated (`lookback_blocks`), so the context is not deaf to what was just played.
A splice keeps the mapping (same blocks at the same stream positions), so the heard partner carries on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import soxr
import torch

from lmd_studio.core.generator import StreamInput
from lmd_studio.model.partner_track import PartnerEncoder


class StreamInputSource:
    """A PartnerSource fed by the live input. `make_encoder`: a fresh PartnerEncoder (one per start);
    `block_samples`: the generator's block in its own samples; `max_gap_s`: input further behind than this is skipped (start over) rather than encoded in one
    go on the generation thread."""

    def __init__(self, make_encoder: Callable[[], PartnerEncoder], block_samples: int, lookback_blocks: int = 4,
                 max_gap_s: float = 8.0, keep_frames: int = 4096) -> None:
        self.make_encoder = make_encoder
        encoder = make_encoder()
        self.codec = encoder.codec
        self.block_samples = int(block_samples)
        self.lookback_blocks = int(lookback_blocks)
        self.max_gap_s = max_gap_s
        self.keep_frames = keep_frames
        self.device_rate_hz = int(self.codec.sample_rate)  # the stream's rate (the input's): set by attach
        self.input: StreamInput | None = None
        self.restarts = 0  # times the source started over (a jump, or a long gap)
        self._encoder = encoder
        self._resampler: soxr.ResampleStream | None = None
        self._latents = torch.zeros(0, self.codec.latent_channels)
        self._first_frame = 0  # latent frame of self._latents[0]
        self._started = False
        self._origin_sample = 0  # model sample at which the encoder's audio starts (a multiple of hop)
        self._origin_stream = 0  # stream position lined up with _origin_sample
        self._pulled_to = 0  # stream position the pulled input ends at

    def attach(self, stream_input: StreamInput | None, device_rate_hz: int) -> None:
        """The input to listen to, on a stream at `device_rate_hz` (None: nothing arrives). Starts over at the
        next block."""
        self.input = stream_input
        self.device_rate_hz = int(device_rate_hz)
        self._started = False

    @property
    def ratio(self) -> float:
        """Stream frames per model sample."""
        return self.device_rate_hz / float(self.codec.sample_rate)

    # --- the PartnerSource protocol -------------------------------------------------------------------
    def refresh(self, block_index: int, stream_position: int | None) -> None:
        if self.input is None or stream_position is None:
            return
        if not self._started or self._mapping_jumped(block_index, stream_position):
            self._start_over(block_index, stream_position)
        arrived = self.input.arrived_stream_position
        if arrived is None or arrived <= self._pulled_to:
            return
        if arrived - self._pulled_to > self.max_gap_s * self.device_rate_hz:
            self._start_over(block_index, stream_position)
            if arrived <= self._pulled_to:
                return
        audio = self.input.for_stream(arrived, arrived - self._pulled_to)
        self._pulled_to = arrived
        self._encode(audio)

    def available_frames(self) -> int:
        return self._first_frame + int(self._latents.shape[0])

    @property
    def first_frame(self) -> int:
        """The oldest partner frame still held (partner frames start here after a start-over)."""
        return self._first_frame

    def latents(self, start_frame: int, end_frame: int) -> torch.Tensor:
        if start_frame < self._first_frame:
            raise ValueError(f"partner frames before {self._first_frame} are not held (asked {start_frame})")
        return self._latents[start_frame - self._first_frame:end_frame - self._first_frame]

    # --- inside -----------------------------------------------------------------------------------------
    def stream_position_of(self, model_sample: int) -> float:
        """The stream position lined up with model sample `model_sample` (of the current start)."""
        return self._origin_stream + (model_sample - self._origin_sample) * self.ratio

    def _mapping_jumped(self, block_index: int, stream_position: int) -> bool:
        expected = self.stream_position_of(block_index * self.block_samples)
        return abs(expected - stream_position) > 2.0  # rounding of the engine's own mapping: ±1 frame

    def _start_over(self, block_index: int, stream_position: int) -> None:
        hop = int(self.codec.hop_frames)
        start_sample = max(0, (block_index - self.lookback_blocks) * self.block_samples)
        start_sample -= start_sample % hop
        self._origin_sample = start_sample
        self._origin_stream = int(round(stream_position - (block_index * self.block_samples - start_sample)
                                        * self.ratio))
        self._pulled_to = self._origin_stream
        self._encoder = self.make_encoder()
        self._resampler = (None if self.device_rate_hz == self.codec.sample_rate else
                           soxr.ResampleStream(self.device_rate_hz, self.codec.sample_rate,
                                               self.codec.audio_channels, dtype="float32", quality="HQ"))
        self._latents = torch.zeros(0, self.codec.latent_channels)
        self._first_frame = start_sample // hop
        self._started = True
        self.restarts += 1

    def _encode(self, audio: np.ndarray) -> None:
        x = _to_channels(audio, self.codec.audio_channels)
        if self._resampler is not None:
            x = self._resampler.resample_chunk(np.ascontiguousarray(x))
        if not len(x):
            return
        new = self._encoder.push(np.ascontiguousarray(x, dtype=np.float32))
        if new.shape[0]:
            joined = torch.cat([self._latents, new])
            drop = max(0, joined.shape[0] - self.keep_frames)
            self._latents, self._first_frame = joined[drop:], self._first_frame + drop


def _to_channels(audio: np.ndarray, channels: int) -> np.ndarray:
    """The input's channels → the codec's: average down to mono, copy mono up."""
    if audio.shape[1] == channels:
        return audio
    mono = audio.mean(axis=1, keepdims=True, dtype=np.float32)
    return mono if channels == 1 else np.repeat(mono, channels, axis=1)
