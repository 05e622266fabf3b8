"""Commands from the GUI/Session to the generation worker (a queue drained at block boundaries)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Play:
    pass


@dataclass(frozen=True, slots=True)
class Stop:
    pass


@dataclass(frozen=True, slots=True)
class Reset:
    """Fresh start: drop queued audio, new generator state from `seed`."""

    seed: int = 0


@dataclass(frozen=True, slots=True)
class Seek:
    """Go back to the generator state at the start of block `block_index` (kept in a bounded history)
    and continue from there: the music re-takes that moment with the current controls."""

    block_index: int


@dataclass(frozen=True, slots=True)
class Rewind:
    """Play again from the kept block playing at ring `position` (a past moment on the timeline, or a
    branch's fork point): the queued audio is dropped, the generator goes back to that block's starting
    state and carries on with the current controls. Everything before it stays as it was generated."""

    position: int


@dataclass(frozen=True, slots=True)
class ShiftBeats:
    """From the next block on, the musical clock's count runs `beats` further on (negative: back) — to line
    its bars up with an Ableton Link session's."""

    beats: float


@dataclass(frozen=True, slots=True)
class SetHistoryBudget:
    """Memory for the kept generator states (how far back a rewind reaches)."""

    budget_bytes: int


@dataclass(frozen=True, slots=True)
class SetSafeMode:
    """Let the worker lower sampling steps automatically to stay real time."""

    enabled: bool


@dataclass(frozen=True, slots=True)
class SetQuantise:
    """Where changes to the model's inputs land from now on: "off" (at once), "beat" or "bar" (the next
    line of the engine's clock that a splice can still be centred on)."""

    grid: str


@dataclass(frozen=True, slots=True)
class LandNow:
    """The changes written to the mailbox up to its `model_version` land at once, whatever the quantise
    setting (a change made with the "now" modifier held); one waiting for its grid line goes now too."""

    model_version: int


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


Command = Play | Stop | Reset | Seek | Rewind | ShiftBeats | SetHistoryBudget | SetSafeMode | SetQuantise | LandNow | Shutdown
