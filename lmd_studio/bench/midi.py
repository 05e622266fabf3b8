"""`lmd bench midi`: MIDI message sent → value in the engine's parameter mailbox, through JACK MIDI.

A second process (`lmd_studio.bench.harness.midi_player`) connects to the studio's virtual input and sends CC messages
at irregular times; the studio side is the real `MidiService` writing into a real `ParamMailbox`. The
latency of a message is (time its value was stored in the mailbox, so that every later engine snapshot
holds it) − (time the player called send), both `time.perf_counter()` (CLOCK_MONOTONIC, shared by
processes). With `--flood-seconds` it then floods CC at `--flood-rate` and measures probe latency at the
start and the end of the flood, and the resident memory before and after. No torch is imported.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from lmd_studio.bench.harness.jack import JackError, JackInfo, ensure_jack_server
from lmd_studio.bench.harness.midi_player import PlayerProcess
from lmd_studio.core.params import STANDARD_PARAMS
from lmd_studio.midi.backend import JACK_BACKEND
from lmd_studio.midi.bindings import Binding, MidiSource
from lmd_studio.midi.service import MidiConfig, MidiService
from lmd_studio.midi.sink import MailboxSink
from lmd_studio.midi.targets import TargetCatalog
from lmd_studio.rt.actions import ActionMailbox
from lmd_studio.rt.mailbox import ParamMailbox

PROBE_TARGET, PROBE_CC = "guidance", 2
FLOOD_TARGET, FLOOD_CC = "density", 1


class _StampingSink(MailboxSink):
    """The default sink, noting when each probe value has been stored in the parameter mailbox."""

    __slots__ = ("stamps", "_lock")

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.stamps: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def set_value(self, target: str, value: float) -> None:
        super().set_value(target, value)
        if target == PROBE_TARGET:
            t = time.perf_counter()
            with self._lock:
                self.stamps.append((value, t))

    def take(self) -> list[tuple[float, float]]:
        with self._lock:
            out, self.stamps = self.stamps, []
        return out


MATCH_WINDOW_S = 1.0  # probe values repeat every 128 probes, far more than this apart


def match_probe_latencies_ms(sent: list, stamps: list[tuple[float, float]]) -> list[float]:
    """Latency (ms) of each sent probe, matched in order by value within MATCH_WINDOW_S of its send time.
    A lost probe is skipped (it must not match a later probe that reuses its 7-bit value)."""
    spec = STANDARD_PARAMS.spec(PROBE_TARGET)
    out, j = [], 0
    for raw, t_send in sent:
        want = spec.from_normalized(raw / 127.0)
        while j < len(stamps) and stamps[j][1] < t_send:
            j += 1
        k = j
        while k < len(stamps) and stamps[k][1] - t_send <= MATCH_WINDOW_S:
            if abs(stamps[k][0] - want) <= 1e-9:
                out.append((stamps[k][1] - t_send) * 1000.0)
                j = k + 1
                break
            k += 1
    return out


def _stats(latencies_ms: list[float]) -> dict[str, float | None]:
    if not latencies_ms:
        return {"median": None, "p95": None, "max": None, "min": None}
    a = np.asarray(latencies_ms)
    return {"median": float(np.median(a)), "p95": float(np.percentile(a, 95)), "max": float(a.max()),
            "min": float(a.min())}


def _rss_mb() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    return None


def measure(backend: str, count: int, interval_ms: float, flood_rate_hz: float, flood_seconds: float,
            jack: JackInfo | None, seed: int = 0, rtmidi_poll_interval_s: float | None = 0.001) -> dict:
    catalog = TargetCatalog.build(STANDARD_PARAMS)
    params, actions = ParamMailbox(STANDARD_PARAMS), ActionMailbox()
    sink = _StampingSink(params, actions, catalog)
    port_name = f"LMD Studio bench {os.getpid()}"  # never collides with a running studio's port
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as maps, \
            MidiService(sink, Path(maps), backend, MidiConfig(virtual_port_name=port_name,
                                                              rtmidi_poll_interval_s=rtmidi_poll_interval_s),
                        catalog) as service:
        if service.backend_error:
            raise RuntimeError(service.backend_error)
        service.set_binding(port_name, Binding(MidiSource("cc", 0, PROBE_CC), PROBE_TARGET, takeover="jump"))
        service.set_binding(port_name, Binding(MidiSource("cc", 0, FLOOD_CC), FLOOD_TARGET, takeover="jump"))
        with PlayerProcess(backend) as player:
            player.request("connect", name=port_name)
            player.request("cc", control=PROBE_CC, values=[0, 127, 0], interval_s=0.05)  # warm up the path
            time.sleep(0.1)
            sink.take()
            # irregular spacing, so sends land at every phase of the audio period
            values = [(k * 37 + 1) % 128 for k in range(count)]
            sent: list = []
            for v in values:
                sent += player.request("cc", control=PROBE_CC, values=[v], interval_s=0.0)["sent"]
                time.sleep(interval_ms / 1000.0 * rng.uniform(0.5, 1.5))
            time.sleep(0.1)
            lat = match_probe_latencies_ms(sent, sink.take())
            mode = "callbacks" if rtmidi_poll_interval_s is None else f"polled every {rtmidi_poll_interval_s * 1000:g} ms"
            result: dict = {"backend": backend, "rtmidi_input": mode, "messages": count, "received": len(lat),
                            **{f"latency_{k}_ms": v for k, v in _stats(lat).items()}}
            if flood_seconds > 0:
                router_msgs = service.received_messages()
                rss0 = _rss_mb()
                reply = player.request("flood", rate_hz=flood_rate_hz, seconds=flood_seconds, control=FLOOD_CC,
                                       probe_control=PROBE_CC, probe_interval_s=0.02)
                time.sleep(0.2)
                rss1 = _rss_mb()
                probes = reply["probes"]
                flood_lat = match_probe_latencies_ms(probes, sink.take())
                lost_probes = len(probes) - len(flood_lat)
                tenth = max(1, len(flood_lat) // 10)
                received = service.received_messages() - router_msgs
                result["flood"] = {
                    "rate_hz": reply["achieved_rate_hz"], "seconds": flood_seconds, "sent": reply["sent"],
                    "probes": len(probes), "received_total": received,
                    # net: JACK xruns can also deliver a period's MIDI twice, which hides as many losses
                    "lost_total": reply["sent"] + len(probes) - received, "probes_lost": lost_probes,
                    **{f"latency_{k}_ms": v for k, v in _stats(flood_lat).items()},
                    "latency_first_tenth_median_ms": _stats(flood_lat[:tenth])["median"],
                    "latency_last_tenth_median_ms": _stats(flood_lat[-tenth:])["median"],
                    "rss_before_mb": rss0, "rss_after_mb": rss1,
                    "rss_growth_mb": None if rss0 is None or rss1 is None else rss1 - rss0,
                    "final_value_ok": params.get(FLOOD_TARGET) == STANDARD_PARAMS.spec(FLOOD_TARGET)
                    .from_normalized(((reply["sent"] - 1) % 128) / 127.0),
                }
    if jack is not None:
        result["jack"] = {"server": jack.server_name, "sample_rate_hz": jack.sample_rate_hz,
                          "period_frames": jack.period_frames, "period_ms": jack.period_ms,
                          "started_here": jack.started_here}
    return result


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default=JACK_BACKEND, help=f"mido backend (default {JACK_BACKEND})")
    p.add_argument("--count", type=int, default=300, help="probe messages (default 300)")
    p.add_argument("--interval-ms", type=float, default=10.0, help="mean spacing of probes (default 10)")
    p.add_argument("--flood-rate", type=float, default=10_000.0, help="CC messages/s in the flood phase")
    p.add_argument("--flood-seconds", type=float, default=0.0, help="flood phase length (0: skip)")
    p.add_argument("--sample-rate", type=int, default=48000, help="for a JACK server started here")
    p.add_argument("--period-frames", type=int, default=256, help="for a JACK server started here")
    p.add_argument("--poll-ms", type=float, default=1.0, help="rtmidi input poll interval (default 1 ms)")
    p.add_argument("--rtmidi-callbacks", action="store_true",
                   help="read rtmidi inputs through mido's callbacks (in the MIDI system's thread) instead")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _table(r: dict) -> str:
    def ms(v):
        return "n/a" if v is None else f"{v:.2f} ms"

    lines = [f"MIDI → parameter mailbox latency ({r['backend']}, inputs {r['rtmidi_input']})"]
    if "jack" in r:
        j = r["jack"]
        lines.append(f"  JACK server '{j['server']}': {j['sample_rate_hz']} Hz, {j['period_frames']} frames "
                     f"({j['period_ms'] and round(j['period_ms'], 2)} ms period), "
                     f"{'started by the benchmark' if j['started_here'] else 'already running'}")
    lines.append(f"  probes sent / received    {r['messages']} / {r['received']}")
    for k in ("median", "p95", "max", "min"):
        lines.append(f"  latency {k:<18}{ms(r[f'latency_{k}_ms'])}")
    f = r.get("flood")
    if f:
        lines.append(f"  flood: {f['sent']} CC + {f['probes']} probes in {f['seconds']:g} s ({f['rate_hz']:.0f}/s); "
                     f"lost {f['lost_total']} (probes {f['probes_lost']})")
        lines.append(f"    probe latency median {ms(f['latency_median_ms'])}, p95 {ms(f['latency_p95_ms'])}, "
                     f"max {ms(f['latency_max_ms'])}")
        lines.append(f"    first tenth median {ms(f['latency_first_tenth_median_ms'])}, last tenth median "
                     f"{ms(f['latency_last_tenth_median_ms'])}")
        growth = f["rss_growth_mb"]
        lines.append(f"    memory growth {'n/a' if growth is None else f'{growth:+.2f} MB'}, "
                     f"final value {'correct' if f['final_value_ok'] else 'WRONG'}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        uses_jack = "UNIX_JACK" in args.backend
        ctx = ensure_jack_server(args.sample_rate, args.period_frames) if uses_jack else contextlib.nullcontext()
        with ctx as jack:
            poll_s = None if args.rtmidi_callbacks else args.poll_ms / 1000.0
            result = measure(args.backend, args.count, args.interval_ms, args.flood_rate, args.flood_seconds, jack,
                             rtmidi_poll_interval_s=poll_s)
    except (JackError, RuntimeError) as exc:
        print(f"lmd bench midi: {exc}")
        return 2
    print(json.dumps(result, indent=2) if args.json else _table(result))
    return 0
