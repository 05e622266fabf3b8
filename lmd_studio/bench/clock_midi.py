"""MIDI clock out measured through a real MIDI system: the studio's `ClockOut` on a virtual port, a second
process (`clock_probe`) timestamping what arrives and following it with the studio's own clock-in.

Phase 1: `seconds` at `bpm`, playing. Phase 2: the tempo changes to `change_bpm` (as the BPM control
would set it) and runs `change_beats` beats. From the receiver's timestamps:
- jitter: |tick interval − 60/(24·bpm)|, p95 over phase 1;
- tempo error: the least-squares slope of arrival time against tick number over all of phase 1, as bpm
  (received ticks are numbered from the gaps between them, so a lost tick costs nothing but itself). The
  arrival time here is when the receiver read the tick (its perf_counter): rtmidi's own stamps, used for
  the jitter, fall behind in steps under load (see clock_probe), which would read as a tempo error;
- change: where the received ticks switch from the old spacing to the new (the best two-segment fit with
  the two known spacings), in beats of the old tempo after the change was asked for — the design says
  the new tempo starts at the next beat; the change is asked for mid-beat, so this is 0.5 (plus the MIDI
  system's latency), and never more than 1.
The same figures from the sender's own send times show what the sender does before the MIDI system adds
its part. Under JACK the receive times are `jack_get_time()` of the process cycle that delivered each
message (rtmidi's timestamp; it does not expose the frame within the period) and rtmidi sends at the start
of the next cycle, so the wire is quantised to the JACK period: measure with a small period (-p 64).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from lmd_studio.bench.harness.clock_probe import ClockProbeProcess
from lmd_studio.midi.backend import MidiBackend
from lmd_studio.midi.clock import TICKS_PER_BEAT
from lmd_studio.midi.clock_out import ClockOut, ClockOutConfig
from lmd_studio.midi.clock_schedule import tick_s


def tick_numbers(times: np.ndarray, *spacings_s: float) -> np.ndarray:
    """Tick numbers of received ticks, counting a tick lost on the way (a JACK cycle dropped under load)
    where a gap spans several ticks: each gap is the whole number of one of `spacings_s` nearest to it.
    As in the clock follower, ticks that come under half a spacing after a long gap were held up, not
    lost: the long gap is counted back to one tick."""
    if len(times) == 0:
        return np.zeros(0, dtype=np.int64)
    gaps = np.diff(times)
    steps = np.ones(len(gaps), dtype=np.int64)
    for i, gap in enumerate(gaps):
        steps[i] = min((abs(gap - n * s), n) for s in spacings_s for n in (max(1, round(gap / s)),))[1]
        bunched = gap < 0.5 * min(spacings_s)
        if bunched and i > 0 and steps[i - 1] > 1:
            steps[i - 1] = 1
    return np.concatenate([[0], np.cumsum(steps)])


def jitter_ms(times: np.ndarray, bpm: float, k: np.ndarray | None = None) -> np.ndarray:
    """|interval − nominal| of consecutive ticks (both received: intervals across a lost tick are left
    out), ms. `k`: the ticks' numbers if known, else counted from the gaps."""
    k = tick_numbers(times, tick_s(bpm)) if k is None else k
    consecutive = np.diff(k) == 1
    return np.abs(np.diff(times)[consecutive] - tick_s(bpm)) * 1000.0


def fitted_bpm(times: np.ndarray, k: np.ndarray | None = None) -> float:
    """Tempo from the least-squares slope of tick time against tick number."""
    k = np.arange(len(times), dtype=np.float64) if k is None else k.astype(np.float64)
    slope = np.polyfit(k, times - times[0], 1)[0]
    return 60.0 / (TICKS_PER_BEAT * slope)


def change_index(times: np.ndarray, old_bpm: float, new_bpm: float) -> int:
    """The tick after which the spacing switches from the old tempo's to the new one's: the split c whose
    two-segment model (old spacing up to tick c, new spacing after it, one free offset) fits best."""
    n = len(times)
    k = tick_numbers(times, tick_s(old_bpm), tick_s(new_bpm)).astype(np.float64)
    best_c, best_err = 0, np.inf
    for c in range(1, n - 1):
        model = np.where(k <= k[c], (k - k[c]) * tick_s(old_bpm), (k - k[c]) * tick_s(new_bpm))
        resid = times - model
        err = float(np.sum((resid - resid.mean()) ** 2))
        if err < best_err:
            best_c, best_err = c, err
    return best_c


def _stats(x: np.ndarray) -> dict[str, float | None]:
    if len(x) == 0:
        return {"p50": None, "p95": None, "max": None}
    return {"p50": float(np.median(x)), "p95": float(np.percentile(x, 95)), "max": float(x.max())}


def measure(backend: str, seconds: float = 60.0, bpm: float = 120.0, change_bpm: float = 90.0,
            change_beats: float = 8.0, realtime_priority: int = 1) -> dict[str, Any]:
    port_name = f"LMD Studio Clock bench {os.getpid()}"  # never collides with a running studio's port
    midi = MidiBackend(backend)
    tempo = [bpm]
    sent: list[tuple[int, float, float]] = []
    try:
        port = midi.open_output(port_name, virtual=True)
        out = ClockOut(port, lambda: tempo[0], ClockOutConfig(port_name=port_name,
                                                              realtime_priority=realtime_priority),
                       on_sent=lambda tick, due, t, msgs: sent.append((tick, due, t)))
        with ClockProbeProcess(backend) as probe:
            probe.request("listen", name=port_name)
            out.start()
            time.sleep(0.5)  # the receiver sees ticks before Start, as a drum machine would
            probe.request("take")
            out.play()
            sent.clear()
            time.sleep(seconds + 0.5 * 60.0 / bpm)  # Start went out on a beat: ask for the change mid-beat
            phase1 = probe.request("take")
            sent1 = list(sent)
            t_change = time.perf_counter()
            tempo[0] = change_bpm
            time.sleep(change_beats * 60.0 / change_bpm + 60.0 / bpm)
            phase2 = probe.request("take")
            sent2 = [s for s in sent if s[2] >= t_change - 1.0]
            out.close()
            metrics = out.metrics
    finally:
        midi.close()

    recv1 = np.asarray(phase1["ticks"])
    send1 = np.asarray([t for _, _, t in sent1[2:]])
    send_k1 = np.asarray([tick for tick, _, _ in sent1[2:]])  # the sender's own tick numbers
    k1 = tick_numbers(recv1, tick_s(bpm))
    polled1 = np.asarray(phase1["polled"])
    polled_k1 = tick_numbers(polled1, tick_s(bpm))
    recv2 = np.asarray(phase1["ticks"][-TICKS_PER_BEAT:] + phase2["ticks"])
    c = change_index(recv2, bpm, change_bpm)
    beat_s = 60.0 / bpm
    # the sender's change, exactly: the first tick its schedule spaced at the new tempo
    due2 = np.asarray([due for _, due, _ in sent2])
    spaced_new = np.flatnonzero(np.abs(np.diff(due2) - tick_s(change_bpm)) < 1e-6)
    c_sent = int(spaced_new[0]) if len(spaced_new) else None
    follower = [(t, b) for kind, t, b in phase2["published"] if kind == "bpm"]
    settled = next((t for t, b in follower if abs(b - change_bpm) <= 0.25), None)
    return {
        "backend": backend, "bpm": bpm, "seconds": seconds, "change_bpm": change_bpm,
        "ticks_sent": len(sent1), "ticks_received": int(len(phase1["ticks"])),
        # gaps of several tick spacings in what arrived (ticks lost, or a stall of the receiving side)
        "ticks_missing": int(k1[-1] + 1 - len(recv1)) if len(recv1) else None,
        "load_average_1min": os.getloadavg()[0],
        "start_received": [e[0] for e in phase1["events"]] == ["start"],
        "clock_out_jitter_p95_ms": _stats(jitter_ms(recv1, bpm, k1))["p95"],
        "clock_out_jitter_ms": _stats(jitter_ms(recv1, bpm, k1)),
        # long-run tempo from the receiver's own clock (poll times): rtmidi's stamps step (clock_probe)
        "clock_out_tempo_error_bpm": abs(fitted_bpm(polled1, polled_k1) - bpm),
        "stamped_tempo_error_bpm": abs(fitted_bpm(recv1, k1) - bpm),
        "polled_jitter_ms": _stats(jitter_ms(polled1, bpm, polled_k1)),
        "clock_out_change_beats": (recv2[c] - t_change) / beat_s,
        "send_jitter_ms": _stats(jitter_ms(send1, bpm, send_k1)),
        "send_tempo_error_bpm": abs(fitted_bpm(send1, send_k1) - bpm),
        "send_change_beats": None if c_sent is None else (due2[c_sent] - t_change) / beat_s,
        "send_change_on_beat": c_sent is not None and sent2[c_sent][0] % TICKS_PER_BEAT == 0,
        "send_late_mean_ms": metrics.late_mean_ms, "send_late_max_ms": metrics.late_max_ms,
        "sender_realtime": metrics.realtime, "reanchors": metrics.reanchors,
        "clock_in_estimate_bpm": phase1["estimate_bpm"],
        "clock_in_settled_beats": None if settled is None else (settled - t_change) / beat_s,
    }
