"""Jam training: a partner's part as the accompaniment input, visible only up to a cut-off.

The paper's jamming setup (METHOD.md): the model hears the partner's audio only up to `t_f` before the block
it generates, because live input arrives late (the studio's look-ahead). A window of s context + o target
frames from an item with partner stems becomes, with probability `p_partner`:
    target   = one stem (e.g. the band), in the window's latents and knob values
    partner  = the other stem (e.g. the drums), in the accompaniment channels for frames < s + offset,
               offset uniform in [-lookback, 0] frames — the same cut-off function the generator uses
               (model/conditioning.accompaniment_features)
Otherwise the window is the mix with no partner (partner dropout keeps solo generation as it was).

Generative delay (`p_delay`): the studio feeds the player's input delayed by d as the partner, lined up with
the block being generated, and the model should play it back re-imagined by the prompt. Its pairs come from
items with a re-voiced render (data/revoice.py: the same notes on other instruments):
    target   = the mix as stored (its description is the prompt)
    partner  = the re-voiced render, frame for frame aligned, visible for frames < s + offset with offset in
               [-lookback, o]: into the target block (a delay longer than the look-ahead plus a block shows
               all of it — half the draws), or only partly or not at all (a short delay)
Decisions come from their own random stream, and a plan with p_delay = 0 draws exactly what it drew before
generative delay existed (so does p_partner = 0 before jam training).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmd_studio.data.revoice import REVOICED_STEM
from lmd_studio.training.latents import LatentItem


@dataclass(frozen=True, slots=True)
class PartnerPlan:
    p_partner: float  # probability that a window of an item with stems becomes a (partner → target) pair
    context_frames: int  # s: the target block starts here
    lookback_frames: int  # the cut-off falls uniformly in [s - lookback, s]
    p_delay: float = 0.0  # probability that a window of an item with a re-voiced render becomes a delay pair
    block_frames: int = 0  # o: how far into the target a delay pair's partner may be visible

    def __post_init__(self) -> None:
        for name in ("p_partner", "p_delay"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.lookback_frames < 0 or self.lookback_frames > self.context_frames:
            raise ValueError(f"lookback_frames must be in [0, {self.context_frames}], got {self.lookback_frames}")
        if self.p_delay > 0 and self.block_frames <= 0:
            raise ValueError(f"a delay plan needs the block's length (block_frames), got {self.block_frames}")


@dataclass(frozen=True, slots=True)
class PartnerChoice:
    target: str | None  # stem name whose latents become the window's target (None: the mix)
    partner: str  # stem name heard through the accompaniment channels
    visible_frames: int  # partner frames [0, visible_frames) of the window are heard


def part_stems(item: LatentItem) -> list[str]:
    """The item's parts (stems that sum to its mix), sorted; a re-voiced render is not one."""
    return sorted(name for name in item.stems if name != REVOICED_STEM)


def choose_partner(item: LatentItem, plan: PartnerPlan, rng: np.random.Generator) -> PartnerChoice | None:
    """A (target, partner, cut-off) for this window, or None (the plain mix). Accompaniment pairs need an item
    with exactly two parts; delay pairs an item with a re-voiced render."""
    if plan.p_delay > 0 and REVOICED_STEM in item.stems and rng.random() < plan.p_delay:
        s, o = plan.context_frames, plan.block_frames
        whole = rng.random() < 0.5  # half the draws: a delay long enough to show the whole target block
        visible = s + o if whole else s - int(rng.integers(-o, plan.lookback_frames + 1))
        return PartnerChoice(None, REVOICED_STEM, visible)
    names = part_stems(item)
    if len(names) != 2 or rng.random() >= plan.p_partner:
        return None
    target = names[int(rng.integers(2))]
    partner = names[1] if target == names[0] else names[0]
    visible = plan.context_frames - int(rng.integers(0, plan.lookback_frames + 1))
    return PartnerChoice(target, partner, visible)
