"""Parameter specifications: the single source of truth for every steerable control.

A `ParamSpec` says what a control means (range, default, unit, tooltip); a `ParamRegistry` gives each
spec a fixed slot index so real-time code can store values in a flat float array (see rt.mailbox).
GUI knobs, MIDI bindings and the generator all look controls up here by name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from lmd_studio.core.progression import PROGRESSION_KNOB_MAX

Scale = Literal["linear", "log"]


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One continuous or integer control.

    `can_auto`: the control offers "let the model decide" (its value is then ignored by the generator).
    `integer`: values are rounded to whole numbers (steps, seed).
    `scale`: how a 0..1 knob position maps onto the range (log needs minimum > 0).
    `block_boundary`: a change is applied at the next block the generator makes (all model params);
    False for output-stage params applied immediately (e.g. master volume).
    """

    name: str
    label: str
    minimum: float
    maximum: float
    default: float
    unit: str = ""
    tooltip: str = ""
    integer: bool = False
    can_auto: bool = False
    scale: Scale = "linear"
    block_boundary: bool = True

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"ParamSpec name must be an identifier, got {self.name!r}")
        if not self.minimum < self.maximum:
            raise ValueError(f"ParamSpec {self.name}: minimum {self.minimum} must be < maximum {self.maximum}")
        if not self.minimum <= self.default <= self.maximum:
            raise ValueError(
                f"ParamSpec {self.name}: default {self.default} outside [{self.minimum}, {self.maximum}]"
            )
        if self.scale == "log" and self.minimum <= 0:
            raise ValueError(f"ParamSpec {self.name}: log scale needs minimum > 0, got {self.minimum}")

    def clamp(self, value: float) -> float:
        if math.isnan(value):
            return self.default
        v = min(self.maximum, max(self.minimum, float(value)))
        return float(round(v)) if self.integer else v

    def to_normalized(self, value: float) -> float:
        """Value → knob position in [0, 1]."""
        v = self.clamp(value)
        if self.scale == "log":
            return math.log(v / self.minimum) / math.log(self.maximum / self.minimum)
        return (v - self.minimum) / (self.maximum - self.minimum)

    def from_normalized(self, position: float) -> float:
        """Knob position in [0, 1] → value (clamped, rounded for integer params)."""
        x = min(1.0, max(0.0, float(position)))
        if self.scale == "log":
            v = self.minimum * (self.maximum / self.minimum) ** x
        else:
            v = self.minimum + x * (self.maximum - self.minimum)
        return self.clamp(v)


class ParamRegistry:
    """An ordered, immutable set of ParamSpecs with a stable slot index per name."""

    __slots__ = ("_specs", "_index")

    def __init__(self, specs: Iterable[ParamSpec]) -> None:
        self._specs: tuple[ParamSpec, ...] = tuple(specs)
        self._index: dict[str, int] = {}
        for i, spec in enumerate(self._specs):
            if spec.name in self._index:
                raise ValueError(f"duplicate ParamSpec name {spec.name!r}")
            self._index[spec.name] = i

    def __len__(self) -> int:
        return len(self._specs)

    def __iter__(self) -> Iterator[ParamSpec]:
        return iter(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def index(self, name: str) -> int:
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"unknown parameter {name!r}; known: {', '.join(self._index)}") from None

    def spec(self, name: str) -> ParamSpec:
        return self._specs[self.index(name)]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self._specs)

    def defaults(self) -> dict[str, float]:
        return {s.name: s.default for s in self._specs}

    def merged(self, extra: Iterable[ParamSpec]) -> ParamRegistry:
        """A registry with `extra` specs appended (names already present are kept as they are)."""
        specs = list(self._specs)
        for s in extra:
            if s.name not in self._index:
                specs.append(s)
        return ParamRegistry(specs)


# The controls every generator understands (a generator may ignore some and add its own).
GUIDANCE = ParamSpec("guidance", "Guidance", 0.0, 8.0, 1.0, "×",
                     "How strongly the prompt, the key and held chords steer the music (classifier-free "
                     "guidance).")
TEMPERATURE = ParamSpec("temperature", "Temperature", 0.5, 1.5, 1.0, "",
                        "Initial noise scale: lower is tamer, higher is wilder.")
STEPS = ParamSpec("steps", "Steps", 1.0, 16.0, 4.0, "", "Sampling steps per block: more is slower and finer.",
                  integer=True)
SEED = ParamSpec("seed", "Variation", 0.0, 9999.0, 0.0, "", "Re-roll: a different seed gives a different take.",
                 integer=True)
LOUDNESS = ParamSpec("loudness", "Loudness", 0.0, 1.0, 0.6, "",
                     "Target loudness of what the model plays.", can_auto=True)
BRIGHTNESS = ParamSpec("brightness", "Brightness", 0.0, 1.0, 0.5, "",
                       "Spectral centroid: dark to bright.", can_auto=True)
DENSITY = ParamSpec("density", "Density", 0.0, 1.0, 0.5, "", "Onsets per second: sparse to busy.", can_auto=True)
# The key knob: 0..11 = C..B major, 12..23 = C..B minor (core/musical_key.py; older sessions' 0..11 still
# mean the same major keys). Held keyboard notes override it with their chord.
PITCH = ParamSpec("pitch", "Key", 0.0, 23.0, 0.0, "key",
                  "The key the music stays in (C … B major, then C … B minor) while the harmony moves within "
                  "it. A chord held on a MIDI keyboard overrides it: the music plays that chord.",
                  integer=True, can_auto=True)
# The progression knob (core/progression.py): 0 = off, else a chord a bar in the key on the key knob.
PROGRESSION = ParamSpec("progression", "Progression", 0.0, float(PROGRESSION_KNOB_MAX), 0.0, "progression",
                        "Moves the harmony for you: one chord a bar, in the key on the Key knob, changing on "
                        "the bar lines (needs a tempo and a key). A chord held on a MIDI keyboard wins.",
                        integer=True)
# The studio's tempo and meter: the engine's musical clock (bar lines, quantised changes) and a model with a
# musical clock follow them. "Auto" on the tempo = none chosen: the model decides (BlockControls.bpm None).
TEMPO = ParamSpec("tempo_bpm", "Tempo", 20.0, 400.0, 120.0, "BPM",
                  "The studio's tempo: bars and beats on the timeline, changes landing on the beat, MIDI clock "
                  "out and Link follow it. Tap tempo, MIDI clock in and Link set it too.", can_auto=True, scale="log")
METER = ParamSpec("beats_per_bar", "Meter", 1.0, 16.0, 4.0, "/4", "Beats per bar (4 → 4/4, 3 → 3/4).",
                  integer=True)
# Jam mode (model/jam.py): offered by a model that can hear a partner, in the studio only.
FOLLOW = ParamSpec("follow", "Follow", 0.0, 1.0, 1.0, "",
                   "Jam: how much the model listens to your input (1: as trained, 0: not at all).")
JAM = ParamSpec("jam", "Jam", 0.0, 1.0, 0.0, "",
                "Jam: the model hears your audio input and plays along (switched in the Input row).", integer=True)
# Generative delay (model/jam.py, mode "delay"): the input comes back re-imagined by the prompt, `delay_s` later.
DELAY = ParamSpec("delay", "Delay", 0.0, 1.0, 0.0, "",
                  "Generative delay: with Jam on, the model plays your input back re-imagined by the prompt, "
                  "a delay time later, instead of accompanying it.", integer=True)
DELAY_TIME = ParamSpec("delay_s", "Delay time", 0.5, 4.0, 1.0, "s",
                       "Generative delay: how long after you play the model answers.")
DRY_WET = ParamSpec("dry_wet", "Dry/Wet", 0.0, 1.0, 1.0, "",
                    "Your input (dry) against the model (wet) in the output; 1 = the model only.",
                    block_boundary=False)
MASTER_GAIN = ParamSpec("master_gain_db", "Volume", -60.0, 6.0, -6.0, "dB", "Master output level.",
                        block_boundary=False)

STANDARD_PARAMS = ParamRegistry(
    [GUIDANCE, TEMPERATURE, STEPS, SEED, LOUDNESS, BRIGHTNESS, DENSITY, PITCH, PROGRESSION, TEMPO, METER,
     MASTER_GAIN]
)
STUDIO_PARAMS = frozenset({TEMPO.name, METER.name})  # the studio's, heard whatever the model (its clock)
