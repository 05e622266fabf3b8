"""Generative delay's Dry/Wet in the studio's output: while Jam and Delay are both on, the model's answer
(wet) plays at the Dry/Wet's wet gain in the output stage and the player's own input (dry) is monitored at
its dry gain (dsp/dry_wet.py, equal power); otherwise the model plays at full level and monitoring is as the
player set it. The output limiter comes after both (nothing leaves above its ceiling).

Read from the controls only when the generator offers them: a registry without Jam, Delay or Dry/Wet (the
test tones, a model that cannot hear a partner) leaves the master gain alone.
"""

from __future__ import annotations

from lmd_studio.core.generator import BlockControls
from lmd_studio.core.params import DELAY, DELAY_TIME, DRY_WET, JAM, MASTER_GAIN
from lmd_studio.core.units import db_to_gain
from lmd_studio.dsp.dry_wet import dry_wet_gains


def delay_engaged(controls: BlockControls) -> bool:
    """Jam and Delay both on, with a Dry/Wet to balance them."""
    values = controls.values
    if JAM.name not in values or DELAY.name not in values or DRY_WET.name not in values:
        return False
    return controls.value(JAM) >= 0.5 and controls.value(DELAY) >= 0.5


def output_gain(controls: BlockControls) -> float:
    """The output stage's gain: the master volume, times the wet gain while generative delay plays."""
    master = db_to_gain(controls.value(MASTER_GAIN))
    if not delay_engaged(controls):
        return master
    return master * dry_wet_gains(controls.value(DRY_WET))[1]


def monitor_gain(controls: BlockControls) -> float:
    """The live input's monitor gain: the dry gain while generative delay plays, else 1 (monitoring itself
    stays the player's switch)."""
    if not delay_engaged(controls):
        return 1.0
    return dry_wet_gains(controls.value(DRY_WET))[0]


def delay_lookahead_s(controls: BlockControls, block_s: float, ahead_s: float) -> float:
    """How far ahead of the playhead the engine should generate. Live input is heard up to the playhead, and
    the block being generated starts about the look-ahead later, so with generative delay d the model hears
    the input it answers only up to d − look-ahead into that block: all of it when the look-ahead is at most
    d − one block. Without delay, or a delay that allows more, the configured `ahead_s`."""
    if not delay_engaged(controls) or DELAY_TIME.name not in controls.values:
        return ahead_s
    return min(ahead_s, max(0.0, controls.value(DELAY_TIME) - block_s))
