"""A scripted MIDI controller in its own process, for the benchmark and the integration tests.

Run as `python -m lmd_studio.bench.harness.midi_player --backend NAME`; it reads one JSON command per line on stdin
and answers one JSON line on stdout. It either sends into an existing input port (`connect`, e.g. the
studio's virtual "LMD Studio" port) or plays a device the studio opens (`open_virtual`; `close` unplugs
it). Send times are `time.perf_counter()` values, which on Linux (CLOCK_MONOTONIC) are comparable between
processes on one machine, so the receiver can compute latencies. `PlayerProcess` is the parent's handle.

Commands: connect{name, timeout_s} · open_virtual{name} · close · cc{channel, control, values,
interval_s} (sweep) · notes{events: [[note, velocity], ...], channel, interval_s} · clock{bpm, beats,
start, stop} · flood{rate_hz, seconds, channel, control, probe_control, probe_interval_s} · quit.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import mido

from lmd_studio.core.json_child import JsonLineChild, serve_json_lines
from lmd_studio.midi.backend import MidiBackend

_SLEEP_S = 0.0005


def _sleep_until(t_s: float) -> None:
    while True:
        left = t_s - time.perf_counter()
        if left <= 0:
            return
        time.sleep(min(left, 0.002) if left > 0.0015 else 0.0)  # short spin at the end for precision


class _Player:
    def __init__(self, backend_name: str) -> None:
        self.backend = MidiBackend(backend_name)
        self.port: Any = None

    def connect(self, name: str, timeout_s: float = 5.0) -> dict:
        deadline = time.perf_counter() + timeout_s
        while True:
            names = self.backend.output_names()
            hit = next((n for n in names if n == name or n.endswith(":" + name) or n.startswith(name + ":")),
                       None)
            if hit is not None:
                self.port = self.backend.open_output(hit)
                return {"port": hit}
            if time.perf_counter() > deadline:
                raise RuntimeError(f"no output port matching {name!r} among {names}")
            time.sleep(0.05)

    def open_virtual(self, name: str) -> dict:
        self.port = self.backend.open_output(name, virtual=True)
        return {"port": name}

    def close(self) -> dict:
        if self.port is not None:
            self.port.close()
            self.port = None
        return {}

    def _send(self, msg: mido.Message) -> float:
        t = time.perf_counter()
        self.port.send(msg)
        return t

    def cc(self, control: int, values: list[int], channel: int = 0, interval_s: float = 0.01) -> dict:
        sent = []
        start = time.perf_counter()
        for k, v in enumerate(values):
            _sleep_until(start + k * interval_s)
            sent.append((v, self._send(mido.Message("control_change", channel=channel, control=control, value=v))))
        return {"sent": sent}

    def notes(self, events: list[list[int]], channel: int = 0, interval_s: float = 0.01) -> dict:
        for note, velocity in events:
            self._send(mido.Message("note_on", channel=channel, note=note, velocity=velocity))
            time.sleep(interval_s)
        return {"count": len(events)}

    def clock(self, bpm: float, beats: float, start: bool = False, stop: bool = False) -> dict:
        """Ticks on an absolute schedule (lateness does not accumulate into tempo error)."""
        tick_s = 60.0 / (bpm * 24.0)
        if start:
            self._send(mido.Message("start"))
        t0 = time.perf_counter() + tick_s
        n = int(round(beats * 24))
        sent = []
        for k in range(n):
            _sleep_until(t0 + k * tick_s)
            sent.append(self._send(mido.Message("clock")))
        if stop:
            self._send(mido.Message("stop"))
        late = max(t - (t0 + k * tick_s) for k, t in enumerate(sent))
        # the tempo really sent (a starved machine sends late): least squares over the last 96 ticks
        tail = sent[-96:]
        mean_k = (len(tail) - 1) / 2
        mean_t = sum(tail) / len(tail)
        slope = sum((k - mean_k) * (t - mean_t) for k, t in enumerate(tail)) / \
            sum((k - mean_k) ** 2 for k in range(len(tail)))
        return {"ticks": n, "late_max_ms": late * 1000.0, "sent_bpm": 60.0 / (slope * 24.0)}

    def flood(self, rate_hz: float, seconds: float, control: int = 1, probe_control: int = 2,
              probe_interval_s: float = 0.02, channel: int = 0) -> dict:
        """`rate_hz` CC messages on `control`, plus a probe on `probe_control` every `probe_interval_s`
        with a changing value, whose send times let the receiver measure latency under the flood."""
        total = int(rate_hz * seconds)
        start = time.perf_counter()
        next_probe = start
        probes: list[tuple[int, float]] = []
        k = 0
        while k < total:
            now = time.perf_counter()
            due = min(total, int((now - start) * rate_hz) + 1)
            while k < due:
                self.port.send(mido.Message("control_change", channel=channel, control=control, value=k % 128))
                k += 1
            if now >= next_probe:
                v = (len(probes) * 37) % 128  # consecutive probes always differ
                probes.append((v, self._send(mido.Message("control_change", channel=channel,
                                                            control=probe_control, value=v))))
                next_probe += probe_interval_s
            time.sleep(_SLEEP_S)
        elapsed = time.perf_counter() - start
        return {"sent": total, "achieved_rate_hz": total / elapsed, "probes": probes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None)
    args = parser.parse_args(argv)
    player = _Player(args.backend)
    serve_json_lines(player, {"ready": True})
    player.close()
    player.backend.close()
    return 0


class PlayerProcess(JsonLineChild):
    """The parent's handle on a MIDI player process (protocol: core/json_child.py)."""

    def __init__(self, backend_name: str, python: str = sys.executable) -> None:
        super().__init__("lmd_studio.bench.harness.midi_player", ("--backend", backend_name), what="MIDI player", quit_timeout_s=5.0, python=python)


if __name__ == "__main__":
    sys.exit(main())
