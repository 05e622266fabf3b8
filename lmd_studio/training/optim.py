"""The learning-rate schedule and the optimizer step every recipe shares.

`lr_at` is the one schedule: linear warm-up, then cosine decay to a floor. `optimizer_step` is the one update:
clear, backpropagate, average over data-parallel replicas, clip, set the learning rate, step. A running
training is resumed with whatever code is current, so both keep the exact arithmetic (operation order
included) the recipes had before they shared them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol

import torch

from lmd_studio.training import ddp


class ScheduleConfig(Protocol):
    """The fields of a training config the schedule reads."""

    @property
    def lr(self) -> float: ...

    @property
    def min_lr(self) -> float: ...

    @property
    def warmup_steps(self) -> int: ...

    @property
    def steps(self) -> int: ...


def lr_at(step: int, cfg: ScheduleConfig, peak_lr: float | None = None, floor_lr: float | None = None) -> float:
    """The learning rate of step index `step`: linear warm-up to the peak over `warmup_steps` (step 0 already
    at peak / warmup_steps), then cosine decay from the peak to the floor at `steps`, held there after.

    `peak_lr` (default `cfg.lr`) gives a second optimizer (a discriminator) its own peak; the floor then keeps
    min_lr's ratio to lr, computed as `min_lr * peak / lr` even for the default peak (the diffusion and codec2
    recipes' rule). `floor_lr` sets the floor outright instead (the codec v1 and audiotext recipes pass
    `cfg.min_lr`); the two can differ in the last bit.
    """
    peak = cfg.lr if peak_lr is None else peak_lr
    floor = cfg.min_lr * peak / cfg.lr if floor_lr is None else floor_lr
    if step < cfg.warmup_steps:
        return peak * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * progress))


def optimizer_step(loss: torch.Tensor, params: Iterable[torch.nn.Parameter], optimizer: torch.optim.Optimizer,
                   lr: float, grad_clip: float, dist: ddp.DistInfo | None = None) -> float:
    """One update of `params` from `loss`; returns their gradient norm before clipping.

    Clears the optimizer's old gradients, backpropagates, averages the gradients over data-parallel replicas
    (`dist`; None for recipes that never run replicated), clips their global norm to `grad_clip`, sets every
    parameter group's learning rate to `lr` and steps. Call it after leaving `runner.autocast`: the forward
    runs in bf16 where supported, the backward replays it at the dtypes autocast recorded, and the clip and
    the AdamW update stay in fp32 on fp32 parameters.
    """
    params = list(params)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if dist is not None:
        ddp.average_gradients(params, dist)
    norm = float(torch.nn.utils.clip_grad_norm_(params, grad_clip))
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.step()
    return norm
