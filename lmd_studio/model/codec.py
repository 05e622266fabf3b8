"""SpectralCodec: the LatentCodec the diffusion model works in (44.1 kHz, 21.5 latent frames/s × 32).

    codec = load_codec("models/default/codec.safetensors")
    z = codec.encode(audio)                          # [B, C, N] → [B, N // 2048, 32], standardised
    state = codec.init_decode_state()
    audio, state = codec.decode_block(z[:, :16], state)   # streaming; `state` is never modified

Decoding = causal decoder network (magnitudes) + streaming phase reconstruction (dsp/phase.py). The
inference decoder runs in float64: it costs ~3 ms per second of audio and makes block-by-block decoding
match whole-sequence decoding to ~1e-9 (float32 rounding differences between differently-shaped
convolutions could otherwise flip a peak decision in the phase recursion). Tolerance stated in the tests:
max |streamed − offline| ≤ 1e-5.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lmd_studio.dsp.phase import PhaseConfig, PhaseState, StreamingPhaseReconstructor
from lmd_studio.model.checkpoint import (
    CheckpointError,
    float16_hint,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
)
from lmd_studio.model.codec2 import CODEC2_FORMAT, Codec2, load_codec2
from lmd_studio.model.codec_api import CodecShapeFromConfig
from lmd_studio.model.codec_net import CodecConfig, CodecNet, frames_to_magnitudes, log_magnitude_frames

CODEC_FORMAT = "lmd-codec"
CODEC_FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class CodecDecodeState:
    """Decoder look-back per block and phase state per (batch, channel). Treated as immutable."""

    conv_past: tuple[torch.Tensor, ...] | None
    phase: tuple[tuple[PhaseState, ...], ...]  # [B][C]
    latent_frames_done: int = 0


class SpectralCodec(CodecShapeFromConfig):
    """Implements lmd_studio.model.codec_api.LatentCodec."""

    def __init__(self, net: CodecNet) -> None:
        self.net = net.eval()
        self.cfg = net.cfg
        self._dec64: CodecNet | None = None
        self.phase = StreamingPhaseReconstructor(PhaseConfig(stft=self.cfg.stft,
                                                             frames_per_chunk=self.cfg.frames_per_latent,
                                                             gl_iters=self.cfg.gl_iters,
                                                             momentum=self.cfg.gl_momentum))

    # --- encode -------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """[B, C, N] float audio → standardised latents [B, N // hop_frames, latent_channels] (float32)."""
        if audio.ndim != 3:
            raise ValueError(f"encode expects [B, C, N] audio, got shape {list(audio.shape)}")
        frames = log_magnitude_frames(audio.to(torch.float32), self.cfg)
        return self.net.normalise(self.net.encode_frames(frames))

    # --- decode -------------------------------------------------------------------------------------------
    def _decoder64(self) -> CodecNet:
        if self._dec64 is None:
            self._dec64 = copy.deepcopy(self.net).to(torch.float64).eval()
        return self._dec64

    def refresh(self) -> None:
        """Call after changing `net`'s weights (training) so inference uses them."""
        self._dec64 = None

    def init_decode_state(self, batch: int = 1) -> CodecDecodeState:
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        ph = self.phase.init_state()
        return CodecDecodeState(None, tuple(tuple(ph for _ in range(self.cfg.audio_channels)) for _ in range(batch)))

    @torch.inference_mode()
    def magnitudes(self, latents: torch.Tensor, past=None) -> tuple[torch.Tensor, tuple]:
        """Standardised latents [B, t, L] → linear magnitudes [B, C, t * F, K] (float64) and next look-back."""
        net = self._decoder64()
        z = net.denormalise(latents.to(torch.float64))
        frames, past = net.decode_frames(z, past)
        return frames_to_magnitudes(frames, self.cfg), past

    def decode_block(self, latents: torch.Tensor, state: CodecDecodeState) -> tuple[torch.Tensor, CodecDecodeState]:
        """Next [B, t, L] latents → ([B, C, t * hop_frames] float32 audio, next state). `state` is untouched."""
        if latents.ndim != 3 or latents.shape[2] != self.cfg.latent_channels:
            raise ValueError(f"expected latents [B, t, {self.cfg.latent_channels}], got {list(latents.shape)}")
        b, t, _ = latents.shape
        if b != len(state.phase):
            raise ValueError(f"state is for batch {len(state.phase)}, latents have batch {b}")
        mags, past = self.magnitudes(latents, state.conv_past)
        mags_np = mags.numpy()
        out = np.zeros((b, self.cfg.audio_channels, t * self.cfg.hop_frames), dtype=np.float32)
        phase_states = []
        for i in range(b):
            row = []
            for c in range(self.cfg.audio_channels):
                audio, ph = self.phase.process(mags_np[i, c], state.phase[i][c])
                out[i, c] = audio
                row.append(ph)
            phase_states.append(tuple(row))
        nxt = CodecDecodeState(past, tuple(phase_states), state.latent_frames_done + t)
        return torch.from_numpy(out), nxt

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Offline: [B, T, L] → [B, C, T * hop_frames] (the streaming recursion over the whole sequence)."""
        audio, _ = self.decode_block(latents, self.init_decode_state(latents.shape[0]))
        return audio

    def oracle_decode(self, audio: torch.Tensor) -> torch.Tensor:
        """True STFT magnitudes → the same phase reconstruction: what the codec would give with a perfect
        autoencoder. [B, C, N] → [B, C, (N // hop) * hop]."""
        frames = log_magnitude_frames(audio.to(torch.float64), self.cfg)
        mags = frames_to_magnitudes(frames, self.cfg).numpy()
        out = [[self.phase.reconstruct(mags[i, c]) for c in range(mags.shape[1])] for i in range(mags.shape[0])]
        return torch.from_numpy(np.asarray(out, dtype=np.float32))


def save_codec(path: str | Path, codec_or_net: SpectralCodec | CodecNet, extra: dict[str, str] | None = None) -> Path:
    net = codec_or_net.net if isinstance(codec_or_net, SpectralCodec) else codec_or_net
    tensors = {k: v.detach().to(torch.float32) for k, v in net.state_dict().items()}
    return save_checkpoint(path, tensors, fmt=CODEC_FORMAT, format_version=CODEC_FORMAT_VERSION,
                           config=net.cfg.to_dict(), extra=extra)


def load_codec(path: str | Path) -> SpectralCodec | Codec2:
    """Load a codec file of either kind, dispatching on its format: 'lmd-codec' → SpectralCodec,
    'lmd-codec2' → Codec2 (model/codec2.py). A missing, truncated or foreign file, an unknown format or
    version, a bad config or mismatched / non-finite tensors raise CheckpointError naming the file."""
    found = read_metadata(path).get("format")
    if found == CODEC2_FORMAT:
        return load_codec2(path)
    if found != CODEC_FORMAT:
        raise CheckpointError(f"{path}: expected a '{CODEC_FORMAT}' or '{CODEC2_FORMAT}' model file, "
                              f"found format {found!r}")
    return load_spectral_codec(path)


def load_spectral_codec(path: str | Path) -> SpectralCodec:
    """Load a v1 ('lmd-codec') file."""
    tensors, config, _ = load_checkpoint(path, fmt=CODEC_FORMAT, supported_versions=(CODEC_FORMAT_VERSION,))
    try:
        cfg = CodecConfig.from_dict(config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid codec config ({exc})") from None
    net = CodecNet(cfg)
    expected = net.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{path}: tensors do not match the codec config (missing {missing[:4]}, "
                              f"unexpected {unexpected[:4]})")
    for k, v in tensors.items():
        if v.shape != expected[k].shape:
            raise CheckpointError(f"{path}: tensor {k} has shape {list(v.shape)}, config needs {list(expected[k].shape)}")
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise CheckpointError(f"{path}: tensor {k} contains NaN or inf{float16_hint(v)} (a damaged file "
                                  f"or a diverged training run); re-export the codec")
    net.load_state_dict(tensors)
    return SpectralCodec(net)
