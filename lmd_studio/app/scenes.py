"""Scenes in the running app: capture the current mix as a `Scene`, recall one with a morph.

Recall hands the prompts to the PromptMixer (which morphs them) and starts a `ParamMorph` for the knobs:
continuous parameters glide along the same curve; whole-number ones (steps, variation, key) switch at the
halfway point, where a jump is least exposed; "let the model decide" flags switch at the start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lmd_studio.core.params import ParamRegistry
from lmd_studio.settings.scenes import Scene
from lmd_studio.settings.schema import PromptEntry


def _ease(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


@dataclass(frozen=True, slots=True)
class _Glide:
    name: str
    start: float
    target: float
    integer: bool


class ParamMorph:
    """Parameter values on their way from where they were to a scene's values."""

    def __init__(self) -> None:
        self._glides: tuple[_Glide, ...] = ()
        self._start_s = 0.0
        self._duration_s = 0.0

    @property
    def active(self) -> bool:
        return bool(self._glides)

    def start(self, registry: ParamRegistry, current: Mapping[str, float], targets: Mapping[str, float],
              now_s: float, duration_s: float) -> None:
        glides = []
        for name, target in targets.items():
            if name not in registry or name not in current:
                continue  # a scene saved with another model's controls: skip what this one lacks
            spec = registry.spec(name)
            glides.append(_Glide(name, current[name], spec.clamp(target), spec.integer))
        self._glides = tuple(glides)
        self._start_s = now_s
        self._duration_s = max(0.0, duration_s)

    def cancel(self, name: str | None = None) -> None:
        """Stop gliding `name` (the player grabbed that knob), or everything."""
        self._glides = () if name is None else tuple(g for g in self._glides if g.name != name)

    def tick(self, now_s: float) -> dict[str, float]:
        """The values to set now; the morph ends itself after its last step."""
        if not self._glides:
            return {}
        x = 1.0 if self._duration_s <= 0 else (now_s - self._start_s) / self._duration_s
        k = _ease(x)
        out = {}
        for g in self._glides:
            if g.integer:
                out[g.name] = g.target if x >= 0.5 else g.start
            else:
                out[g.name] = g.start + (g.target - g.start) * k
        if x >= 1.0:
            self._glides = ()
        return out


def capture_scene(name: str, prompts: tuple[PromptEntry, ...], values: Mapping[str, float],
                  auto: frozenset[str] | set[str], morph_s: float, skip: Callable[[str], bool]) -> Scene:
    """A Scene of the mix now; `skip(name)` leaves out parameters a scene must not carry (volume)."""
    params = tuple((k, float(v)) for k, v in values.items() if not skip(k))
    return Scene(name=name, prompts=tuple(p for p in prompts if p.text or p.weight != 1.0 or not p.enabled),
                 params=params, auto=tuple(sorted(a for a in auto if not skip(a))), morph_s=morph_s)
