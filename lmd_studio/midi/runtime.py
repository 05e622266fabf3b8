"""One binding at run time: decode its messages, apply soft takeover, buttons, glides, 14-bit pairing.

A `BindingRuntime` lives in the routing table of one port and is only touched by that port's MIDI thread,
except for the glide fields, which the `Glider` (housekeeping thread) also steps under its own lock.
Positions are normalised target travel in [0, 1] (the target's own scale, see ParamSpec.to_normalized).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable

from lmd_studio.core.params import ParamSpec
from lmd_studio.midi.bindings import Binding
from lmd_studio.midi.sink import ControlSink
from lmd_studio.midi.targets import TargetInfo

# A control within this distance of the target's value picks it up at once (about 1.5 steps of 7 bits).
TAKEOVER_TOLERANCE = 0.012
# A target that moved by more than this since our last write was moved by someone else (GUI, preset).
_FOREIGN_MOVE = 1e-6
_GLIDE_DONE = 1e-4


class BindingRuntime:
    __slots__ = ("binding", "target", "spec", "is_action", "_sink", "_glider", "caught", "_prev_pos",
                 "_written", "_toggle_on", "_above", "_msb", "_lsb_seen", "goal", "glide_pos", "glide_t_s")

    def __init__(self, binding: Binding, info: TargetInfo, sink: ControlSink, glider: Glider) -> None:
        self.binding = binding
        self.target = info.name
        self.spec: ParamSpec | None = info.spec
        self.is_action = not info.continuous
        self._sink = sink
        self._glider = glider
        self.caught = binding.takeover == "jump"
        self._prev_pos: float | None = None
        self._written: float | None = None
        self._toggle_on = False
        self._above = False
        self._msb = -1
        self._lsb_seen = False
        self.goal = 0.0
        self.glide_pos = 0.0
        self.glide_t_s = 0.0

    # ---- messages ----------------------------------------------------------------------------------
    def on_raw(self, raw: int) -> None:
        """A continuous value arrived: CC (0..127), a completed 14-bit pair or pitch bend (0..16383)."""
        if self.is_action:
            self._edge(raw * 2 >= self.binding.source.steps)
        else:
            self._continuous(self.binding.position(raw))

    def on_cc14(self, is_msb: bool, value: int) -> None:
        """Half of a 14-bit pair. The LSB completes a value; an MSB alone only counts until the
        controller has shown it sends LSBs (then MSB-only moves would make the value stutter)."""
        if is_msb:
            self._msb = value
            if not self._lsb_seen:
                self.on_raw(value << 7)
        elif self._msb >= 0:
            self._lsb_seen = True
            self.on_raw((self._msb << 7) | value)

    def on_button(self, pressed: bool) -> None:
        """A note pressed/released or a program change (pressed only)."""
        mode = self.binding.mode
        if self.is_action:
            if pressed or mode == "momentary":
                self._sink.trigger(self.target)
            return
        if mode == "toggle":
            if not pressed:
                return
            self._toggle_on = not self._toggle_on
            on = self._toggle_on
        else:
            on = pressed
        self._write(self.binding.button_position(on))

    # ---- internals ---------------------------------------------------------------------------------
    def _edge(self, above: bool) -> None:
        """A sweeping control bound to an action behaves as a button around mid travel."""
        if above == self._above:
            return
        self._above = above
        if above or self.binding.mode == "momentary":
            self._sink.trigger(self.target)

    def current_position(self) -> float:
        assert self.spec is not None
        return self.spec.to_normalized(self._sink.get_value(self.target))

    def _continuous(self, pos: float) -> None:
        if self.binding.takeover == "soft":
            gliding = self.binding.smoothing_ms > 0.0 and self._glider.is_gliding(self)
            current = self.glide_pos if gliding else self.current_position()
            if self.caught and not gliding and self._written is not None \
                    and abs(current - self._written) > _FOREIGN_MOVE:
                self.caught = False  # the value was changed elsewhere: pick it up again softly
            prev = self._prev_pos  # where the hardware control was before this move
            self._prev_pos = pos
            if not self.caught:
                crossed = prev is not None and (prev - current) * (pos - current) <= 0.0
                if not (crossed or abs(pos - current) <= TAKEOVER_TOLERANCE):
                    return
                self.caught = True
        self._write(pos)

    def _write(self, pos: float) -> None:
        if self.binding.smoothing_ms > 0.0:
            self._glider.set_goal(self, pos)
        else:
            self.write_now(pos)

    def write_now(self, pos: float) -> None:
        assert self.spec is not None
        value = self.spec.from_normalized(pos)
        self._written = self.spec.to_normalized(value)
        self._sink.set_value(self.target, value)


class Glider:
    """Glides smoothed bindings toward their newest goal (one-pole, `smoothing_ms` time constant).

    The MIDI thread sets goals; the MIDI service's housekeeping thread calls `step` about every 10 ms
    while `active`, and waits on `wake` otherwise."""

    def __init__(self) -> None:
        self._active: dict[int, BindingRuntime] = {}
        self._lock = threading.Lock()
        self.wake = threading.Event()

    @property
    def active(self) -> bool:
        return bool(self._active)

    def is_gliding(self, rt: BindingRuntime) -> bool:
        return id(rt) in self._active

    def set_goal(self, rt: BindingRuntime, pos: float) -> None:
        with self._lock:
            if id(rt) not in self._active:
                rt.glide_pos = rt.current_position()
                rt.glide_t_s = time.perf_counter()
                self._active[id(rt)] = rt
            rt.goal = pos
        self.wake.set()

    def step(self, now_s: float) -> None:
        with self._lock:
            runtimes = list(self._active.values())
        for rt in runtimes:
            dt_s = max(0.0, now_s - rt.glide_t_s)
            rt.glide_t_s = now_s
            alpha = 1.0 - math.exp(-dt_s * 1000.0 / rt.binding.smoothing_ms)
            goal = rt.goal
            pos = rt.glide_pos + (goal - rt.glide_pos) * alpha
            if abs(goal - pos) < _GLIDE_DONE:
                pos = goal
            rt.glide_pos = pos
            rt.write_now(pos)
        with self._lock:
            for rt in runtimes:
                if rt.glide_pos == rt.goal:  # re-checked under the lock: a new goal keeps it gliding
                    self._active.pop(id(rt), None)

    def forget(self, runtimes: Iterable[BindingRuntime]) -> None:
        """Stop gliding these (their routing table was replaced)."""
        with self._lock:
            for rt in runtimes:
                self._active.pop(id(rt), None)
