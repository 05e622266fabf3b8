"""A MIDI clock receiver in its own process, for `lmd bench clock` and the integration tests.

Run as `python -m lmd_studio.bench.harness.clock_probe --backend NAME`; one JSON command per line on stdin, one
JSON answer per line on stdout (like harness.midi_player). `listen{name}` connects to a clock output port (e.g. the
studio's "LMD Studio Clock") twice: a raw listener timestamps every message, and the studio's own clock-in
— a `MidiService` with clock following on, i.e. PortRouter → ClockFollower, exactly as in the app — follows
it. `take` returns and clears what arrived: clock tick times, other messages, the tempo the follower
published, and its raw estimate.

Times are `time.perf_counter()` seconds (CLOCK_MONOTONIC: comparable with the sender's process). rtmidi
stamps each message with the MIDI system's time of arrival (under JACK: `jack_get_time()` in the process
cycle that received it, so the stamps are quantised to the JACK period; a late poll by this process does
not add to them, see rtmidi_poll). Measured under load, those stamps fall behind perf_counter in steps
of 6–15 ms a few times a minute while delivery itself stays ~1.5 ms behind the send, so each tick's poll
time ("polled": when this process read it, ≤ 1 ms poll + scheduling late, never drifting) comes too. PlayerProcess-style handle: `ClockProbeProcess`.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from lmd_studio.core.json_child import JsonLineChild, serve_json_lines
from lmd_studio.core.params import STANDARD_PARAMS
from lmd_studio.midi.backend import MidiBackend
from lmd_studio.midi.bindings import MidiMessage
from lmd_studio.midi.clock import ClockConfig
from lmd_studio.midi.service import MidiConfig, MidiService
from lmd_studio.midi.sink import MailboxSink
from lmd_studio.midi.targets import TargetCatalog
from lmd_studio.rt.actions import ActionMailbox
from lmd_studio.rt.mailbox import ParamMailbox


class _Recorder:
    """An input callback with `receive(msg, t_s)`: the poller passes each message's arrival time."""

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self.polled: list[float] = []  # when this process read each tick (perf_counter, no rtmidi deltas)
        self.events: list[tuple[str, float, int]] = []
        self.lock = threading.Lock()

    def receive(self, msg: MidiMessage, t_s: float) -> None:
        with self.lock:
            if msg.type == "clock":
                self.ticks.append(t_s)
                self.polled.append(time.perf_counter())
            else:
                self.events.append((msg.type, t_s, getattr(msg, "pos", 0)))

    def __call__(self, msg: MidiMessage) -> None:  # backends without arrival times
        self.receive(msg, time.perf_counter())

    def take(self) -> tuple[list[float], list[float], list[tuple[str, float, int]]]:
        with self.lock:
            ticks, polled, events = self.ticks, self.polled, self.events
            self.ticks, self.polled, self.events = [], [], []
        return ticks, polled, events


class _LoggingSink(MailboxSink):
    """The default sink, also noting each tempo the clock follower publishes and each action it fires."""

    __slots__ = ("log",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.log: list[tuple[str, float, float]] = []

    def set_bpm(self, bpm: float | None) -> None:
        super().set_bpm(bpm)
        self.log.append(("bpm", time.perf_counter(), -1.0 if bpm is None else bpm))

    def trigger(self, action: str) -> None:
        super().trigger(action)
        self.log.append((action, time.perf_counter(), 0.0))


class _Probe:
    def __init__(self, backend_name: str | None) -> None:
        self.backend = MidiBackend(backend_name)
        self.recorder = _Recorder()
        self.raw: Any = None  # the raw listener's input port (mido ships no types)
        catalog = TargetCatalog.build(STANDARD_PARAMS)
        self.sink = _LoggingSink(ParamMailbox(STANDARD_PARAMS), ActionMailbox(), catalog)
        self._maps = tempfile.TemporaryDirectory()
        config = MidiConfig(virtual_port=False, clock=ClockConfig(enabled=True, follow_transport=True))
        self.service = MidiService(self.sink, Path(self._maps.name), backend_name, config, catalog)
        self.service.start()
        if self.service.backend_error:
            raise RuntimeError(self.service.backend_error)

    def listen(self, name: str, timeout_s: float = 5.0) -> dict[str, Any]:
        deadline = time.perf_counter() + timeout_s
        while True:
            names = self.backend.input_names()
            hit = next((n for n in names if n == name or n.startswith(name + ":")), None)
            if hit is not None:
                break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"no MIDI port matching {name!r} among {names}")
            time.sleep(0.05)
        self.raw = self.backend.open_input(hit, self.recorder)
        status = self.service.open_input(hit)
        if status.state != "open":
            raise RuntimeError(f"clock-in could not open {hit!r}: {status.error}")
        return {"port": hit}

    def take(self) -> dict[str, Any]:
        ticks, polled, events = self.recorder.take()
        log, self.sink.log = self.sink.log, []
        state = self.service.clock_state()
        return {"ticks": ticks, "polled": polled, "events": events, "published": log, "estimate_bpm": self.service.clock.estimate_bpm,
                "playing": state.playing, "beats": state.beats}

    def close(self) -> dict[str, Any]:
        if self.raw is not None:
            self.raw.close()
            self.raw = None
        self.service.close()
        self.backend.close()
        self._maps.cleanup()
        return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None)
    args = parser.parse_args(argv)
    try:
        probe = _Probe(args.backend)
    except Exception as exc:  # noqa: BLE001 — tell the parent why, then exit
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    serve_json_lines(probe, {"ready": True})
    probe.close()
    return 0


class ClockProbeProcess(JsonLineChild):
    """The parent's handle on a MIDI clock probe process (protocol: core/json_child.py)."""

    def __init__(self, backend_name: str, python: str = sys.executable) -> None:
        super().__init__("lmd_studio.bench.harness.clock_probe", ("--backend", backend_name), what="MIDI clock probe", quit_timeout_s=5.0, python=python)


if __name__ == "__main__":
    sys.exit(main())
