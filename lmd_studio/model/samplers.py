"""Rectified-flow samplers as plain functions, the logSNR schedule, and the flow-matching helpers training uses.

Conventions (METHOD.md §2.6): `x_t = (1 - t)·x0 + t·ε`, the network predicts `v = ε - x0`, so
`x0 = x_t - t·v` and `ε = x_t + (1 - t)·v`. Sampling runs t from 1 (noise) to 0 (data).

A denoiser is any callable `denoise(x, t) -> (v_cond, v_uncond | None)`; the samplers combine the two with
classifier-free guidance `v = v_u + g·(v_c - v_u)` when the unconditional one is given. A `callback(step,
t, x, x0_hat)` sees every step (for progress, visualisation or tests).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

Denoiser = Callable[[torch.Tensor, float], tuple[torch.Tensor, torch.Tensor | None]]
Callback = Callable[[int, float, torch.Tensor, torch.Tensor], None]
SamplerName = Literal["euler", "pingpong", "pingpong++"]
SAMPLERS: tuple[str, ...] = ("euler", "pingpong", "pingpong++")

LOGSNR_MIN = -6.0
LOGSNR_MAX = 2.0


def logsnr_schedule(steps: int, logsnr_min: float = LOGSNR_MIN, logsnr_max: float = LOGSNR_MAX) -> list[float]:
    """K+1 times from 1 to 0: logSNR evenly spaced in [min, max], t = sigmoid(-logSNR), ends forced to 1, 0."""
    if steps < 1:
        raise ValueError(f"a schedule needs at least 1 step, got {steps}")
    ts = [1.0 / (1.0 + math.exp(logsnr_min + (logsnr_max - logsnr_min) * i / steps)) for i in range(steps + 1)]
    ts[0], ts[-1] = 1.0, 0.0
    return ts


def _guided(v_c: torch.Tensor, v_u: torch.Tensor | None, guidance: float) -> torch.Tensor:
    return v_c if v_u is None else v_u + guidance * (v_c - v_u)


def sample_euler(denoise: Denoiser, x: torch.Tensor, ts: list[float], *, guidance: float = 1.0,
                 callback: Callback | None = None) -> torch.Tensor:
    """Deterministic Euler integration of dx/dt = v (the sampler before post-training)."""
    for i in range(len(ts) - 1):
        t, t_next = ts[i], ts[i + 1]
        v_c, v_u = denoise(x, t)
        v = _guided(v_c, v_u, guidance)
        if callback is not None:
            callback(i, t, x, x - t * v)
        x = x + (t_next - t) * v
    return x


def sample_ping_pong(denoise: Denoiser, x: torch.Tensor, ts: list[float], *, guidance: float = 1.0,
                     generator: torch.Generator | None = None, callback: Callback | None = None) -> torch.Tensor:
    """Ping-pong: predict x̂0, then re-noise it with fresh noise to the next level (the ARC-Forcing sampler)."""
    for i in range(len(ts) - 1):
        t, t_next = ts[i], ts[i + 1]
        v_c, v_u = denoise(x, t)
        x0 = x - t * _guided(v_c, v_u, guidance)
        if callback is not None:
            callback(i, t, x, x0)
        if t_next > 0.0:
            eps = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            x = (1.0 - t_next) * x0 + t_next * eps
        else:
            x = x0
    return x


def sample_ping_pong_pp(denoise: Denoiser, x: torch.Tensor, ts: list[float], *, guidance: float = 1.0,
                        generator: torch.Generator | None = None, carry: float = 0.5,
                        callback: Callback | None = None) -> torch.Tensor:
    """Ping-pong++: CFG++ inside ping-pong (our reading of the paper's sampler).

    CFG++ estimates x̂0 with the guided velocity but re-noises along the *unconditional* noise estimate
    ε̂_u = x + (1 - t)·v_u, which keeps the sample on the data manifold and makes prompt changes glide.
    Ping-pong re-noises with fresh noise; we blend the two: `ε' = carry·ε̂_u/rms + √(1-carry²)·ε_fresh`.
    `carry = 0` is ping-pong with CFG, `carry = 1` is deterministic CFG++. Without an unconditional
    prediction (guidance 1) ε̂_u is the conditional one.
    """
    if not 0.0 <= carry <= 1.0:
        raise ValueError(f"carry must be in [0, 1], got {carry}")
    for i in range(len(ts) - 1):
        t, t_next = ts[i], ts[i + 1]
        v_c, v_u = denoise(x, t)
        x0 = x - t * _guided(v_c, v_u, guidance)
        if callback is not None:
            callback(i, t, x, x0)
        if t_next > 0.0:
            eps_u = x + (1.0 - t) * (v_c if v_u is None else v_u)
            eps_u = eps_u / eps_u.pow(2).mean().sqrt().clamp_min(1e-6)
            fresh = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            eps = carry * eps_u + math.sqrt(1.0 - carry * carry) * fresh
            x = (1.0 - t_next) * x0 + t_next * eps
        else:
            x = x0
    return x


@dataclass(frozen=True, slots=True)
class SamplerSpec:
    """What a block is sampled with: the sampler, steps K, CFG guidance and temperature (initial noise scale)."""

    name: SamplerName = "pingpong"
    steps: int = 4
    guidance: float = 1.0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.name!r}; choose one of {SAMPLERS}")
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.guidance < 0 or self.temperature <= 0:
            raise ValueError(f"need guidance >= 0 and temperature > 0, got {self.guidance}, {self.temperature}")

    @property
    def uses_cfg(self) -> bool:
        """Guidance 1 is the conditional model alone: no unconditional pass is needed."""
        return self.guidance != 1.0

    def run(self, denoise: Denoiser, shape: tuple[int, ...], generator: torch.Generator,
            callback: Callback | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
        x = self.temperature * torch.randn(shape, generator=generator, device=device)
        ts = logsnr_schedule(self.steps)
        if self.name == "euler":
            return sample_euler(denoise, x, ts, guidance=self.guidance, callback=callback)
        if self.name == "pingpong":
            return sample_ping_pong(denoise, x, ts, guidance=self.guidance, generator=generator, callback=callback)
        return sample_ping_pong_pp(denoise, x, ts, guidance=self.guidance, generator=generator, callback=callback)


# --- flow matching (training) ------------------------------------------------------------------------
def flow_interpolate(x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 - t)·x0 + t·ε with t [B] broadcast over the remaining dims."""
    t = t.reshape(-1, *([1] * (x0.dim() - 1)))
    return (1.0 - t) * x0 + t * eps


def flow_velocity_target(x0: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """The regression target v = ε - x0."""
    return eps - x0


def x0_from_velocity(x_t: torch.Tensor, t: torch.Tensor | float, v: torch.Tensor) -> torch.Tensor:
    if isinstance(t, torch.Tensor):
        t = t.reshape(-1, *([1] * (x_t.dim() - 1)))
    return x_t - t * v


def sample_train_times(batch: int, generator: torch.Generator | None = None, *,
                       logsnr_min: float = LOGSNR_MIN, logsnr_max: float = LOGSNR_MAX,
                       device: torch.device | str = "cpu") -> torch.Tensor:
    """Training timesteps [B]: logSNR uniform in [min, max] (the range the sampler's schedule spans)."""
    u = torch.rand(batch, generator=generator, device=device)
    return torch.sigmoid(-(logsnr_min + (logsnr_max - logsnr_min) * u))
