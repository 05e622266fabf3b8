"""`lmd bench clock`: MIDI clock out through a real JACK MIDI port, and Ableton Link between two peers.

MIDI (bench/clock_midi.py): the studio's clock out on a virtual JACK MIDI port, a second process
receiving and timestamping it — tick jitter p95, long-run tempo error, where a 120 → 90 change lands.
A JACK dummy server is started for the run (`--period-frames`, 64 by default: JACK delivers MIDI once per
period, so the period quantises every timestamp; 64 frames at 48 kHz = 1.3 ms) unless one already runs.

Link (bench/clock_link.py): run inside a network namespace made for it (loopback only, link/netns.py), or
skipped with the reason — never on a real network. Two processes: the studio's Link adapter and another
Link app; tempo and phase agreement 2 s after joining, how fast each follows the other's tempo change,
and the clock out's ticks against the Link beat grid.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess

from lmd_studio.bench.clock_midi import measure
from lmd_studio.bench.harness.jack import JackError, JackInfo, ensure_jack_server
from lmd_studio.link.netns import netns_command, netns_unavailable
from lmd_studio.midi.backend import JACK_BACKEND

TARGETS = {"clock_out_jitter_p95_ms": 1.0, "clock_out_tempo_error_bpm": 0.01, "clock_out_change_beats": 1.0,
           "link_tempo_diff_bpm": 0.01, "link_phase_diff_ms": 1.0, "link_follow_beats": 1.0}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=60.0, help="steady phase at --bpm (default 60)")
    p.add_argument("--bpm", type=float, default=120.0)
    p.add_argument("--change-bpm", type=float, default=90.0, help="tempo after the change (default 90)")
    p.add_argument("--backend", default=JACK_BACKEND, help=f"mido backend (default {JACK_BACKEND})")
    p.add_argument("--sample-rate", type=int, default=48000, help="for a JACK server started here")
    p.add_argument("--period-frames", type=int, default=64, help="for a JACK server started here (default 64)")
    p.add_argument("--no-realtime", action="store_true", help="the clock thread without real-time priority")
    p.add_argument("--no-link", action="store_true", help="skip the Ableton Link part")
    p.add_argument("--link-settle-s", type=float, default=2.0, help="time after joining before comparing")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def measure_link(settle_s: float = 2.0, timeout_s: float = 90.0) -> dict:
    """Link figures from inside a fresh loopback-only namespace, or {'skipped': reason}."""
    reason = netns_unavailable()
    if reason is not None:
        return {"skipped": reason}
    out = subprocess.run(netns_command("lmd_studio.bench.clock_link", "--settle-s", str(settle_s)),
                         capture_output=True, text=True, timeout=timeout_s)
    if out.returncode != 0:
        return {"error": (out.stderr.strip() or out.stdout.strip() or f"exit {out.returncode}").splitlines()[-1]}
    return {"namespace": "unshare --net --map-root-user, loopback only", **json.loads(out.stdout)}


def _jack_info(jack: JackInfo | None) -> dict | None:
    if jack is None:
        return None
    return {"server": jack.server_name, "sample_rate_hz": jack.sample_rate_hz, "period_frames": jack.period_frames,
            "period_ms": jack.period_ms, "started_here": jack.started_here}


def _fmt(v, unit: str = "", digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}{unit}"


def _check(name: str, value) -> str:
    target = TARGETS.get(name)
    if target is None or value is None:
        return ""
    return f"  (target ≤ {target:g}: {'ok' if value <= target else 'MISSED'})"


def _table(r: dict) -> str:
    m = r["midi"]
    lines = [f"MIDI clock out ({m['backend']}), {m['seconds']:g} s at {m['bpm']:g} bpm, then {m['change_bpm']:g} bpm"]
    j = r.get("jack")
    if j:
        lines.append(f"  JACK '{j['server']}': {j['sample_rate_hz']} Hz, {j['period_frames']} frames "
                     f"({_fmt(j['period_ms'], ' ms', 2)} period: receive times are quantised to it), "
                     f"{'started by the benchmark' if j['started_here'] else 'already running'}")
    lines += [
        f"  ticks sent / received      {m['ticks_sent']} / {m['ticks_received']} ({m['ticks_missing']} missing); "
        f"Start received: {m['start_received']}; load average {m['load_average_1min']:.1f}",
        f"  tick jitter p95 (received) {_fmt(m['clock_out_jitter_p95_ms'], ' ms')}"
        + _check("clock_out_jitter_p95_ms", m["clock_out_jitter_p95_ms"]),
        f"  tempo error (received)     {_fmt(m['clock_out_tempo_error_bpm'], ' bpm', 4)}"
        + _check("clock_out_tempo_error_bpm", m["clock_out_tempo_error_bpm"])
        + f"  [from rtmidi's stamps: {_fmt(m['stamped_tempo_error_bpm'], ' bpm', 4)}]",
        f"  change lands after         {_fmt(m['clock_out_change_beats'], ' beats', 2)} (asked mid-beat)"
        + _check("clock_out_change_beats", m["clock_out_change_beats"]),
        f"  sender side: jitter p95 {_fmt(m['send_jitter_ms']['p95'], ' ms')}, tempo error "
        f"{_fmt(m['send_tempo_error_bpm'], ' bpm', 5)}, change on a beat: {m['send_change_on_beat']}, "
        f"real-time thread: {m['sender_realtime']}",
        f"  studio clock-in on the receiver: estimate {_fmt(m['clock_in_estimate_bpm'], ' bpm', 3)}, "
        f"on the new tempo (±0.25) after {_fmt(m['clock_in_settled_beats'], ' beats', 2)}",
    ]
    k = r["link"]
    if "skipped" in k or "error" in k:
        lines.append(f"Ableton Link: {'skipped' if 'skipped' in k else 'FAILED'}: {k.get('skipped') or k.get('error')}")
    else:
        lines += [
            f"Ableton Link ({k['namespace']}): joined in {_fmt(k['link_join_s'], ' s', 2)}",
            f"  tempo difference after {k['settle_s']:g} s  {_fmt(k['link_tempo_diff_bpm'], ' bpm', 4)}"
            + _check("link_tempo_diff_bpm", k["link_tempo_diff_bpm"]),
            f"  phase difference (max)      {_fmt(k['link_phase_diff_ms'], ' ms')}"
            + _check("link_phase_diff_ms", k["link_phase_diff_ms"]),
            f"  studio follows a peer in    {_fmt(k['link_follow_beats'], ' beats')}"
            + _check("link_follow_beats", k["link_follow_beats"]),
            f"  peer follows the studio in  {_fmt(k['link_publish_beats'], ' beats')}",
            f"  clock out on the Link grid: p95 {_fmt(k['clock_out_link_phase_p95_ms'], ' ms')} off "
            f"({k['clock_out_link_ticks']} ticks, sender side)",
        ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        uses_jack = "UNIX_JACK" in args.backend
        ctx = (ensure_jack_server(args.sample_rate, args.period_frames) if uses_jack
               else contextlib.nullcontext())
        with ctx as jack:
            midi = measure(args.backend, seconds=args.seconds, bpm=args.bpm, change_bpm=args.change_bpm,
                           realtime_priority=0 if args.no_realtime else 1)
    except (JackError, RuntimeError) as exc:
        print(f"lmd bench clock: {exc}")
        return 2
    link = {"skipped": "--no-link"} if args.no_link else measure_link(args.link_settle_s)
    result = {"midi": midi, "jack": _jack_info(jack), "link": link,
              **{k: midi[k] for k in ("clock_out_jitter_p95_ms", "clock_out_tempo_error_bpm", "clock_out_change_beats")},
              **{k: link.get(k) for k in ("link_tempo_diff_bpm", "link_phase_diff_ms", "link_follow_beats")}}
    print(json.dumps(result, indent=2) if args.json else _table(result))
    return 0
