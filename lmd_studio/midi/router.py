"""The MIDI callback: translate one message and store its latest value; nothing else.

Each open input port gets a `PortRouter` (the callback mido calls on the port's MIDI thread). Its routing
table is compiled from the controller's map and replaced whole when the map changes (one attribute store,
so the MIDI thread never sees half an edit). Messages no binding claims go to the keyboard (notes,
sustain), the clock follower (clock, start/stop) or, for program changes, scene recall. The callback
never raises into the backend: errors are counted and the newest one is kept for the status display.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lmd_studio.midi.bindings import CC14_PAIR_OFFSET, Binding, MidiMessage
from lmd_studio.midi.clock import ClockFollower
from lmd_studio.midi.keyboard import Keyboard
from lmd_studio.midi.learn import LearnCapture
from lmd_studio.midi.mapfile import MidiMap
from lmd_studio.midi.runtime import BindingRuntime, Glider
from lmd_studio.midi.sink import ControlSink
from lmd_studio.midi.targets import SCENE_COUNT, TargetCatalog, scene_action

ANY_CHANNEL = -1
_ROLE_CC7, _ROLE_MSB, _ROLE_LSB = 0, 1, 2
_TRANSPORT = frozenset(("start", "stop", "continue"))


@dataclass(slots=True)
class RoutingTable:
    """Lookup by (channel or ANY_CHANNEL, number); pitch bend by channel."""

    cc: dict[tuple[int, int], tuple[BindingRuntime, int]] = field(default_factory=dict)
    note: dict[tuple[int, int], BindingRuntime] = field(default_factory=dict)
    program: dict[tuple[int, int], BindingRuntime] = field(default_factory=dict)
    pitchbend: dict[int, BindingRuntime] = field(default_factory=dict)
    runtimes: tuple[BindingRuntime, ...] = ()
    inactive: tuple[Binding, ...] = ()  # bindings whose target this app does not have


def compile_table(midi_map: MidiMap, catalog: TargetCatalog, sink: ControlSink, glider: Glider) -> RoutingTable:
    table = RoutingTable()
    runtimes, inactive = [], []
    for b in midi_map.bindings:
        info = catalog.get(b.target)
        if info is None:
            inactive.append(b)
            continue
        rt = BindingRuntime(b, info, sink, glider)
        runtimes.append(rt)
        src = b.source
        ch = ANY_CHANNEL if src.channel is None else src.channel
        if src.kind == "cc":
            table.cc[(ch, src.number)] = (rt, _ROLE_CC7)
        elif src.kind == "cc14":
            table.cc[(ch, src.number)] = (rt, _ROLE_MSB)
            table.cc[(ch, src.number + CC14_PAIR_OFFSET)] = (rt, _ROLE_LSB)
        elif src.kind == "note":
            table.note[(ch, src.number)] = rt
        elif src.kind == "program":
            table.program[(ch, src.number)] = rt
        else:
            table.pitchbend[ch] = rt
    table.runtimes = tuple(runtimes)
    table.inactive = tuple(inactive)
    return table


@dataclass(slots=True)
class RouterContext:
    """What every port's router shares."""

    sink: ControlSink
    keyboard: Keyboard
    clock: ClockFollower
    learn: LearnCapture
    program_change_scenes: bool = True
    now: Callable[[], float] = time.perf_counter


class PortRouter:
    """The callback of one input port (`controller` names its map)."""

    __slots__ = ("controller", "table", "ctx", "messages", "errors", "last_error", "last_message_s")

    def __init__(self, controller: str, table: RoutingTable, ctx: RouterContext) -> None:
        self.controller = controller
        self.table = table
        self.ctx = ctx
        self.messages = 0
        self.errors = 0
        self.last_error = ""
        self.last_message_s = 0.0

    def __call__(self, msg: MidiMessage) -> None:
        self.receive(msg, self.ctx.now())

    def receive(self, msg: MidiMessage, now: float) -> None:
        """`msg` arrived at `now` (perf_counter seconds; the polled rtmidi path knows it precisely)."""
        try:
            self._route(msg, now)
        except Exception as exc:  # noqa: BLE001 — never raise into the MIDI backend's thread
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"

    def _route(self, msg: MidiMessage, now: float) -> None:
        ctx = self.ctx
        self.messages += 1
        self.last_message_s = now
        t = msg.type
        if t == "clock":
            ctx.clock.tick(now)
            return
        if t in _TRANSPORT:
            ctx.clock.transport(t)
            return
        if t == "songpos":
            ctx.clock.transport(t, msg.pos)
            return
        if ctx.learn.armed and ctx.learn.capture(self.controller, msg, now):
            return
        table = self.table
        rt: BindingRuntime | None
        if t == "control_change":
            ch, n = msg.channel, msg.control
            hit = table.cc.get((ch, n)) or table.cc.get((ANY_CHANNEL, n))
            if hit is not None:
                rt, role = hit
                if role == _ROLE_CC7:
                    rt.on_raw(msg.value)
                else:
                    rt.on_cc14(role == _ROLE_MSB, msg.value)
            else:
                ctx.keyboard.control(ch, n, msg.value)
        elif t == "note_on" or t == "note_off":
            ch, n = msg.channel, msg.note
            velocity = msg.velocity if t == "note_on" else 0
            rt = table.note.get((ch, n)) or table.note.get((ANY_CHANNEL, n))
            if rt is not None:
                rt.on_button(velocity > 0)
            else:
                ctx.keyboard.note(ch, n, velocity)
        elif t == "pitchwheel":
            rt = table.pitchbend.get(msg.channel) or table.pitchbend.get(ANY_CHANNEL)
            if rt is not None:
                rt.on_raw(msg.pitch + 8192)
        elif t == "program_change":
            ch, p = msg.channel, msg.program
            rt = table.program.get((ch, p)) or table.program.get((ANY_CHANNEL, p))
            if rt is not None:
                rt.on_button(True)
            elif ctx.program_change_scenes and p < SCENE_COUNT:
                ctx.sink.trigger(scene_action(p))
