"""Flow-matching objectives of stage 0 (full windows) and stage 1 (LMDM: clean routed context, loss on the
target frames only), plus the conditioning dropout both use.

Conventions are those of model/samplers.py: `x_t = (1-t)·x0 + t·ε`, the network predicts `v = ε - x0`.
All randomness comes from the `torch.Generator` the caller passes (seeded by step and rank), so a resumed
run draws the same noise as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lmd_studio.model.dit import DiT
from lmd_studio.model.dit_config import DiTConfig
from lmd_studio.model.masks import drop_keys, window_mask
from lmd_studio.model.samplers import flow_interpolate, flow_velocity_target, sample_train_times
from lmd_studio.training.batches import WindowBatch
from lmd_studio.training.controls import draw_given, masked_controls
from lmd_studio.training.text_bank import TextBank


@dataclass(frozen=True, slots=True)
class CondDropout:
    p_text_drop: float = 0.1
    p_control_given: float = 0.5
    p_control_hold: float = 0.5
    p_clock_drop: float = 0.2  # hide a known clock: the model must also play well when told nothing
    p_control_key: float = 0.0  # a given pitch control carries the window's key profile, not its chords
    key_from_label: bool = False  # ... the knob's profile of the item's labelled key, where it has one


def frame_cond(cfg: DiTConfig, controls: torch.Tensor | None, clock: torch.Tensor | None = None,
               accomp: torch.Tensor | None = None) -> torch.Tensor | None:
    """Control channels [B, T, 19] (or None) → the network's frame conditioning [B, T, F]; `accomp`
    [B, T, C + 1] is the partner input (training/partner.py), zeros when None (no partner heard)."""
    if cfg.frame_cond_channels == 0:
        return None
    if controls is None:
        raise ValueError("this network takes control channels; pass them (zeros = let the model decide)")
    b, t, _ = controls.shape
    parts = [controls] if cfg.control_channels else []
    if cfg.accomp_channels:
        parts.append(torch.zeros(b, t, cfg.accomp_channels, dtype=controls.dtype, device=controls.device)
                     if accomp is None else accomp.to(device=controls.device, dtype=controls.dtype))
    if cfg.clock_channels:
        parts.append(torch.zeros(b, t, cfg.clock_channels, dtype=controls.dtype, device=controls.device)
                     if clock is None else clock.to(device=controls.device, dtype=controls.dtype))
    return torch.cat(parts, dim=-1)


def batch_conditions(dit: DiT, batch: WindowBatch, bank: TextBank, drop: CondDropout,
                     gen: torch.Generator, device: torch.device):
    """(TextKV with CFG dropout, frame conditioning with random given/held controls) for a batch."""
    b = batch.latents.shape[0]
    text_null = torch.rand(b, generator=gen) < drop.p_text_drop
    text = dit.encode_text(bank.condition(batch.text_ids, text_null))
    given = draw_given(b, drop.p_control_given, gen)
    hold = torch.rand(b, generator=gen) < drop.p_control_hold
    key = None
    if drop.p_control_key > 0:  # drawn only when asked for, so older recipes keep their random stream
        key = (torch.rand(b, generator=gen) < drop.p_control_key) & (given[:, 3] > 0)
    profiles = batch.key_profile if drop.key_from_label else None
    controls = masked_controls(batch.controls, given, dit.cfg.block_frames, hold, key, profiles).to(device)
    clock = None
    if dit.cfg.clock_channels and batch.clock is not None:
        keep = (torch.rand(b, generator=gen) >= drop.p_clock_drop).to(batch.clock.dtype)  # [B]
        clock = batch.clock * keep[:, None, None]
    return text, frame_cond(dit.cfg, controls, clock, batch.accomp)


def base_flow_loss(dit: DiT, batch: WindowBatch, bank: TextBank, drop: CondDropout, gen: torch.Generator,
                   device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
    """Stage 0: every frame noisy, bidirectional attention, MSE on every frame."""
    x0 = batch.latents.to(device)
    b = x0.shape[0]
    t = sample_train_times(b, gen).to(device)
    eps = torch.randn(x0.shape, generator=gen).to(device)
    text, fc = batch_conditions(dit, batch, bank, drop, gen, device)
    v = dit(flow_interpolate(x0, eps, t), t, text, frame_cond=fc)
    loss = F.mse_loss(v.float(), flow_velocity_target(x0, eps))
    return loss, {"loss": loss.item()}


def context_dropout(b: int, cfg: DiTConfig, p_full: float, p_partial: float, p_extra_full: float,
                    gen: torch.Generator) -> torch.Tensor:
    """Which context frames are hidden [B, s]: whole context (`p_full`, plus an independent `p_extra_full`,
    the context stream's CFG dropout) or the oldest 1..W-1 chunks (`p_partial`)."""
    s, o = cfg.context_frames, cfg.block_frames
    chunks = s // o
    u = torch.rand(b, generator=gen)
    extra = torch.rand(b, generator=gen) < p_extra_full
    k = torch.randint(1, max(chunks, 2), (b,), generator=gen)  # oldest chunks dropped in the partial case
    n_drop = torch.where(u < p_full, torch.full_like(k, chunks), torch.where(u < p_full + p_partial, k, 0))
    n_drop = torch.where(extra, torch.full_like(k, chunks), n_drop) * o  # frames
    return torch.arange(s)[None] < n_drop[:, None]


def lmdm_window_mask(cfg: DiTConfig, pattern: str, hidden_context: torch.Tensor) -> torch.Tensor:
    """[B, T+1, T+1]: the inference pattern for an `s + o` window with the hidden context frames removed."""
    b = hidden_context.shape[0]
    base = window_mask(pattern, cfg.context_frames, cfg.block_frames, cfg.window_chunks)
    dropped = torch.cat([hidden_context, torch.zeros(b, cfg.block_frames + 1, dtype=torch.bool)], dim=1)
    return drop_keys(base, dropped)


def lmdm_flow_loss(dit: DiT, batch: WindowBatch, bank: TextBank, drop: CondDropout, gen: torch.Generator,
                   device: torch.device, *, p_full: float, p_partial: float, p_extra_full: float = 0.0
                   ) -> tuple[torch.Tensor, dict[str, float]]:
    """Stage 1: clean context through the routing input, noisy target, MSE on the target frames only."""
    cfg = dit.cfg
    s = cfg.context_frames
    x0 = batch.latents.to(device)
    b, n, _ = x0.shape
    if n != cfg.window_frames:
        raise ValueError(f"LMDM windows must be s + o = {cfg.window_frames} frames, got {n}")
    target = x0[:, s:]
    t = sample_train_times(b, gen).to(device)
    eps = torch.randn(target.shape, generator=gen).to(device)
    hidden = context_dropout(b, cfg, p_full, p_partial, p_extra_full, gen)
    text, fc = batch_conditions(dit, batch, bank, drop, gen, device)
    zeros_c, zeros_t = torch.zeros_like(x0[:, :s]), torch.zeros_like(target)
    x_noisy = torch.cat([zeros_c, flow_interpolate(target, eps, t)], dim=1)  # [B, T, C]
    x_clean = torch.cat([x0[:, :s] * (~hidden).to(x0)[..., None], zeros_t], dim=1)
    is_context = torch.arange(n, device=device) < s
    mask = lmdm_window_mask(cfg, cfg.pattern, hidden).to(device)
    v = dit(x_noisy, t, text, x_clean=x_clean, is_context=is_context, frame_cond=fc, mask=mask)
    loss = F.mse_loss(v[:, s:].float(), flow_velocity_target(target, eps))
    return loss, {"loss": loss.item(), "context_dropped": float(hidden.float().mean())}
