"""Jam mode from a recording: the model plays along with a partner part it hears `lookahead_s` late.

`JamGenerator` wraps a `TorchBlockGenerator` as a plain BlockGenerator (so the engine, the limiter and the
file writer of `lmd render` work unchanged): before each block it lets the model hear the partner's
latents up to `block start - lookahead`, exactly what a live partner would have delivered by then. What
was heard is part of the generator state, so the engine's splices and rewinds replay it identically.

Where the partner comes from is a `PartnerSource`: `FramesSource` holds a recording encoded offline
(`lmd jam`, cli/cmd_jam.py; the jam meters); `LivePartnerSource` encodes audio as it arrives (the studio's
audio input), pulled on the generation thread right before each block, so nothing here is shared between
threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch

from lmd_studio.core.generator import BlockControls, WrappedGenerator
from lmd_studio.dsp.resample import resample
from lmd_studio.model.generator import TorchBlockGenerator, TorchGeneratorState
from lmd_studio.model.partner_track import PartnerEncoder


def partner_latents_from_audio(generator: TorchBlockGenerator, audio: np.ndarray, sample_rate_hz: int
                               ) -> torch.Tensor:
    """A partner recording [frames, channels] at any rate → the codec's latent frames [T, C] (offline)."""
    if audio.ndim == 1:
        audio = audio[:, None]
    codec = generator.codec
    x = audio.astype(np.float32, copy=False)
    if x.shape[1] != codec.audio_channels:  # mono ↔ stereo: average down, or copy up
        x = x.mean(axis=1, keepdims=True)
        x = np.repeat(x, codec.audio_channels, axis=1)
    if sample_rate_hz != codec.sample_rate:
        x = resample(x, sample_rate_hz, codec.sample_rate)
    with torch.inference_mode():
        return codec.encode(torch.from_numpy(np.ascontiguousarray(x.T))[None])[0].float().clone()


class PartnerSource(Protocol):
    def refresh(self) -> None:
        """Take in what arrived since the last block (called on the generation thread before each one)."""
        ...

    def available_frames(self) -> int:
        """Partner latent frames known so far, counted from the stream's first frame."""
        ...

    def latents(self, start_frame: int, end_frame: int) -> torch.Tensor:
        """Frames [start_frame, end_frame) → [end - start, C] (end ≤ available_frames())."""
        ...


class FramesSource:
    """A whole partner recording, encoded beforehand."""

    def __init__(self, latents: torch.Tensor) -> None:
        self._latents = latents

    def refresh(self) -> None:
        """Nothing arrives: the whole recording is there from the start."""

    def available_frames(self) -> int:
        return int(self._latents.shape[0])

    def latents(self, start_frame: int, end_frame: int) -> torch.Tensor:
        return self._latents[start_frame:end_frame]


class LivePartnerSource:
    """Partner audio as it arrives: `pull()` returns the audio [samples, channels] (the codec's rate) that came
    in since the last call; `refresh` encodes it. Keeps the newest `keep_frames` latent frames."""

    def __init__(self, encoder: PartnerEncoder, pull: Callable[[], np.ndarray], keep_frames: int = 4096) -> None:
        self.encoder = encoder
        self.pull = pull
        self.keep_frames = keep_frames
        self._latents = torch.zeros(0, encoder.codec.latent_channels)
        self._first_frame = 0

    def refresh(self) -> None:
        audio = self.pull()
        if len(audio):
            new = self.encoder.push(audio)
            joined = torch.cat([self._latents, new])
            drop = max(0, joined.shape[0] - self.keep_frames)
            self._latents, self._first_frame = joined[drop:], self._first_frame + drop

    def available_frames(self) -> int:
        return self._first_frame + int(self._latents.shape[0])

    def latents(self, start_frame: int, end_frame: int) -> torch.Tensor:
        if start_frame < self._first_frame:
            raise ValueError(f"partner frames before {self._first_frame} are no longer kept (asked {start_frame})")
        return self._latents[start_frame - self._first_frame:end_frame - self._first_frame]


class JamGenerator(WrappedGenerator):
    """A BlockGenerator that plays along with a partner (latent frames from stream frame 0 on). Offline,
    `lookahead_s` holds the partner back as a live input would arrive; live, the source's own arrival does."""

    def __init__(self, inner: TorchBlockGenerator, partner: torch.Tensor | PartnerSource, lookahead_s: float) -> None:
        if not inner.dit.cfg.accomp_channels:
            raise ValueError(f"model {inner.name} has no accompaniment channels: it cannot hear a partner")
        if lookahead_s < 0:
            raise ValueError(f"lookahead_s must be >= 0, got {lookahead_s}")
        super().__init__(inner)
        self.inner: TorchBlockGenerator = inner
        self.source: PartnerSource = FramesSource(partner) if isinstance(partner, torch.Tensor) else partner
        rate_hz = inner.codec.sample_rate / inner.codec.hop_frames
        self.lookahead_frames = int(math.ceil(lookahead_s * rate_hz))

    # --- the BlockGenerator protocol: the rest is the inner generator's ---------------------------------
    @property
    def name(self) -> str:
        return f"{self.inner.name} (jam)"

    def generate_block(self, state: Any, controls: BlockControls) -> tuple[np.ndarray, Any]:
        self.source.refresh()  # a live source encodes what arrived since the last block
        return self.inner.generate_block(self.heard_by(state), controls)

    # --- the partner ----------------------------------------------------------------------------------
    def heard_frames(self, block_index: int) -> int:
        """Partner frames delivered when block `block_index` is generated (a live input is late)."""
        o = self.inner.dit.cfg.block_frames
        return max(0, min(self.source.available_frames(), block_index * o - self.lookahead_frames))

    def heard_by(self, state: TorchGeneratorState) -> TorchGeneratorState:
        """`state` with the partner heard up to what block `state.block_index` may know."""
        done = 0 if state.partner is None else state.partner.end_frame
        upto = self.heard_frames(state.block_index)
        if upto <= done:
            return state
        return self.inner.hear_partner(state, self.source.latents(done, upto), start_frame=done)
