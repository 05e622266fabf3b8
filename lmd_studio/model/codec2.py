"""Codec2: the v2 LatentCodec — same latents (44.1 kHz, 21.5 latent frames/s × 32), a learned phase.

    codec = load_codec("RUN/codec.safetensors")       # model/codec.py's loader dispatches on the format
    z = codec.encode(audio)                            # [B, C, N] → [B, N // 2048, 32], standardised
    state = codec.init_decode_state()
    audio, state = codec.decode_block(z[:, :16], state)   # streaming; `state` is never modified

Decoding = causal ConvNeXt decoder (model/codec2_net.py) predicting log-magnitude and phase of every STFT
frame → streaming inverse STFT (dsp/istft_stream.py). All in float32: the decoder is causal with explicit
per-block state and the overlap-add tail is carried exactly, so block-by-block decoding equals
whole-sequence decoding up to float rounding (stated tolerance, tested: max |streamed − offline| ≤ 1e-5).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from lmd_studio.dsp.istft_stream import StreamingIstft
from lmd_studio.model.checkpoint import CheckpointError, float16_hint, load_checkpoint, save_checkpoint
from lmd_studio.model.codec2_net import Codec2Config, Codec2Net, analyse, to_complex
from lmd_studio.model.codec_api import CodecShapeFromConfig

CODEC2_FORMAT = "lmd-codec2"
CODEC2_FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Codec2DecodeState:
    """Decoder look-back per block and the overlap-add tail per (batch, channel). Treated as immutable."""

    conv_past: tuple[torch.Tensor, ...] | None  # per decoder block [B, kernel - 1, D]
    ola_tail: torch.Tensor  # [B, C, n_fft - hop]
    latent_frames_done: int = 0


class Codec2(CodecShapeFromConfig):
    """Implements lmd_studio.model.codec_api.LatentCodec."""

    def __init__(self, net: Codec2Net) -> None:
        self.net = net.eval()
        self.cfg = net.cfg
        self.istft = StreamingIstft(self.cfg.stft)

    # --- encode -------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """[B, C, N] float audio → standardised latents [B, N // hop_frames, latent_channels] (float32)."""
        if audio.ndim != 3:
            raise ValueError(f"encode expects [B, C, N] audio, got shape {list(audio.shape)}")
        _, frames = analyse(audio.to(torch.float32), self.cfg)
        return self.net.normalise(self.net.encode_frames(frames))

    # --- decode -------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Nothing is derived from the weights; kept for symmetry with SpectralCodec."""

    def init_decode_state(self, batch: int = 1) -> Codec2DecodeState:
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        return Codec2DecodeState(None, torch.zeros(batch, self.cfg.audio_channels, self.cfg.stft.tail_frames))

    @torch.inference_mode()
    def magnitudes(self, latents: torch.Tensor, past=None) -> tuple[torch.Tensor, tuple]:
        """Standardised latents [B, t, L] → the decoder's linear magnitudes [B, C, t * F, K] and next look-back
        (before the inverse STFT: the magnitude-only path of the evaluation)."""
        log_mag, _, past = self.net.decode_spectra(self.net.denormalise(latents.to(torch.float32)), past)
        return torch.exp(log_mag), past

    def decode_block(self, latents: torch.Tensor, state: Codec2DecodeState
                     ) -> tuple[torch.Tensor, Codec2DecodeState]:
        """Next [B, t, L] latents → ([B, C, t * hop_frames] float32 audio, next state). `state` is untouched."""
        cfg = self.cfg
        if latents.ndim != 3 or latents.shape[2] != cfg.latent_channels:
            raise ValueError(f"expected latents [B, t, {cfg.latent_channels}], got {list(latents.shape)}")
        b, t, _ = latents.shape
        if b != state.ola_tail.shape[0]:
            raise ValueError(f"state is for batch {state.ola_tail.shape[0]}, latents have batch {b}")
        if t == 0:
            return latents.new_zeros(b, cfg.audio_channels, 0), state
        with torch.inference_mode():
            z = self.net.denormalise(latents.to(torch.float32))
            log_mag, phase, past = self.net.decode_spectra(z, state.conv_past)
            spec = to_complex(log_mag, phase)  # [B, C, t*F, K]
            rows = b * cfg.audio_channels
            audio, tail = self.istft.frames_to_audio(spec.reshape(rows, t * cfg.frames_per_latent, cfg.n_bins),
                                                     state.ola_tail.reshape(rows, -1),
                                                     at_start=state.latent_frames_done == 0)
        nxt = Codec2DecodeState(past, tail.reshape(b, cfg.audio_channels, -1), state.latent_frames_done + t)
        return audio.reshape(b, cfg.audio_channels, t * cfg.hop_frames), nxt  # [B, C, t*hop]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Offline: [B, T, L] → [B, C, T * hop_frames] (the same computation as streaming, in one call)."""
        audio, _ = self.decode_block(latents, self.init_decode_state(latents.shape[0]))
        return audio


def save_codec2(path: str | Path, codec_or_net: Codec2 | Codec2Net, extra: dict[str, str] | None = None) -> Path:
    net = codec_or_net.net if isinstance(codec_or_net, Codec2) else codec_or_net
    tensors = {k: v.detach().to(torch.float32) for k, v in net.state_dict().items()}
    return save_checkpoint(path, tensors, fmt=CODEC2_FORMAT, format_version=CODEC2_FORMAT_VERSION,
                           config=net.cfg.to_dict(), extra=extra)


def load_codec2(path: str | Path) -> Codec2:
    """Load a codec2 file; wrong format, version, config or tensors, or non-finite weights, raise
    CheckpointError naming the file."""
    tensors, config, _ = load_checkpoint(path, fmt=CODEC2_FORMAT, supported_versions=(CODEC2_FORMAT_VERSION,))
    try:
        cfg = Codec2Config.from_dict(config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid codec2 config ({exc})") from None
    net = Codec2Net(cfg)
    expected = net.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{path}: tensors do not match the codec2 config (missing {missing[:4]}, "
                              f"unexpected {unexpected[:4]})")
    for k, v in tensors.items():
        if v.shape != expected[k].shape:
            raise CheckpointError(f"{path}: tensor {k} has shape {list(v.shape)}, config needs {list(expected[k].shape)}")
        if not torch.isfinite(v).all():
            raise CheckpointError(f"{path}: tensor {k} contains NaN or inf{float16_hint(v)}")
    net.load_state_dict(tensors)
    return Codec2(net)
