"""Latest-value parameter mailbox: many writers (GUI, MIDI thread), one reader (the generation worker).

Writers overwrite; nothing queues, so a flood of MIDI CC collapses to the newest value. A version counter
tells the reader whether anything changed since its last snapshot. `model_version` only moves for
changes the generator hears (block-boundary params, prompts, notes, tempo), so e.g. a volume move never
triggers regeneration. The lock is held for microseconds and never by the audio callback.

The tempo and meter are parameters too when the registry has them (core.params TEMPO and METER: a knob,
MIDI-learnable, remembered): `bpm` is the tempo parameter's value, or None while it is on "auto" (none
chosen: the model decides), which is how a mailbox starts. `set_bpm` (tap tempo, MIDI clock in, Link) writes
the same slot.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from lmd_studio.core.generator import BlockControls, PromptSlot
from lmd_studio.core.params import METER, TEMPO, ParamRegistry


@dataclass(frozen=True, slots=True)
class MailboxSnapshot:
    version: int
    model_version: int
    controls: BlockControls
    changed_at_s: float  # time.perf_counter() of the newest write that changed the model's input


class ParamMailbox:
    def __init__(self, registry: ParamRegistry) -> None:
        self.registry = registry
        self._values = np.array([s.default for s in registry], dtype=np.float64)
        self._auto = np.zeros(len(registry), dtype=bool)
        self._prompts: tuple[PromptSlot, ...] = ()
        self._held_notes: tuple[tuple[int, int], ...] = ()
        self._bpm: float | None = None  # for registries without the tempo parameter
        self._beats_per_bar = 4
        self._tempo_i = registry.index(TEMPO.name) if TEMPO.name in registry else -1
        self._meter_i = registry.index(METER.name) if METER.name in registry else -1
        if self._tempo_i >= 0:
            self._auto[self._tempo_i] = True  # no tempo until one is chosen
        self._lock = threading.Lock()
        self._version = 0
        self._model_version = 0
        self._changed_at_s = 0.0

    @property
    def version(self) -> int:
        return self._version

    @property
    def model_version(self) -> int:
        return self._model_version

    def _bump(self, heard_by_model: bool) -> None:
        self._version += 1
        if heard_by_model:
            self._model_version += 1
            self._changed_at_s = time.perf_counter()

    def set(self, name: str, value: float) -> float:
        """Store a clamped value; returns what was stored."""
        i = self.registry.index(name)
        spec = self.registry.spec(name)
        v = spec.clamp(value)
        with self._lock:
            if self._values[i] != v:
                self._values[i] = v
                self._bump(spec.block_boundary)
        return v

    def get(self, name: str) -> float:
        return float(self._values[self.registry.index(name)])

    def set_auto(self, name: str, auto: bool) -> None:
        spec = self.registry.spec(name)
        if auto and not spec.can_auto:
            raise ValueError(f"parameter {name!r} has no 'let the model decide' mode")
        i = self.registry.index(name)
        with self._lock:
            if bool(self._auto[i]) != auto:
                self._auto[i] = auto
                self._bump(spec.block_boundary)

    def is_auto(self, name: str) -> bool:
        return bool(self._auto[self.registry.index(name)])

    def set_prompts(self, prompts: tuple[PromptSlot, ...]) -> None:
        prompts = tuple(prompts)
        with self._lock:
            if prompts != self._prompts:
                self._prompts = prompts
                self._bump(True)

    @property
    def prompts(self) -> tuple[PromptSlot, ...]:
        return self._prompts

    def set_held_notes(self, notes: tuple[tuple[int, int], ...]) -> None:
        notes = tuple(sorted(notes))
        with self._lock:
            if notes != self._held_notes:
                self._held_notes = notes
                self._bump(True)

    def set_bpm(self, bpm: float | None) -> None:
        """The tempo (clamped to the tempo parameter's range), or None: none, the model decides."""
        i = self._tempo_i
        with self._lock:
            if i < 0:
                if bpm != self._bpm:
                    self._bpm = bpm
                    self._bump(True)
                return
            value = self._values[i] if bpm is None else TEMPO.clamp(bpm)
            if value != self._values[i] or bool(self._auto[i]) != (bpm is None):
                self._values[i] = value
                self._auto[i] = bpm is None
                self._bump(True)

    @property
    def bpm(self) -> float | None:
        i = self._tempo_i
        if i < 0:
            return self._bpm
        return None if self._auto[i] else float(self._values[i])

    def set_beats_per_bar(self, beats: int) -> None:
        """The meter the model counts bars in (4 → 4/4, 3 → 3/4)."""
        if not 1 <= beats <= 16:
            raise ValueError(f"beats per bar must be in [1, 16], got {beats}")
        if self._meter_i >= 0:
            self.set(METER.name, beats)
            return
        with self._lock:
            if beats != self._beats_per_bar:
                self._beats_per_bar = beats
                self._bump(True)

    @property
    def beats_per_bar(self) -> int:
        return int(self._values[self._meter_i]) if self._meter_i >= 0 else self._beats_per_bar

    def snapshot(self) -> MailboxSnapshot:
        with self._lock:
            values = dict(zip(self.registry.names, self._values.tolist()))
            auto = frozenset(n for n, a in zip(self.registry.names, self._auto.tolist()) if a)
            return MailboxSnapshot(
                version=self._version,
                model_version=self._model_version,
                controls=BlockControls(values=values, auto=auto, prompts=self._prompts,
                                       held_notes=self._held_notes, bpm=self.bpm,
                                       beats_per_bar=self.beats_per_bar),
                changed_at_s=self._changed_at_s,
            )
