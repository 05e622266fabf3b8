"""Streaming inverse STFT in torch: complex frames → audio by windowed overlap-add, with the tail carried.

The framing is dsp/stft.py's: frame `m` covers samples `[m * hop, m * hop + n_fft)`. Each call takes the next
`M` frames and returns the `M * hop` samples that are now complete, plus the `n_fft - hop` window-weighted
sums that later frames still add to (the tail). Adding the tail back on the next call is exact, so decoding
a sequence in pieces gives the same samples as one call over the whole sequence (up to float rounding).

Normalisation: a Hann synthesis window on Hann-analysed frames sums to `ola_gain` (1.5 at 75 % overlap)
in steady state. The first `n_fft - hop` samples of a stream are covered by fewer frames; they are divided
by the partial sum of squared windows there, floored at `start_floor` so the very first samples (where the
window is ~0) fade in instead of being amplified. `roundtrip` applies the same synthesis to a signal's own
STFT: the output a perfect decoder would produce, hence the training target.
"""

from __future__ import annotations

import numpy as np
import torch

from lmd_studio.dsp.stft import StftConfig, hann_window, ola_gain, pad_for_latents_torch, stft_torch


class StreamingIstft:
    def __init__(self, cfg: StftConfig, start_floor: float = 0.1) -> None:
        if not 0.0 < start_floor <= ola_gain(cfg):
            raise ValueError(f"start_floor must be in (0, {ola_gain(cfg)}], got {start_floor}")
        self.cfg = cfg
        w = np.array(hann_window(cfg.n_fft))
        self.window = torch.tensor(w, dtype=torch.float64)  # [n_fft], cast to the input dtype
        self.gain = ola_gain(cfg)
        tail = cfg.tail_frames
        env = np.zeros(tail + cfg.n_fft)
        for m in range(cfg.overlap):  # frames starting at 0, hop, 2·hop, ... cover the first `tail` samples
            env[m * cfg.hop_frames: m * cfg.hop_frames + cfg.n_fft] += w ** 2
        self.start_env = torch.tensor(np.maximum(env[:tail], start_floor), dtype=torch.float64)  # [tail]

    @property
    def tail_frames(self) -> int:
        return self.cfg.tail_frames

    def init_tail(self, rows: int, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
                  ) -> torch.Tensor:
        return torch.zeros(rows, self.cfg.tail_frames, dtype=dtype, device=device)

    def frames_to_audio(self, spec: torch.Tensor, tail: torch.Tensor, at_start: bool
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        """spec [R, M, K] complex, tail [R, n_fft - hop] → (audio [R, M * hop], next tail [R, n_fft - hop]).

        `at_start`: these are the stream's first frames (partial-overlap normalisation). Inputs are not
        modified."""
        cfg = self.cfg
        r, m, _ = spec.shape
        hop, over = cfg.hop_frames, cfg.overlap
        if at_start and m * hop < cfg.tail_frames:
            raise ValueError(f"the first call of a stream needs at least {cfg.overlap - 1} frames, got {m}")
        frames = torch.fft.irfft(spec, n=cfg.n_fft, dim=-1)  # [R, M, n_fft]
        frames = frames * self.window.to(device=frames.device, dtype=frames.dtype)
        parts = frames.reshape(r, m, over, hop)  # [R, M, overlap, hop]: the hop-sized pieces of each frame
        acc = frames.new_zeros(r, m + over - 1, hop)  # [R, M + overlap - 1, hop]
        for c in range(over):
            acc = acc + nn_pad_rows(parts[:, :, c], c, over - 1 - c)
        flat = acc.reshape(r, (m + over - 1) * hop)  # [R, M*hop + tail]
        n_tail = cfg.tail_frames
        head = torch.cat([flat[:, :n_tail] + tail.to(device=flat.device, dtype=flat.dtype), flat[:, n_tail:]], dim=1)
        out, nxt = head[:, : m * hop], head[:, m * hop:]
        if at_start:
            env = self.start_env.to(device=out.device, dtype=out.dtype)
            out = torch.cat([out[:, :n_tail] / env, out[:, n_tail:] / self.gain], dim=1)
        else:
            out = out / self.gain
        return out, nxt

    def roundtrip(self, audio: torch.Tensor, latent_hop_frames: int) -> torch.Tensor:
        """[R, N] → the analysis-synthesis of its first N // latent_hop · latent_hop samples (same framing
        as the codec): equal to the input except for the stream-start fade-in."""
        x = pad_for_latents_torch(audio, latent_hop_frames, self.cfg)  # [R, L + tail]
        spec = stft_torch(x, self.cfg)  # [R, M, K]
        out, _ = self.frames_to_audio(spec, self.init_tail(audio.shape[0], audio.dtype, audio.device), at_start=True)
        return out


def nn_pad_rows(x: torch.Tensor, before: int, after: int) -> torch.Tensor:
    """[R, M, hop] → [R, before + M + after, hop] with zero rows (time shifts for the overlap-add)."""
    return torch.nn.functional.pad(x, (0, 0, before, after))
