"""What a MIDI binding can drive, by name.

Continuous targets have a `ParamSpec` (range, scale): the parameters of the generator's registry
("guidance", "loudness", "master_gain_db", …) and the prompt-slot weights "prompt_weight_0".. Action
targets are momentary triggers the app runs on its own thread ("play_toggle", "scene_3", …).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from lmd_studio.core.params import STANDARD_PARAMS, ParamRegistry, ParamSpec

TargetKind = Literal["param", "prompt_weight", "action"]

SCENE_COUNT = 16
PROMPT_WEIGHT_PREFIX = "prompt_weight_"

# (name, label): transport, capture, safety, learn, then scene recall
_BASE_ACTIONS: tuple[tuple[str, str], ...] = (
    ("play_toggle", "Play / pause"),
    ("play", "Play"),
    ("stop", "Stop"),
    ("record_toggle", "Record on/off"),
    ("capture_30s", "Capture last 30 s"),
    ("capture_60s", "Capture last 60 s"),
    ("reset", "Reset the model's context"),
    ("panic", "Panic: release notes, stop"),
    ("learn_toggle", "MIDI learn mode on/off"),
    ("tap_tempo", "Tap tempo"),
)
DEFAULT_ACTIONS: tuple[tuple[str, str], ...] = _BASE_ACTIONS + tuple(
    (f"scene_{i}", f"Recall scene {i + 1}") for i in range(SCENE_COUNT)
)


def prompt_weight_target(slot: int) -> str:
    return f"{PROMPT_WEIGHT_PREFIX}{slot}"


def scene_action(index: int) -> str:
    return f"scene_{index}"


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """One bindable target. `spec` is None for actions; `slot` is the prompt slot for prompt weights."""

    name: str
    label: str
    kind: TargetKind
    spec: ParamSpec | None = None
    slot: int = -1

    @property
    def continuous(self) -> bool:
        return self.kind != "action"


class TargetCatalog:
    """An immutable name → TargetInfo lookup shared by bindings, learn and the map editor."""

    __slots__ = ("_targets",)

    def __init__(self, targets: Iterable[TargetInfo]) -> None:
        self._targets: dict[str, TargetInfo] = {}
        for t in targets:
            if t.name in self._targets:
                raise ValueError(f"duplicate MIDI target {t.name!r}")
            if t.continuous and t.spec is None:
                raise ValueError(f"continuous MIDI target {t.name!r} needs a ParamSpec")
            self._targets[t.name] = t

    @classmethod
    def build(cls, registry: ParamRegistry = STANDARD_PARAMS, prompt_slots: int = 8,
              prompt_weight_max: float = 1.0,
              actions: Iterable[tuple[str, str]] = DEFAULT_ACTIONS) -> TargetCatalog:
        """Parameters of `registry`, `prompt_slots` prompt weights in [0, prompt_weight_max], `actions`."""
        if prompt_slots < 0:
            raise ValueError(f"prompt_slots must be >= 0, got {prompt_slots}")
        targets = [TargetInfo(s.name, s.label, "param", s) for s in registry]
        for i in range(prompt_slots):
            name = prompt_weight_target(i)
            spec = ParamSpec(name, f"Prompt {i + 1} weight", 0.0, prompt_weight_max, 1.0 if i == 0 else 0.0)
            targets.append(TargetInfo(name, spec.label, "prompt_weight", spec, slot=i))
        targets.extend(TargetInfo(name, label, "action") for name, label in actions)
        return cls(targets)

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def __iter__(self) -> Iterator[TargetInfo]:
        return iter(self._targets.values())

    def __len__(self) -> int:
        return len(self._targets)

    def get(self, name: str) -> TargetInfo | None:
        return self._targets.get(name)

    def info(self, name: str) -> TargetInfo:
        try:
            return self._targets[name]
        except KeyError:
            raise KeyError(f"unknown MIDI target {name!r}") from None

    @property
    def continuous(self) -> tuple[TargetInfo, ...]:
        return tuple(t for t in self._targets.values() if t.continuous)

    @property
    def actions(self) -> tuple[TargetInfo, ...]:
        return tuple(t for t in self._targets.values() if not t.continuous)
