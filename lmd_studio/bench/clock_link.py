"""Ableton Link figures for `lmd bench clock`, measured inside a loopback-only network namespace.

Run only through `netns_command("lmd_studio.bench.clock_link", ...)` (link/netns.py), which makes the
namespace and checks it; `measure` refuses to start anywhere else. Two Link peers in two processes: the
studio's side (LinkSession + TempoBridge + a parameter mailbox, as the app wires them, plus the MIDI clock
out locked to the Link beat grid, sending to a port that records send times) and another app (link.peer,
plain aalink) that already runs a session at `session_bpm` when the studio joins with `studio_bpm` (Link
keeps one of the two sessions, either may win; `merged_bpm` says which).

- tempo and phase `settle_s` after joining: both sample (perf_counter time, beat, tempo); the other's beat
  is carried to the studio's sample time at its tempo, and the difference modulo the quantum (a bar) is
  the phase error (ms at the session's tempo);
- follow: the other app sets a new tempo; beats (at the old tempo) until the studio's mailbox holds it;
- publish: the studio's tempo is set (as the BPM control does); beats until the other app's Link has it;
- clock out on Link: each tick's send time, on the other app's beat grid, should be a whole 24th of a beat:
  the p95 distance from it (ms).
Prints one JSON object (with --json) or an error message and status 1.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time

import numpy as np

from lmd_studio.core.params import STANDARD_PARAMS
from lmd_studio.link.netns import check_only_loopback
from lmd_studio.link.peer import PeerProcess
from lmd_studio.link.session import LinkConfig, LinkSession
from lmd_studio.link.tempo_bridge import TempoBridge
from lmd_studio.midi.clock import TICKS_PER_BEAT
from lmd_studio.midi.clock_out import ClockOut, ClockOutConfig
from lmd_studio.rt.mailbox import ParamMailbox

QUANTUM_BEATS = 4.0


def _wait(predicate, timeout_s: float, what: str, poll_s: float = 0.0005) -> float:
    deadline = time.perf_counter() + timeout_s
    while not predicate():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(poll_s)
    return time.perf_counter()


def _phase_ms(ours: tuple[float, float, float], theirs: list[float]) -> float:
    """Our beat minus theirs at our sample time, modulo the quantum, in ms at their tempo."""
    t_a, beat_a, _ = ours
    t_b, beat_b, bpm_b = theirs[0], theirs[1], theirs[2]
    diff = beat_a - (beat_b + (t_a - t_b) * bpm_b / 60.0)
    diff = (diff + QUANTUM_BEATS / 2) % QUANTUM_BEATS - QUANTUM_BEATS / 2
    return diff * 60.0 / bpm_b * 1000.0


class _SendLog:
    """A MIDI port stand-in that notes when each clock was handed over (the sender's side of the wire)."""

    def __init__(self) -> None:
        self.clock_times: list[float] = []
        self.lock = threading.Lock()

    def send(self, msg) -> None:
        if msg.type == "clock":
            t = time.perf_counter()
            with self.lock:
                self.clock_times.append(t)

    def close(self) -> None: ...


def measure(settle_s: float = 2.0, session_bpm: float = 100.0, studio_bpm: float = 120.0,
            peer_change_bpm: float = 90.0, studio_change_bpm: float = 130.0, clock_seconds: float = 3.0) -> dict:
    check_only_loopback()
    mailbox = ParamMailbox(STANDARD_PARAMS)
    mailbox.set_bpm(studio_bpm)
    with PeerProcess() as peer:
        peer.request("start", bpm=session_bpm, quantum=QUANTUM_BEATS)
        session: LinkSession | None = None

        def publish(bpm: float) -> None:
            assert session is not None
            session.set_tempo(bpm)

        bridge = TempoBridge(lambda: mailbox.bpm, mailbox.set_bpm, publish)
        session = LinkSession(LinkConfig(initial_bpm=studio_bpm, quantum_beats=QUANTUM_BEATS), on_state=bridge.step)
        t_start = time.perf_counter()
        session.start()
        try:
            if session.error:
                raise RuntimeError(session.error)
            t_join = _wait(lambda: session.state().peers >= 1, 10.0, "the studio to see the other peer")
            # when two sessions meet, Link keeps one of them (either may win): wait until all agree
            _wait(lambda: mailbox.bpm is not None and abs(mailbox.bpm - session.state().bpm) < 0.01
                  and abs(peer.request("samples")["samples"][0][2] - mailbox.bpm) < 0.01, 5.0,
                  "the studio and the other peer to agree on a tempo", poll_s=0.01)
            merged_bpm = mailbox.bpm
            time.sleep(settle_s)
            tempo_diffs, phases = [], []
            for _ in range(20):
                ours = session.timeline()
                assert ours is not None
                theirs = peer.request("samples")["samples"][0]
                tempo_diffs.append(abs(ours[2] - theirs[2]))
                phases.append(_phase_ms(ours, theirs))
                time.sleep(0.01)

            old = mailbox.bpm
            t_asked = peer.request("set_tempo", bpm=peer_change_bpm)["t_s"]
            t_followed = _wait(lambda: mailbox.bpm is not None and abs(mailbox.bpm - peer_change_bpm) < 0.01, 5.0,
                               "the studio to follow the other peer's tempo")
            follow_beats = (t_followed - t_asked) * float(old or merged_bpm) / 60.0

            time.sleep(0.2)
            t_set = time.perf_counter()
            mailbox.set_bpm(studio_change_bpm)
            t_seen = peer.request("wait_tempo", bpm=studio_change_bpm, timeout_s=5.0)["t_s"]
            publish_beats = (t_seen - t_set) * peer_change_bpm / 60.0

            log = _SendLog()
            out = ClockOut(log, lambda: mailbox.bpm, ClockOutConfig(), timeline=session.timeline)
            out.start()
            time.sleep(clock_seconds)
            out.close()
            t_b, beat_b, bpm_b, _ = peer.request("samples")["samples"][0]
            ticks = np.asarray(log.clock_times[4:])  # the first ones may predate the lock to the grid
            grid = (beat_b + (ticks - t_b) * bpm_b / 60.0) * TICKS_PER_BEAT
            tick_err_ms = np.abs(grid - np.round(grid)) * 60.0 / (TICKS_PER_BEAT * bpm_b) * 1000.0
            realtime = out.metrics.realtime
        finally:
            session.close()
    return {
        "link_join_s": t_join - t_start,
        "link_tempo_diff_bpm": float(max(tempo_diffs)),
        "link_phase_diff_ms": float(max(abs(p) for p in phases)),
        "link_phase_diff_median_ms": float(np.median(np.abs(phases))),
        "link_follow_beats": follow_beats,
        "link_publish_beats": publish_beats,
        "clock_out_link_phase_p95_ms": float(np.percentile(tick_err_ms, 95)) if len(ticks) else math.nan,
        "clock_out_link_ticks": int(len(ticks)),
        "clock_out_realtime": realtime,
        "settle_s": settle_s, "session_bpm": session_bpm, "studio_bpm": studio_bpm, "merged_bpm": merged_bpm,
        "peer_change_bpm": peer_change_bpm, "studio_change_bpm": studio_change_bpm,
        "bridge": {"published": bridge.published, "followed": bridge.followed},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--settle-s", type=float, default=2.0)
    p.add_argument("--clock-seconds", type=float, default=3.0)
    args = p.parse_args(argv)
    try:
        result = measure(settle_s=args.settle_s, clock_seconds=args.clock_seconds)
    except RuntimeError as exc:
        print(f"link bench: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
