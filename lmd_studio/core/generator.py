"""The model-facing contract: what the engine needs from anything that makes audio block by block.

State is explicit and immutable from the engine's point of view: `generate_block(state, controls)` returns
the next state instead of mutating, so the engine can keep the state at every queued block boundary and
rewind to it (low-latency control changes, reset, A/B) at no cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lmd_studio.core.params import ParamSpec


@dataclass(frozen=True, slots=True)
class PromptSlot:
    """One text prompt in the mixer."""

    text: str
    weight: float = 1.0
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0e3:
            raise ValueError(f"prompt weight must be in [0, 1000], got {self.weight}")

    @property
    def active(self) -> bool:
        return self.enabled and self.weight > 0.0 and bool(self.text.strip())


def normalized_prompt_mix(prompts: tuple[PromptSlot, ...]) -> tuple[tuple[str, float], ...]:
    """Active prompts with weights normalised to sum to 1 (empty when none is active)."""
    active = [p for p in prompts if p.active]
    total = sum(p.weight for p in active)
    if total <= 0.0:
        return ()
    return tuple((p.text.strip(), p.weight / total) for p in active)


_EMPTY: Mapping[str, float] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class BlockControls:
    """Everything that steers one block: a snapshot, taken at a block boundary.

    `values`: parameter name → value (read-only mapping). Names absent here mean "use the default".
    `auto`: names of controls set to "let the model decide".
    `held_notes`: (MIDI note, velocity 1..127) held on a keyboard; they become the pitch-salience curve.
    `bpm`: tempo from MIDI clock or the tempo control, when known; `beats_per_bar`: the meter (4 → 4/4,
    3 → 3/4). A model with a musical clock counts beats from them (None: it decides the tempo itself).
    `bar_position_beats`: where the engine's musical clock (engine/beat_clock.py) is at the block's first
    sample, in beats after the last downbeat; a clocked model starts the block's count there, so its bars
    stay on the engine's (and the other gear's) bar lines across splices and tempo changes (None: it
    counts on from its own state).
    `bar_number`: which bar that is (0 = the first bar of the engine's clock), so a progression
    (core/progression.py) plays the chord of that bar (None: the generator counts bars from its own state).
    `stream_position`: the engine's playback-stream position (device frames) of the block's first sample; a
    generator that lines live input up with its blocks (jam mode) reads it (None: not played by an engine).
    """

    values: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    auto: frozenset[str] = frozenset()
    prompts: tuple[PromptSlot, ...] = ()
    held_notes: tuple[tuple[int, int], ...] = ()
    bpm: float | None = None
    beats_per_bar: int = 4
    bar_position_beats: float | None = None
    bar_number: int | None = None
    stream_position: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.beats_per_bar <= 16:
            raise ValueError(f"beats_per_bar must be in [1, 16], got {self.beats_per_bar}")
        if not isinstance(self.values, MappingProxyType):
            object.__setattr__(self, "values", MappingProxyType(dict(self.values)))
        for note, vel in self.held_notes:
            if not (0 <= note <= 127 and 1 <= vel <= 127):
                raise ValueError(f"held note out of MIDI range: note={note} velocity={vel}")

    def value(self, spec: ParamSpec) -> float:
        return spec.clamp(self.values.get(spec.name, spec.default))

    def is_auto(self, spec: ParamSpec) -> bool:
        return spec.can_auto and spec.name in self.auto

    @property
    def prompt_mix(self) -> tuple[tuple[str, float], ...]:
        return normalized_prompt_mix(self.prompts)


@runtime_checkable
class BlockGenerator(Protocol):
    """Makes audio one block at a time. Implementations: FakeBlockGenerator, model.TorchBlockGenerator."""

    @property
    def sample_rate(self) -> int: ...

    @property
    def channels(self) -> int: ...

    @property
    def block_frames(self) -> int: ...

    @property
    def param_specs(self) -> tuple[ParamSpec, ...]: ...

    @property
    def context_frames(self) -> int:
        """How many past audio frames the generator listens to (0 if none); shown on the timeline."""
        ...

    @property
    def name(self) -> str: ...

    def init_state(self, seed: int) -> Any: ...

    def generate_block(self, state: Any, controls: BlockControls) -> tuple[np.ndarray, Any]:
        """Return (float32 audio of shape [block_frames, channels], next state). Must not mutate `state`."""
        ...


class StreamInput(Protocol):
    """The studio's audio input on the playback-stream timeline (engine/input_view.InputView)."""

    @property
    def channels(self) -> int: ...
    @property
    def arrived_stream_position(self) -> int | None: ...
    def for_stream(self, end_stream_position: int, frames: int) -> np.ndarray: ...


@runtime_checkable
class HearsInput(Protocol):
    """A generator that listens to the studio's audio input (jam mode): the engine's composition gives it the
    input of each engine it plays in (None: input off)."""

    @property
    def jam_trained(self) -> bool:
        """Whether the model learned to play along (else it hears the input but was never taught to follow)."""
        ...

    @property
    def delay_trained(self) -> bool:
        """Whether the model learned generative delay (playing the input back re-imagined, a delay time later)."""
        ...

    def attach_input(self, stream_input: StreamInput | None, device_rate_hz: int) -> None: ...


class WrappedGenerator:
    """A BlockGenerator that forwards everything to `inner`: subclasses wrap a generator to add to what it
    does (the jam partner, a benchmark's busy work) and override only that."""

    def __init__(self, inner: BlockGenerator) -> None:
        self.inner = inner

    @property
    def sample_rate(self) -> int:
        return self.inner.sample_rate

    @property
    def channels(self) -> int:
        return self.inner.channels

    @property
    def block_frames(self) -> int:
        return self.inner.block_frames

    @property
    def param_specs(self) -> tuple[ParamSpec, ...]:
        return self.inner.param_specs

    @property
    def context_frames(self) -> int:
        return self.inner.context_frames

    @property
    def name(self) -> str:
        return self.inner.name

    def init_state(self, seed: int) -> Any:
        return self.inner.init_state(seed)

    def generate_block(self, state: Any, controls: BlockControls) -> tuple[np.ndarray, Any]:
        return self.inner.generate_block(state, controls)
