"""ARC-Forcing (METHOD.md §3, stage 2): self-rollouts, the discriminator and the relativistic losses.

- `rollout`: the generator writes B blocks after a real context. Per block it draws a step count k, runs
  the first k-1 ping-pong steps without gradient and the k-th with gradient; that step's x̂0 is the block,
  which is fed back as context *detached* and the window slides by one block. The windows use exactly the
  inference masks (model/masks.py), with hidden context frames removed as keys (context dropout).
- `Discriminator`: the stage-0 bidirectional network run for its first ~3/4 layers (`DiT.forward(n_layers=…,
  return_hidden=True)`) + a small 1-D ConvNeXt head that scores every 4th frame. The full-depth network is
  kept so the backbone can first be warmed up with the flow loss on long windows.
- losses (f = softplus), real and fake noised with the same (t, ε), scores on rollout frames only:
  D: f(D(fake) - D(real)) + w·f(D(real, wrong prompt) - D(real, right prompt));  G: f(D(real) - D(fake)).
- real/fake alignment under context dropout: the discriminator sees exactly the context the generator saw.
  Hidden context frames are removed as keys (as in the generator's window) and the head reads rollout frames
  only, so nothing about the hidden frames reaches a score. METHOD's "drop and shift right" does the same
  with zero-padding; our windows are random crops, so the shift itself changes nothing.
- optional stabilisers (ArcConfig flags, all off by default): a generator EMA (`ema_update`), a
  finite-difference R1/R2 penalty on D (`perturbation_penalty`), per-channel moment matching of the
  rollout against the real continuation (`moment_loss`).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from lmd_studio.model.attention import TextKV
from lmd_studio.model.dit import DiT
from lmd_studio.model.masks import bidirectional_mask, drop_keys
from lmd_studio.model.samplers import flow_interpolate, logsnr_schedule
from lmd_studio.training.flow import lmdm_window_mask

DOWNSAMPLE = 4  # discriminator scores at ¼ of the latent frame rate


class ConvNeXtBlock1d(nn.Module):
    """Depthwise conv (k=7) → LayerNorm → pointwise MLP (4×) → residual, over [B, C, T]."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.dw = nn.Conv1d(width, width, kernel_size=7, padding=3, groups=width)
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, 4 * width)
        self.fc2 = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dw(x).transpose(1, 2)  # [B, T, C]
        h = self.fc2(F.gelu(self.fc1(self.norm(h))))
        return x + h.transpose(1, 2)  # [B, C, T]


class Discriminator(nn.Module):
    def __init__(self, base: DiT, keep_fraction: float, width: int, blocks: int) -> None:
        super().__init__()
        if base.cfg.routing:
            raise ValueError("the discriminator backbone must be the stage-0 (bidirectional) model")
        self.backbone = copy.deepcopy(base).train()
        self.trunk_layers = max(1, min(base.cfg.n_layers, round(keep_fraction * base.cfg.n_layers)))
        self.down = nn.Conv1d(base.cfg.d_model, width, kernel_size=DOWNSAMPLE, stride=DOWNSAMPLE)
        self.head = nn.Sequential(*(ConvNeXtBlock1d(width) for _ in range(blocks)))
        self.out = nn.Linear(width, 1)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, text: TextKV, frame_cond: torch.Tensor | None,
                hidden: torch.Tensor | None = None, score_from: int = 0) -> torch.Tensor:
        """Noisy sequences [B, T, C] → scores [B, (T - score_from)/4] of frames `score_from..T-1`.

        `hidden` [B, h ≤ T]: leading frames removed as keys (context the generator did not see). The head
        reads only the scored frames, so unscored frames reach a score through attention alone.
        """
        b, n, _ = x_t.shape
        mask = None
        if hidden is not None and bool(hidden.any()):
            dropped = torch.cat([hidden.to(x_t.device), torch.zeros(b, n + 1 - hidden.shape[1], dtype=torch.bool,
                                                                    device=x_t.device)], dim=1)  # [B, T+1]
            mask = drop_keys(bidirectional_mask(n).to(x_t.device), dropped)  # [B, T+1, T+1]
        h = self.backbone(x_t, t, text, frame_cond=frame_cond, mask=mask, n_layers=self.trunk_layers,
                          return_hidden=True)
        h = self.head(self.down(h[:, score_from:].float().transpose(1, 2)))  # [B, W, (T - score_from)/4]
        return self.out(h.transpose(1, 2)).squeeze(-1)  # [B, (T - score_from)/4]


class ArcPair(nn.Module):
    """Generator + discriminator (+ the generator's EMA, when on) in one module, so the shared loop
    checkpoints them together."""

    def __init__(self, gen: DiT, disc: Discriminator, ema: DiT | None = None) -> None:
        super().__init__()
        self.gen = gen
        self.disc = disc
        self.ema = ema
        if ema is not None:
            ema.requires_grad_(False)

    @property
    def shipped(self) -> DiT:
        """The generator that is evaluated and exported: the EMA when there is one."""
        return self.ema if self.ema is not None else self.gen


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema ← decay·ema + (1-decay)·model. Adversarial gradients are noisy; the average of the last ~1/(1-decay)
    generator states is a better model than any single one of them (the reference code ships an EMA, 0.99)."""
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p.detach().to(e.dtype), 1.0 - decay)
    for e, p in zip(ema.buffers(), model.buffers(), strict=True):
        e.copy_(p)


class OptimizerPair:
    """Two AdamW optimizers behind the optimizer interface the shared loop checkpoints."""

    def __init__(self, g: torch.optim.Optimizer, d: torch.optim.Optimizer) -> None:
        self.g, self.d = g, d

    def state_dict(self) -> dict:
        return {"g": self.g.state_dict(), "d": self.d.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.g.load_state_dict(state["g"])
        self.d.load_state_dict(state["d"])


def _window_velocity(dit: DiT, context: torch.Tensor, visible: torch.Tensor, x: torch.Tensor, t: float,
                     text: TextKV, cond: torch.Tensor | None) -> torch.Tensor:
    """Target velocity [B, o, C] for one uncached `s + o` window (same function as streaming, tested there)."""
    cfg = dit.cfg
    s = cfg.context_frames
    zeros_c, zeros_t = torch.zeros_like(context), torch.zeros_like(x)
    mask = lmdm_window_mask(cfg, cfg.pattern, ~visible.cpu()).to(x.device)
    is_context = torch.arange(s + x.shape[1], device=x.device) < s
    v = dit(torch.cat([zeros_c, x], dim=1), t, text, x_clean=torch.cat([context * visible[..., None], zeros_t], 1),
            is_context=is_context, frame_cond=cond, mask=mask)
    return v[:, s:]


def rollout(dit: DiT, context: torch.Tensor, visible: torch.Tensor, cond: torch.Tensor | None, text: TextKV,
            steps: list[int], gen: torch.Generator, grad: bool = True) -> torch.Tensor:
    """Generate len(steps) blocks after `context` [B, s, C] → [B, n·o, C].

    `visible` [B, s]: False for context frames hidden by dropout; `cond` [B, s + n·o, F] frame conditioning of
    the whole sequence; `steps[i]` = ping-pong steps of block i (gradient through its last step only).

    Each block is one uncached `s + o` window (stage 1's convention), so the oldest context chunk has no
    history of its own, while the studio's persistent block-causal cache carries it (streaming equals the
    full-sequence mask). On the stage-1 model after 10 streamed blocks the two differ by 0.6–1.3 % (relative
    L2 of v and x̂0): a small train/inference gap, left as is.
    """
    cfg = dit.cfg
    s, o = cfg.context_frames, cfg.block_frames
    b, c = context.shape[0], context.shape[2]
    seq, vis = context.detach(), visible
    blocks = []
    for i, k in enumerate(steps):
        ts = logsnr_schedule(k)
        win_cond = None if cond is None else cond[:, i * o: i * o + s + o]
        ctx, ctx_vis = seq[:, -s:], vis[:, -s:]
        x = torch.randn(b, o, c, generator=gen).to(context)
        with torch.no_grad():
            for j in range(k - 1):
                x0 = x - ts[j] * _window_velocity(dit, ctx, ctx_vis, x, ts[j], text, win_cond)
                eps = torch.randn(b, o, c, generator=gen).to(context)
                x = (1.0 - ts[j + 1]) * x0 + ts[j + 1] * eps
        with torch.set_grad_enabled(grad):
            block = x - ts[k - 1] * _window_velocity(dit, ctx, ctx_vis, x, ts[k - 1], text, win_cond)
        blocks.append(block.float())
        seq = torch.cat([seq, block.detach().float()], dim=1)  # fed back detached
        vis = torch.cat([vis, torch.ones(b, o, dtype=torch.bool, device=vis.device)], dim=1)
    return torch.cat(blocks, dim=1)


def scores_on_rollout(disc: Discriminator, seq: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, text: TextKV,
                      cond: torch.Tensor | None, context_frames: int, hidden: torch.Tensor | None = None
                      ) -> torch.Tensor:
    """D scores [B, n·o/4] of the rollout frames of a clean sequence [B, s + n·o, C] noised with the given
    (t, ε). `hidden` [B, s]: the context frames the generator did not see (context dropout); D ignores them
    too, so the real and the fake sequence carry the same information."""
    return disc(flow_interpolate(seq, eps, t), t, text, cond, hidden=hidden, score_from=context_frames)


def perturbation_penalty(disc: Discriminator, seq: torch.Tensor, t: torch.Tensor, eps: torch.Tensor,
                         text: TextKV, cond: torch.Tensor | None, context_frames: int, hidden: torch.Tensor | None,
                         scores: torch.Tensor, sigma: float, gen: torch.Generator) -> torch.Tensor:
    """Finite-difference R1/R2: E[(D(x_t + σn) - D(x_t))²] / σ² ≈ E‖∇D(x_t)‖² for n ~ N(0, I), without a
    double backward. Applied to real (R1) and fake (R2) inputs, it keeps D smooth around both, so it cannot
    separate them on tiny details and hand the generator huge, noisy gradients."""
    x_t = flow_interpolate(seq, eps, t)
    n = torch.randn(x_t.shape, generator=gen).to(x_t)
    moved = disc(x_t + sigma * n, t, text, cond, hidden=hidden, score_from=context_frames)
    return ((moved.float() - scores.float()) ** 2).mean() / (sigma * sigma)


def moment_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Per-channel mean and std of the rollout frames [B, n·o, C] against the real continuation's (over batch
    and frames). A few-step x̂0 regresses towards the conditional mean: too little variance, which decodes as
    quiet, muffled audio. The discriminator may take many steps to punish that; this says it directly."""
    f, r = fake.float().flatten(0, 1), real.float().flatten(0, 1)  # [B·n·o, C]
    return F.mse_loss(f.mean(0), r.mean(0)) + F.mse_loss(f.std(0), r.std(0))


def d_loss(real: torch.Tensor, fake: torch.Tensor, real_wrong: torch.Tensor | None, weight: float
           ) -> tuple[torch.Tensor, dict[str, float]]:
    adv = F.softplus(fake - real).mean()
    metrics = {"d_adv": adv.item(), "d_margin": (real - fake).mean().item()}
    if real_wrong is None or weight == 0.0:
        return adv, metrics
    con = F.softplus(real_wrong - real).mean()
    metrics["d_contrastive"] = con.item()
    return adv + weight * con, metrics


def g_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(real - fake).mean()
