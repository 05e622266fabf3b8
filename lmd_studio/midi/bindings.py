"""MIDI bindings: which hardware control (a `MidiSource`) drives which target, and how.

A source is identified by a short stable id ("cc:0:7", "cc14:*:1", "note:9:36", "program:0:3",
"pitchbend:0"): the map editor lists and edits bindings by it, and one source drives one target.
Channels are 0-based in code and files (the GUI shows 1–16); `None` ("*") listens on every channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, get_args

from lmd_studio.midi.curves import CURVES, Curve, shape

SourceKind = Literal["cc", "cc14", "note", "program", "pitchbend"]
SOURCE_KINDS: tuple[SourceKind, ...] = get_args(SourceKind)
ButtonMode = Literal["toggle", "momentary"]
BUTTON_MODES: tuple[ButtonMode, ...] = get_args(ButtonMode)
Takeover = Literal["soft", "jump"]
TAKEOVERS: tuple[Takeover, ...] = get_args(Takeover)

# A mido.Message, as the backend hands it to the routers and learning. mido ships no types, so this names the
# role without checking the attributes (`type`, `channel`, `control`, `value`, …).
MidiMessage: TypeAlias = Any

CC14_PAIR_OFFSET = 32  # a 14-bit controller sends its MSB on CC n (0..31) and its LSB on CC n+32
MAX_SMOOTHING_MS = 10_000.0

# how many steps the raw value has (its largest value): position = raw / steps
_STEPS: dict[str, int] = {"cc": 127, "cc14": 16383, "note": 127, "program": 127, "pitchbend": 16383}


@dataclass(frozen=True, slots=True)
class MidiSource:
    kind: SourceKind
    channel: int | None  # 0..15, or None for any channel
    number: int = 0  # CC number (cc14: the MSB's, 0..31), note, or program; 0 for pitch bend

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"unknown MIDI source kind {self.kind!r}; choose one of {', '.join(SOURCE_KINDS)}")
        if self.channel is not None and not (isinstance(self.channel, int) and 0 <= self.channel <= 15):
            raise ValueError(f"MIDI channel must be 0..15 or None (any), got {self.channel!r}")
        top = {"cc14": CC14_PAIR_OFFSET - 1, "pitchbend": 0}.get(self.kind, 127)
        if not (isinstance(self.number, int) and 0 <= self.number <= top):
            raise ValueError(f"{self.kind} number must be an integer in 0..{top}, got {self.number!r}")

    @property
    def id(self) -> str:
        ch = "*" if self.channel is None else str(self.channel)
        return f"pitchbend:{ch}" if self.kind == "pitchbend" else f"{self.kind}:{ch}:{self.number}"

    @classmethod
    def parse_id(cls, text: str) -> MidiSource:
        parts = text.split(":")
        try:
            kind = parts[0]
            if kind == "pitchbend" and len(parts) == 2:
                parts.append("0")
            if len(parts) != 3:
                raise ValueError("expected kind:channel:number")
            channel = None if parts[1] == "*" else int(parts[1])
            return cls(kind, channel, int(parts[2]))  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"bad MIDI source id {text!r}: {exc}") from None

    @property
    def steps(self) -> int:
        return _STEPS[self.kind]

    @property
    def is_button(self) -> bool:
        """Notes and program changes press and release rather than sweep."""
        return self.kind in ("note", "program")

    @property
    def label(self) -> str:
        ch = "any ch" if self.channel is None else f"ch {self.channel + 1}"
        names = {"cc": f"CC {self.number}", "cc14": f"CC {self.number}/{self.number + CC14_PAIR_OFFSET} (14-bit)",
                 "note": f"Note {self.number}", "program": f"Program {self.number}", "pitchbend": "Pitch bend"}
        return f"{names[self.kind]}, {ch}"


@dataclass(frozen=True, slots=True)
class Binding:
    """One source → one target, with its transfer (range, invert, curve) and behaviour.

    `range_lo`/`range_hi`: the part of the target's normalised travel (0..1, in the target's own scale,
    so log-scaled parameters stay log) the control covers. `smoothing_ms`: time constant of a glide
    toward each new value (0: land at once). `takeover`: "soft" ignores a control whose position does not
    match the target's value until it passes through it; "jump" applies every move. `mode` is for
    button-like use (notes, program changes, and CC/pitch bend bound to an action): "toggle" flips (or
    fires an action on press), "momentary" is on while held (or fires an action on press and release).
    """

    source: MidiSource
    target: str
    range_lo: float = 0.0
    range_hi: float = 1.0
    invert: bool = False
    curve: Curve = "linear"
    smoothing_ms: float = 0.0
    takeover: Takeover = "soft"
    mode: ButtonMode = "toggle"

    def __post_init__(self) -> None:
        if not isinstance(self.source, MidiSource):
            raise ValueError(f"binding source must be a MidiSource, got {type(self.source).__name__}")
        if not (isinstance(self.target, str) and self.target):
            raise ValueError(f"binding target must be a non-empty name, got {self.target!r}")
        if not 0.0 <= self.range_lo < self.range_hi <= 1.0:
            raise ValueError(f"binding {self.source.id}: range must satisfy 0 <= lo < hi <= 1, "
                             f"got [{self.range_lo}, {self.range_hi}]")
        if self.curve not in CURVES:
            raise ValueError(f"binding {self.source.id}: unknown curve {self.curve!r}; choose {', '.join(CURVES)}")
        if not 0.0 <= self.smoothing_ms <= MAX_SMOOTHING_MS:
            raise ValueError(f"binding {self.source.id}: smoothing_ms must be in [0, {MAX_SMOOTHING_MS:g}], "
                             f"got {self.smoothing_ms}")
        if self.takeover not in TAKEOVERS:
            raise ValueError(f"binding {self.source.id}: takeover must be one of {TAKEOVERS}, got {self.takeover!r}")
        if self.mode not in BUTTON_MODES:
            raise ValueError(f"binding {self.source.id}: mode must be one of {BUTTON_MODES}, got {self.mode!r}")

    @property
    def id(self) -> str:
        return self.source.id

    def position(self, raw: int) -> float:
        """Raw MIDI value (0..127, 0..16383) → normalised target position after invert, curve, range."""
        return shape(raw / self.source.steps, curve=self.curve, invert=self.invert, lo=self.range_lo,
                     hi=self.range_hi)

    def button_position(self, on: bool) -> float:
        """Target position for a button that is on/off (invert swaps the ends)."""
        return self.range_hi if on != self.invert else self.range_lo
