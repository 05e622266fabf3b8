"""Jam mode: the model plays along with a partner part it hears late (a recording, or the studio's input).

`JamGenerator` wraps a `TorchBlockGenerator` as a plain BlockGenerator (so the engine, the limiter and the
file writer of `lmd render` work unchanged): before each block it lets the model hear the partner's
latents up to `block start - lookahead`, exactly what a live partner would have delivered by then. What
was heard is part of the generator state, so the engine's splices and rewinds replay it identically.

Where the partner comes from is a `PartnerSource`: `FramesSource` holds a recording encoded offline
(`lmd jam`, cli/cmd_jam.py; the jam meters); `LivePartnerSource` encodes audio handed to it as it arrives
(the model benchmark's simulated partner); `StreamInputSource` (jam_input.py) is the studio's audio input,
lined up with the blocks by stream position. Sources are refreshed on the generation thread right before
each block, so nothing here is shared between threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from lmd_studio.core.compute import ComputeInfo
from lmd_studio.core.generator import BlockControls, StreamInput, WrappedGenerator
from lmd_studio.core.params import DELAY, DELAY_TIME, FOLLOW, JAM, ParamSpec
from lmd_studio.dsp.resample import resample
from lmd_studio.model.generator import TorchBlockGenerator, TorchGeneratorState
from lmd_studio.model.jam_input import StreamInputSource
from lmd_studio.model.partner_track import PartnerEncoder, PartnerTrack


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
    def refresh(self, block_index: int, stream_position: int | None) -> None:
        """Take in what arrived since the last block (called on the generation thread before block
        `block_index`, which starts at `stream_position` of the engine's stream when the engine plays it)."""
        ...

    @property
    def first_frame(self) -> int:
        """The oldest partner latent frame held."""
        ...

    def available_frames(self) -> int:
        """Partner latent frames known so far, counted from the stream's first frame."""
        ...

    def latents(self, start_frame: int, end_frame: int) -> torch.Tensor:
        """Frames [start_frame, end_frame) → [end - start, C] (first_frame ≤ start, end ≤ available_frames())."""
        ...


class FramesSource:
    """A whole partner recording, encoded beforehand."""

    def __init__(self, latents: torch.Tensor) -> None:
        self._latents = latents

    def refresh(self, block_index: int, stream_position: int | None) -> None:
        """Nothing arrives: the whole recording is there from the start."""

    @property
    def first_frame(self) -> int:
        return 0

    def available_frames(self) -> int:
        return int(self._latents.shape[0])

    def latents(self, start_frame: int, end_frame: int) -> torch.Tensor:
        return self._latents[start_frame:end_frame]


class LivePartnerSource:
    """Partner audio as it arrives, from stream frame 0 on: `pull()` returns the audio [samples, channels] (the
    codec's rate) that came in since the last call; `refresh` encodes it. Keeps the newest `keep_frames`
    latent frames. (The studio's input, lined up by stream position, is model/jam_input.StreamInputSource.)"""

    def __init__(self, encoder: PartnerEncoder, pull: Callable[[], np.ndarray], keep_frames: int = 4096) -> None:
        self.encoder = encoder
        self.pull = pull
        self.keep_frames = keep_frames
        self._latents = torch.zeros(0, encoder.codec.latent_channels)
        self._first_frame = 0

    @property
    def first_frame(self) -> int:
        return self._first_frame

    def refresh(self, block_index: int, stream_position: int | None) -> None:
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
    `lookahead_s` holds the partner back as a live input would arrive; live, the source's own arrival does.

    `switchable` (the studio): the Jam control switches the listening on and off, block by block; otherwise
    (`lmd jam`) it always listens.

    Two ways of listening: "accompany" (the partner heard late, up to the block being generated: play along)
    and generative "delay" (the partner is the input delayed by `delay_s`, lined up with the block being
    generated and visible into it as far as it has arrived: play it back re-imagined by the prompt). In the
    studio the Delay switch picks delay and the Delay time control sets d; a change of either makes the model
    deaf for one block (its cache then holds nothing of the old alignment) and it listens again from the
    next. The Follow control is a fader on what the model hears from now on: the
    partner's latents arriving from now are scaled by it (1: as trained; 0: not heard at all, as if no
    partner played); what was heard before keeps its level until it leaves the context (a few seconds), so
    streaming stays exactly the full-window computation (model/partner_track.py)."""

    def __init__(self, inner: TorchBlockGenerator, partner: torch.Tensor | PartnerSource, lookahead_s: float,
                 switchable: bool = False, delay_s: float | None = None) -> None:
        if not inner.dit.cfg.accomp_channels:
            raise ValueError(f"model {inner.name} has no accompaniment channels: it cannot hear a partner")
        if lookahead_s < 0:
            raise ValueError(f"lookahead_s must be >= 0, got {lookahead_s}")
        if delay_s is not None and delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {delay_s}")
        super().__init__(inner)
        self.inner: TorchBlockGenerator = inner
        self.source: PartnerSource = FramesSource(partner) if isinstance(partner, torch.Tensor) else partner
        self.switchable = switchable
        self.rate_hz = inner.codec.sample_rate / inner.codec.hop_frames  # latent frames per second
        self.lookahead_frames = int(math.ceil(lookahead_s * self.rate_hz))
        self.delay_s = delay_s  # fixed generative delay (`lmd jam --mode delay`); the studio's comes from controls

    # --- the BlockGenerator protocol: the rest is the inner generator's ---------------------------------
    @property
    def name(self) -> str:
        return self.inner.name if self.switchable else f"{self.inner.name} (jam)"

    @property
    def param_specs(self) -> tuple[ParamSpec, ...]:
        return self.inner.param_specs + ((FOLLOW, JAM, DELAY, DELAY_TIME) if self.switchable else (FOLLOW,))

    def generate_block(self, state: Any, controls: BlockControls) -> tuple[np.ndarray, Any]:
        return self.inner.generate_block(self.placed(state, controls), controls)

    # the torch model's other capabilities, which the studio looks for on the generator it plays
    def compute_info(self) -> ComputeInfo:
        return self.inner.compute_info()

    def set_adapter(self, path: str | Path | None, strength: float = 1.0) -> None:
        self.inner.set_adapter(path, strength)

    def placed(self, state: TorchGeneratorState, controls: BlockControls) -> TorchGeneratorState:
        """`state` with the partner as block `state.block_index` hears it under `controls`."""
        follow = controls.value(FOLLOW)
        switched_off = self.switchable and (controls.value(JAM) < 0.5 or controls.stream_position is None)
        if switched_off or follow <= 0.0:  # (no stream position: an offline render, with no live input)
            return self.deaf(state)
        shift, reach = self.alignment(controls)
        track = state.partner
        if track is not None and (track.shift_frames, track.reach_frames) != (shift, reach):
            return self.deaf(state, shift, reach)  # a new alignment: deaf for this block, listening from the next
        self.source.refresh(state.block_index, controls.stream_position)  # a live source takes in what arrived
        return self.heard_by(state, follow, shift, reach)

    def alignment(self, controls: BlockControls) -> tuple[int, int]:
        """(shift, reach) in latent frames: accompany (0, 0); generative delay (d, the block's length)."""
        delay_s = self.delay_s
        if self.switchable:
            delay_s = controls.value(DELAY_TIME) if controls.value(DELAY) >= 0.5 else None
        if delay_s is None:
            return 0, 0
        return int(round(delay_s * self.rate_hz)), self.inner.dit.cfg.block_frames

    def deaf(self, state: TorchGeneratorState, shift_frames: int = 0, reach_frames: int = 0
             ) -> TorchGeneratorState:
        """`state` hearing nothing from this block on, exactly as if the partner had never played: an empty
        track from frame 0 (cut-off 0), so cached chunks that heard the partner count as stale and are
        re-encoded without it (model/partner_track.stale_chunks). The empty track carries the alignment
        the next blocks will listen with."""
        track = state.partner
        if track is None or (track.start_frame == 0 and not len(track.latents)
                             and (track.shift_frames, track.reach_frames) == (shift_frames, reach_frames)):
            return state
        empty = PartnerTrack.empty(self.inner.dit.cfg.latent_channels, 0, reach_frames, shift_frames)
        return replace(state, partner=empty)

    @property
    def jam_trained(self) -> bool:
        return self.inner.jam_trained

    @property
    def delay_trained(self) -> bool:
        return self.inner.delay_trained

    def attach_input(self, stream_input: StreamInput | None, device_rate_hz: int) -> None:
        """The studio's input, for a live source (core/generator.HearsInput); a recording ignores it."""
        if isinstance(self.source, StreamInputSource):
            self.source.attach(stream_input, device_rate_hz)

    # --- the partner ----------------------------------------------------------------------------------
    def heard_frames(self, block_index: int, shift_frames: int = 0) -> int:
        """Partner frames delivered when block `block_index` is generated (a live input is late), on the
        stream's frame count; a partner delayed by `shift_frames` is that much further along."""
        o = self.inner.dit.cfg.block_frames
        return max(0, min(self.source.available_frames(), block_index * o - self.lookahead_frames) + shift_frames)

    def heard_by(self, state: TorchGeneratorState, follow: float = 1.0, shift_frames: int | None = None,
                 reach_frames: int | None = None) -> TorchGeneratorState:
        """`state` with the partner heard up to what block `state.block_index` may know; what it hears now
        comes in at `follow` (a fader on the model's input: frames heard earlier keep theirs, so what the
        cache holds stays exactly what a full window would compute). The alignment is the state's track's
        (`placed` settles it), else the one given, else accompany."""
        track = state.partner
        shift = track.shift_frames if track is not None else (shift_frames or 0)
        reach = track.reach_frames if track is not None else (reach_frames or 0)
        first = self.source.first_frame + shift
        if track is not None and track.end_frame < first:
            state = replace(state, partner=None)  # the source started over past what this state heard
        done = first if state.partner is None else state.partner.end_frame
        upto = self.heard_frames(state.block_index, shift)
        if upto <= done:
            return state
        latents = self.source.latents(done - shift, upto - shift)
        return self.inner.hear_partner(state, latents if follow == 1.0 else latents * follow, start_frame=done,
                                       reach_frames=reach, shift_frames=shift)


def studio_jam(generator: TorchBlockGenerator) -> JamGenerator:
    """The studio's form of a model that can hear a partner: the Jam switch and Follow control, and the
    live input as the partner (attached per engine by the composition, app/engine_parts.build_engine)."""
    source = StreamInputSource(generator.partner_encoder, generator.block_frames)
    return JamGenerator(generator, source, lookahead_s=0.0, switchable=True)
