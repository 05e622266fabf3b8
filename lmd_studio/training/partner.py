"""Jam training: a partner's part as the accompaniment input, visible only up to a cut-off.

The paper's jamming setup (METHOD.md): the model hears the partner's audio only up to `t_f` before the block
it generates, because live input arrives late (the studio's look-ahead). A window of s context + o target
frames from an item with partner stems becomes, with probability `p_partner`:
    target   = one stem (e.g. the band), in the window's latents and knob values
    partner  = the other stem (e.g. the drums), in the accompaniment channels for frames < s + offset,
               offset uniform in [-lookback, 0] frames — the same cut-off function the generator uses
               (model/conditioning.accompaniment_features)
Otherwise the window is the mix with no partner (partner dropout keeps solo generation as it was).
Decisions come from their own random stream, so a run with p_partner = 0 draws exactly the batches it drew
before jam training existed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmd_studio.training.latents import LatentItem


@dataclass(frozen=True, slots=True)
class PartnerPlan:
    p_partner: float  # probability that a window of an item with stems becomes a (partner → target) pair
    context_frames: int  # s: the target block starts here
    lookback_frames: int  # the cut-off falls uniformly in [s - lookback, s]

    def __post_init__(self) -> None:
        if not 0.0 <= self.p_partner <= 1.0:
            raise ValueError(f"p_partner must be in [0, 1], got {self.p_partner}")
        if self.lookback_frames < 0 or self.lookback_frames > self.context_frames:
            raise ValueError(f"lookback_frames must be in [0, {self.context_frames}], got {self.lookback_frames}")


@dataclass(frozen=True, slots=True)
class PartnerChoice:
    target: str  # stem name whose latents become the window's target
    partner: str  # stem name heard through the accompaniment channels
    visible_frames: int  # partner frames [0, visible_frames) of the window are heard


def choose_partner(item: LatentItem, plan: PartnerPlan, rng: np.random.Generator) -> PartnerChoice | None:
    """A (target, partner, cut-off) for this window, or None (the plain mix). Items need exactly two stems."""
    if len(item.stems) != 2 or rng.random() >= plan.p_partner:
        return None
    names = sorted(item.stems)
    target = names[int(rng.integers(2))]
    partner = names[1] if target == names[0] else names[0]
    visible = plan.context_frames - int(rng.integers(0, plan.lookback_frames + 1))
    return PartnerChoice(target, partner, visible)
