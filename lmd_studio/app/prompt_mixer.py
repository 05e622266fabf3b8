"""The prompt mixer: slots of (text, weight, on/off) whose mix morphs smoothly into the engine.

Each slot's text is a *voice* with a current weight that glides to its target over `morph_s`: changing a
slot's text fades the old text out while the new one fades in; switching a slot off fades it to zero;
loading a scene sets every target at once. Weight-slider and MIDI moves are immediate (the hand is already
smooth). `tick(now_s)` returns the prompt tuple to publish, rate-limited to one update per
`publish_interval_s` while morphing (each update makes the engine regenerate queued audio, so once per
block is enough), and always the final mix once a morph ends. The generator normalises weights itself;
`shares()` tells the GUI each slot's share of the mix now.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lmd_studio.core.generator import PromptSlot
from lmd_studio.settings.schema import PromptEntry


def _ease(x: float) -> float:
    """Smoothstep: a morph starts and lands gently."""
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


@dataclass(slots=True)
class _Voice:
    slot: int
    text: str
    start_weight: float
    target_weight: float
    start_s: float
    duration_s: float

    def weight(self, now_s: float) -> float:
        if self.duration_s <= 0.0:
            return self.target_weight
        k = _ease((now_s - self.start_s) / self.duration_s)
        return self.start_weight + (self.target_weight - self.start_weight) * k

    def done(self, now_s: float) -> bool:
        return self.duration_s <= 0.0 or now_s - self.start_s >= self.duration_s

    def retarget(self, target: float, now_s: float, duration_s: float) -> None:
        self.start_weight = self.weight(now_s)
        self.target_weight = target
        self.start_s = now_s
        self.duration_s = duration_s


class PromptMixer:
    def __init__(self, slots: int = 4, morph_s: float = 2.0, publish_interval_s: float = 0.25) -> None:
        if not 1 <= slots <= 8:
            raise ValueError(f"PromptMixer: slots must be in 1..8, got {slots}")
        self.slot_count = slots
        self.morph_s = float(morph_s)
        self.publish_interval_s = float(publish_interval_s)
        self._targets = [PromptEntry("", 1.0, True) for _ in range(slots)]
        self._voices: list[_Voice] = []
        self._dirty = True
        self._last_publish_s = -math.inf
        self._published: tuple[PromptSlot, ...] | None = None

    # --- what the player sets ------------------------------------------------------------------
    def entries(self) -> tuple[PromptEntry, ...]:
        """The targets (what the slots show), one per slot."""
        return tuple(self._targets)

    def set_text(self, slot: int, text: str, now_s: float) -> bool:
        t = self._targets[self._check(slot)]
        text = " ".join(text.split())
        if text == t.text:
            return False
        self._targets[slot] = PromptEntry(text, t.weight, t.enabled)
        self._retarget_slot(slot, now_s, self.morph_s)
        return True

    def set_weight(self, slot: int, weight: float, now_s: float, morph: bool = False) -> bool:
        t = self._targets[self._check(slot)]
        weight = min(1.0, max(0.0, float(weight)))
        if weight == t.weight:
            return False
        self._targets[slot] = PromptEntry(t.text, weight, t.enabled)
        self._retarget_slot(slot, now_s, self.morph_s if morph else 0.0)
        return True

    def set_enabled(self, slot: int, enabled: bool, now_s: float) -> bool:
        t = self._targets[self._check(slot)]
        if enabled == t.enabled:
            return False
        self._targets[slot] = PromptEntry(t.text, t.weight, bool(enabled))
        self._retarget_slot(slot, now_s, self.morph_s)
        return True

    def load(self, entries: tuple[PromptEntry, ...], now_s: float, morph_s: float | None = None) -> None:
        """Set every slot at once (a scene, the last session); missing slots become empty."""
        duration = self.morph_s if morph_s is None else float(morph_s)
        for slot in range(self.slot_count):
            self._targets[slot] = entries[slot] if slot < len(entries) else PromptEntry("", 1.0, True)
            self._retarget_slot(slot, now_s, duration)

    # --- what the engine hears ------------------------------------------------------------------
    def mix(self, now_s: float) -> tuple[PromptSlot, ...]:
        """The prompts with their current (un-normalised) weights, slot order."""
        out = []
        for v in sorted(self._voices, key=lambda v: v.slot):
            w = v.weight(now_s)
            if w > 1e-4:
                out.append(PromptSlot(v.text, w, True))
        return tuple(out)

    @property
    def morphing(self) -> bool:
        return any(v.duration_s > 0.0 for v in self._voices)

    def tick(self, now_s: float) -> tuple[PromptSlot, ...] | None:
        """The mix to publish now, or None when nothing needs publishing."""
        finished = all(v.done(now_s) for v in self._voices)
        if not self._dirty and finished and self._published is not None:
            return None
        if not finished and now_s - self._last_publish_s < self.publish_interval_s:
            return None
        mix = self.mix(now_s)
        if finished:
            self._settle(now_s)
            self._dirty = False
        self._last_publish_s = now_s
        if mix == self._published:
            return None
        self._published = mix
        return mix

    def shares(self, now_s: float) -> tuple[float, ...]:
        """Each slot's share of the mix now (0..1, summing to 1 when anything plays)."""
        per_slot = [0.0] * self.slot_count
        for v in self._voices:
            per_slot[v.slot] += max(0.0, v.weight(now_s))
        total = sum(per_slot)
        return tuple(w / total if total > 0 else 0.0 for w in per_slot)

    # --- internals ------------------------------------------------------------------------------------
    def _check(self, slot: int) -> int:
        if not 0 <= slot < self.slot_count:
            raise IndexError(f"prompt slot {slot} outside 0..{self.slot_count - 1}")
        return slot

    def _retarget_slot(self, slot: int, now_s: float, duration_s: float) -> None:
        t = self._targets[slot]
        live = t.weight if (t.enabled and t.text) else 0.0
        found = False
        for v in self._voices:
            if v.slot != slot:
                continue
            if v.text == t.text and not found:
                v.retarget(live, now_s, duration_s)
                found = True
            else:
                v.retarget(0.0, now_s, duration_s)  # an old text of this slot fades out
        if not found and t.text:
            self._voices.append(_Voice(slot, t.text, 0.0, live, now_s, duration_s))
        self._dirty = True

    def _settle(self, now_s: float) -> None:
        """Drop voices that faded out; freeze the rest at their targets."""
        keep = []
        for v in self._voices:
            target = self._targets[v.slot]
            if v.target_weight <= 0.0 and v.text != target.text:
                continue
            v.start_weight, v.duration_s, v.start_s = v.target_weight, 0.0, now_s
            keep.append(v)
        self._voices = keep
