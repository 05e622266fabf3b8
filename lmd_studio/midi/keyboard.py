"""Play the model from a keyboard: held notes (sustain pedal included) and velocity → loudness.

Notes that no binding claims arrive here. The set of sounding (note, velocity) pairs goes to the sink
whenever it changes; the model turns it into the pitch-salience curve of its next block(s), so a held
chord steers harmony. While notes sound, the newest note-on velocity steers the velocity target (loudness
by default); when the last note stops sounding the target returns to the knob's own value, the one it had
before the first note (or the one the player or a binding set while the notes were held). Velocity never
moves the knob for good. Ports may call in from several MIDI threads, hence the small lock.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace

from lmd_studio.core.params import ParamSpec
from lmd_studio.midi.sink import ControlSink
from lmd_studio.midi.targets import TargetCatalog

ALL_SOUND_OFF_CC = 120
ALL_NOTES_OFF_CC = 123


@dataclass(frozen=True, slots=True)
class KeyboardConfig:
    """`channel`: the keyboard's channel (0..15) or None for all. `velocity_target`: a continuous target
    that follows note-on velocity (None: off), mapped onto [velocity_lo, velocity_hi] of its travel."""

    enabled: bool = True
    channel: int | None = None
    velocity_target: str | None = "loudness"
    velocity_lo: float = 0.2
    velocity_hi: float = 1.0
    sustain_cc: int = 64

    def __post_init__(self) -> None:
        if self.channel is not None and not 0 <= self.channel <= 15:
            raise ValueError(f"keyboard channel must be 0..15 or None, got {self.channel}")
        if not 0.0 <= self.velocity_lo <= self.velocity_hi <= 1.0:
            raise ValueError(f"velocity range must satisfy 0 <= lo <= hi <= 1, got "
                             f"[{self.velocity_lo}, {self.velocity_hi}]")
        if not 0 <= self.sustain_cc <= 119:
            raise ValueError(f"sustain_cc must be a controller number 0..119, got {self.sustain_cc}")


class Keyboard:
    def __init__(self, config: KeyboardConfig, sink: ControlSink, catalog: TargetCatalog) -> None:
        self._sink = sink
        self._catalog = catalog
        self._keys: dict[int, int] = {}  # physically held: note → velocity
        self._sustained: dict[int, int] = {}  # released while the pedal is down
        self._pedal = False
        self._published: tuple[tuple[int, int], ...] = ()
        self._velocity_spec: ParamSpec | None = None
        self._knob_value: float | None = None  # the velocity target's own value while velocity steers it
        self._velocity_value: float | None = None  # what velocity wrote last
        self._lock = threading.Lock()
        self.configure(config)

    def set_catalog(self, catalog: TargetCatalog) -> None:
        """Targets changed (a new model): look the velocity target up again (off if it is gone)."""
        self._catalog = catalog
        config = self.config
        if config.velocity_target is not None and config.velocity_target not in catalog:
            config = replace(config, velocity_target=None)
        self.configure(config)

    def configure(self, config: KeyboardConfig) -> None:
        """Apply new settings (held notes are kept; the velocity target gets the knob's value back)."""
        spec = None
        if config.velocity_target is not None:
            info = self._catalog.info(config.velocity_target)
            if not info.continuous:
                raise ValueError(f"velocity target {config.velocity_target!r} is an action, not a continuous control")
            spec = info.spec
        with self._lock:
            self._restore_knob()
            self._velocity_spec = spec
            self.config = config

    def listens(self, channel: int) -> bool:
        return self.config.enabled and (self.config.channel is None or self.config.channel == channel)

    @property
    def held_notes(self) -> tuple[tuple[int, int], ...]:
        """What is sounding now (for the on-screen indicator)."""
        return self._published

    @property
    def pedal_down(self) -> bool:
        return self._pedal

    def note(self, channel: int, note: int, velocity: int) -> bool:
        """A note-on (velocity > 0) or note-off (velocity 0). Returns False when not for the keyboard."""
        if not self.listens(channel):
            return False
        with self._lock:
            if velocity > 0:
                self._keys[note] = velocity
                self._sustained.pop(note, None)
                self._steer(velocity)
            else:
                vel = self._keys.pop(note, None)
                if vel is not None and self._pedal:
                    self._sustained[note] = vel
            self._publish()
        return True

    def control(self, channel: int, number: int, value: int) -> bool:
        """Sustain pedal and the all-notes-off family. Returns False for other controllers."""
        if not self.listens(channel):
            return False
        if number == self.config.sustain_cc:
            with self._lock:
                self._pedal = value >= 64
                if not self._pedal:
                    self._sustained.clear()
                self._publish()
            return True
        if number in (ALL_SOUND_OFF_CC, ALL_NOTES_OFF_CC):
            self.release_all()
            return True
        return False

    def release_all(self) -> None:
        """Panic: forget every held and sustained note and the pedal."""
        with self._lock:
            self._keys.clear()
            self._sustained.clear()
            self._pedal = False
            self._publish()

    def _publish(self) -> None:
        sounding = dict(self._sustained)
        sounding.update(self._keys)
        notes = tuple(sorted(sounding.items()))
        if notes != self._published:
            self._published = notes
            self._sink.set_held_notes(notes)
        if not notes:
            self._restore_knob()

    # ---- velocity → target, while notes sound (called with the lock held) ------------------------------
    def _steer(self, velocity: int) -> None:
        spec = self._velocity_spec
        current = self._current(spec)
        if spec is None or current is None:
            return
        if self._knob_value is None or not self._wrote(current):
            self._knob_value = current  # the first note, or someone moved the knob while notes were held
        c = self.config
        pos = c.velocity_lo + (c.velocity_hi - c.velocity_lo) * velocity / 127.0
        self._velocity_value = spec.clamp(spec.from_normalized(pos))
        self._sink.set_value(spec.name, self._velocity_value)

    def _restore_knob(self) -> None:
        """The last note stopped: the target gets the knob's own value back, unless the player (or a
        binding) moved it meanwhile; their value then stays."""
        spec, knob = self._velocity_spec, self._knob_value
        if spec is not None and knob is not None and self._wrote(self._current(spec)):
            self._sink.set_value(spec.name, knob)
        self._knob_value = self._velocity_value = None

    def _current(self, spec: ParamSpec | None) -> float | None:
        if spec is None:
            return None
        try:
            return self._sink.get_value(spec.name)
        except KeyError:  # a sink that does not route this target: velocity has nothing to steer
            return None

    def _wrote(self, value: float | None) -> bool:
        return (value is not None and self._velocity_value is not None
                and math.isclose(value, self._velocity_value, abs_tol=1e-9))
