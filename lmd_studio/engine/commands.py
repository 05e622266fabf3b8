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
class SetSafeMode:
    """Let the worker lower sampling steps automatically to stay real time."""

    enabled: bool


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


Command = Play | Stop | Reset | Seek | SetSafeMode | Shutdown
