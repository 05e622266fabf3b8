"""rtmidi input ports read by one polling thread, so that no Python code runs in the MIDI system's thread.

With a callback, python-rtmidi calls into Python from the backend's own thread; under JACK that is JACK's
process thread, which then waits for the GIL (held by whichever Python thread runs: the engine, the GUI,
the garbage collector) while the whole JACK graph (the studio's audio included) waits for it. Here
rtmidi only stores each message in its own lock-free ring (C++), and one "midi-poll" thread drains every
port every `interval_s`, parses with mido and calls the port's callback. Cost: up to `interval_s` more
latency (`idle_interval_s` for the first message after a quiet spell), and one wake-up per interval.
Measured (2 shared cores at load ≈ 6, PortAudio stream on the same JACK server, 3 × 5 s floods of
10,000 CC/s, interleaved): polled 12 underflows in 2906 audio callbacks and 31 of 150,753 messages lost;
callbacks 201 underflows and 205 lost. Median latency: polled 3.5–3.6 ms, callbacks 2.4 ms.
(MidiConfig.rtmidi_poll_interval_s = None restores callbacks;
`lmd bench midi --rtmidi-callbacks` measures that path.)
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import mido
import rtmidi

QUEUE_SIZE = 16384  # messages rtmidi can hold between polls (1.6 s of a 10,000 msg/s flood)
_MAX_PER_PASS = 4096  # bound one pass so a flood on one port cannot starve the others


class PolledInput:
    """An open rtmidi input whose messages reach `callback` from the poller thread."""

    def __init__(self, poller: RtmidiPoller, rt: Any, name: str, callback: Callable[[Any], None]) -> None:
        self._poller = poller
        self._rt = rt
        self.name = name
        self.callback = callback
        # a callback with `receive(msg, t_s)` (PortRouter) also gets each message's arrival time
        self._receive = getattr(callback, "receive", None)
        self._t_last_s: float | None = None
        self.closed = False

    def drain(self) -> int:
        """Deliver what rtmidi holds (bounded per pass); returns how many messages there were.

        Arrival times come from rtmidi's deltas (taken when the message reached rtmidi: under JACK, the
        process cycle it arrived in), anchored to perf_counter and never later than now, so a late poll
        or a stalled Python thread does not bunch them (the clock follower relies on that)."""
        get = self._rt.get_message
        now = time.perf_counter()
        for n in range(_MAX_PER_PASS):
            item = get()
            if item is None:
                return n
            last = self._t_last_s
            t = now if last is None else min(last + item[1], now)
            self._t_last_s = t
            try:
                msg = mido.Message.from_bytes(item[0])
            except ValueError:
                continue  # a malformed message is dropped, as mido's own backend does
            if self._receive is not None:
                self._receive(msg, t)
            else:
                self.callback(msg)
        return _MAX_PER_PASS

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._poller.remove(self)
            with contextlib.suppress(Exception):
                self._rt.close_port()
            self._rt.delete()


class RtmidiPoller:
    """Opens rtmidi inputs on one API and polls them all from a single daemon thread."""

    def __init__(self, api: int, interval_s: float = 0.001, idle_interval_s: float = 0.004,
                 idle_after_s: float = 2.0) -> None:
        if not 0.0001 <= interval_s <= idle_interval_s <= 0.05:
            raise ValueError(f"MIDI poll intervals must satisfy 0.1 ms <= interval <= idle interval <= 50 ms, "
                             f"got {interval_s * 1000:g} ms, {idle_interval_s * 1000:g} ms")
        self._api = api
        self.interval_s = interval_s
        # after `idle_after_s` without a message, poll less often (a quarter of the wake-ups when idle;
        # the first message after a pause waits up to `idle_interval_s`)
        self.idle_interval_s = idle_interval_s
        self.idle_after_s = idle_after_s
        self._ports: list[PolledInput] = []
        self._lock = threading.Lock()  # held by the poller for one pass, and by open/close
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def _new_rt(self, client_name: str | None) -> Any:
        rt = rtmidi.MidiIn(self._api, client_name or "LMD Studio", queue_size_limit=QUEUE_SIZE)
        rt.ignore_types(sysex=True, timing=False, active_sense=True)  # clock must come through
        return rt

    def open(self, name: str, callback: Callable[[Any], None]) -> PolledInput:
        rt = self._new_rt(None)
        try:
            names = rt.get_ports()
            if name not in names:
                raise OSError(f"unknown port {name!r}")
            rt.open_port(names.index(name))
        except BaseException:
            rt.delete()
            raise
        return self._add(PolledInput(self, rt, name, callback))

    def open_virtual(self, name: str, callback: Callable[[Any], None]) -> PolledInput:
        rt = self._new_rt(name)
        try:
            rt.open_virtual_port(name)
        except BaseException:
            rt.delete()
            raise
        return self._add(PolledInput(self, rt, name, callback))

    def _add(self, port: PolledInput) -> PolledInput:
        with self._lock:
            self._ports.append(port)
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="midi-poll", daemon=True)
                self._thread.start()
        return port

    def remove(self, port: PolledInput) -> None:
        with self._lock:
            if port in self._ports:
                self._ports.remove(port)

    def _run(self) -> None:
        last_message_s = time.perf_counter()
        while not self._stop.is_set():
            with self._lock:
                got = sum(port.drain() for port in self._ports)
            now = time.perf_counter()
            if got:
                last_message_s = now
            idle = now - last_message_s > self.idle_after_s
            time.sleep(self.idle_interval_s if idle else self.interval_s)

    def close(self) -> None:
        with self._lock:
            ports = list(self._ports)
        for port in ports:
            port.close()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
