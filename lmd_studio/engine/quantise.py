"""Where a change to the model's inputs lands: now, on the next beat or on the next bar.

A quantised change is heard from a grid line of the engine's clock (beat_clock.py): the engine regenerates
the queued block that holds the line from its kept start state and centres the splice's crossfade on the
line's sample. The regeneration needs time, so a line closer to the playhead than the splice margin
cannot be met: the change then lands on the following line, and the plan says how many it passed over
(the countdown shows it). Without a tempo there is no grid, and every change lands now.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmd_studio.core.musical_clock import QUANTISE_CHOICES, Quantise
from lmd_studio.engine.beat_clock import ClockMap
from lmd_studio.rt.mailbox import MailboxSnapshot


def check_quantise(grid: str) -> Quantise:
    for choice in QUANTISE_CHOICES:
        if grid == choice:
            return choice
    raise ValueError(f"quantise must be one of {QUANTISE_CHOICES}, got {grid!r}")


@dataclass(frozen=True, slots=True)
class LandingPlan:
    """A change lands at ring position `position` (a beat or bar line); `skipped` lines nearer the playhead
    were too close to regenerate for."""

    position: int
    per_bar: bool
    skipped: int = 0


def plan_landing(clock: ClockMap, playhead: int, earliest: int, grid: str) -> LandingPlan | None:
    """The first `grid` line at or after `playhead` that is at or after `earliest` (the nearest position a
    splice can still be centred on); None: land now (quantise off, or no tempo at the playhead)."""
    if grid == "off":
        return None
    per_bar = grid == "bar"
    line = clock.next_line(playhead, per_bar)
    skipped = 0
    while line is not None and line < earliest:
        line = clock.next_line(line + 1, per_bar)
        skipped += 1
    return None if line is None else LandingPlan(line, per_bar, skipped)


def splice_start(line: int, crossfade_frames: int) -> int:
    """Where the crossfade starts so that its centre is on `line`."""
    return line - crossfade_frames // 2


@dataclass(slots=True)
class Landing:
    """A change waiting for its grid line: the mailbox snapshot to land, the plan, and whether the splice
    has been made (then the countdown runs on until the playhead reaches the line)."""

    snapshot: MailboxSnapshot
    plan: LandingPlan
    spliced: bool = False
