"""`lmd bench engine`: the real-time engine through an audio server, measured.

Two runs back to back on the same stream settings (JACK dummy server at 48 kHz unless --no-jack):
1. load: a generator that spends `--load` (default 60%) of each block's real-time budget in busy torch
   work on 2 threads, for `--seconds`: underruns and callback lateness;
2. latency: a generator at `--latency-load` (20%), a control change every `--change-every` s: the time
   from `mailbox.set` to the first changed sample leaving the device (engine-measured, see engine/worker.py);
3. quantised: 120 bpm, quantise "bar", a change made in every bar for `--quantised-seconds` (default 60) at
   `--latency-load`: how far from its bar line each change is heard, measured in the audio played
   (engine_quantised.py) → `bar_change_offset_ms_p95`, and underruns.
`--only load|latency|quantised` runs one of them.
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext

from lmd_studio.bench.report import print_report

BPM_LABEL = "120 bpm 4/4"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=60.0, help="length of the load run (s)")
    p.add_argument("--load", type=float, default=0.6, help="fraction of the block budget spent computing")
    p.add_argument("--latency-seconds", type=float, default=30.0, help="length of the latency run (s)")
    p.add_argument("--latency-load", type=float, default=0.2)
    p.add_argument("--change-every", type=float, default=0.7, help="seconds between control changes")
    p.add_argument("--quantised-seconds", type=float, default=60.0,
                   help="length of the quantised-change run (s): a change lands on every bar")
    p.add_argument("--only", choices=("load", "latency", "quantised"), help="run only this part")
    p.add_argument("--block", type=float, default=0.5, help="block length (s)")
    p.add_argument("--buffer", type=int, default=256, help="device buffer (frames)")
    p.add_argument("--no-jack", action="store_true", help="use the default device instead of a JACK dummy server")
    p.add_argument("--json", action="store_true", help="print JSON only")


def _run_phase(generator, seconds: float, buffer_frames: int, change_every_s: float | None):
    import numpy as np

    from lmd_studio.app.engine_parts import build_engine, make_backend, make_mailbox
    from lmd_studio.audio.process_backend import ProcessAudioBackend
    from lmd_studio.engine import commands as cmd

    backend = make_backend("auto", buffer_frames=buffer_frames)
    parts = build_engine(generator, backend, make_mailbox(generator))
    parts.start()
    parts.engine.send(cmd.Play())
    while not parts.engine.metrics.primed:
        time.sleep(0.01)
    time.sleep(0.5)
    base_underruns = parts.engine.metrics.underruns
    base_device = parts.engine.metrics.device_underflows
    parts.engine.output.reset_lateness()
    rng = np.random.default_rng(0)
    t_end = time.perf_counter() + seconds
    next_change = time.perf_counter() + (change_every_s or 0)
    flip = 0
    while time.perf_counter() < t_end:
        if change_every_s and time.perf_counter() >= next_change:
            flip ^= 1
            parts.mailbox.set("brightness", 0.1 + 0.8 * flip)
            parts.mailbox.set("seed", float(rng.integers(0, 9999)))
            parts.engine.wake()
            next_change += change_every_s * (0.8 + 0.4 * rng.random())
        time.sleep(0.005)
    time.sleep(1.0)  # let the last change reach the device
    m = parts.engine.metrics
    latencies = parts.engine.control_latencies_ms()
    status = backend.status()
    parts.stop()
    split = backend.underflow_split() if isinstance(backend, ProcessAudioBackend) else None
    return {
        "device": f"{status.backend}: {status.device_name}",
        "underruns": m.underruns - base_underruns,
        "device_underflows": m.device_underflows - base_device,
        # the device process's late buffers by cause, whole run incl. start-up (None: no device process)
        "underflow_split": None if split is None else {"handoff": split.handoff, "device": split.device,
                                                        "slow_callbacks": split.slow_callbacks,
                                                        "callbacks": split.callbacks},
        "callback_lateness_p99_ms": m.callback_lateness_p99_ms,
        "callback_lateness_max_ms": m.callback_lateness_max_ms,
        "buffer_period_ms": m.buffer_period_ms,
        "rtf": m.rtf,
        "block_ms_mean": m.block_ms_mean,
        "splices": m.splices,
        "latencies_ms": latencies,
    }


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from lmd_studio.audio.devices import load_sounddevice
    from lmd_studio.bench.busy_generator import BusyTorchGenerator
    from lmd_studio.bench.engine_quantised import run_quantised
    from lmd_studio.bench.harness.jack import jack_dummy_server
    from lmd_studio.core.fake import FakeBlockGenerator

    server = nullcontext() if args.no_jack else jack_dummy_server(48000, args.buffer, name="lmdbench", realtime=True)
    load = lat = quant = None
    with server:
        sd = load_sounddevice(refresh=True)
        try:
            if args.only in (None, "load"):
                load_gen = BusyTorchGenerator(FakeBlockGenerator(44100, 1, args.block), args.load, threads=2)
                load = _run_phase(load_gen, args.seconds, args.buffer, None)
            if args.only in (None, "latency"):
                lat_gen = BusyTorchGenerator(FakeBlockGenerator(44100, 1, args.block), args.latency_load,
                                             threads=2)
                lat = _run_phase(lat_gen, args.latency_seconds, args.buffer, args.change_every)
            if args.only in (None, "quantised"):
                quant = run_quantised(lambda fake: BusyTorchGenerator(fake, args.latency_load, threads=2),
                                      args.quantised_seconds, args.buffer, args.block)
        finally:
            sd._terminate()
    device = next(r["device"] for r in (load, lat, quant) if r is not None)
    result: dict = {"device": device, "block_s": args.block, "buffer_frames": args.buffer}
    rows = [("device", device), ("block / buffer", f"{args.block:.2f} s / {args.buffer} frames")]
    if load is not None:
        result.update({
            "load_fraction": args.load,
            "load_rtf_measured": load["rtf"],
            "seconds": args.seconds,
            "underruns": load["underruns"],
            "device_underflows": load["device_underflows"],
            "callback_lateness_p99_ms": load["callback_lateness_p99_ms"],
            "callback_lateness_max_ms": load["callback_lateness_max_ms"],
            "buffer_period_ms": load["buffer_period_ms"],
        })
        rows += [
            (f"load run: {args.seconds:.0f} s at {args.load:.0%} budget",
             f"measured RTF {result['load_rtf_measured']:.2f}, buffer period {result['buffer_period_ms']:.2f} ms"),
            ("  underruns", str(result["underruns"])),
            ("  device underflows", str(result["device_underflows"])),
            ("  callback lateness p99 / max",
             f"{result['callback_lateness_p99_ms']:.2f} / {result['callback_lateness_max_ms']:.2f} ms"),
        ]
    if lat is not None:
        latencies = np.array(lat["latencies_ms"]) if lat["latencies_ms"] else np.array([float("nan")])
        result.update({
            "latency_load_fraction": args.latency_load,
            "latency_rtf_measured": lat["rtf"],
            "control_changes": int(len(lat["latencies_ms"])),
            "control_latency_median_ms": float(np.median(latencies)),
            "control_latency_p95_ms": float(np.percentile(latencies, 95)),
            "control_latency_max_ms": float(np.max(latencies)),
            "latency_run_underruns": lat["underruns"],
        })
        rows += [
            (f"latency run: {args.latency_seconds:.0f} s at {args.latency_load:.0%} budget",
             f"{result['control_changes']} changes, measured RTF {result['latency_rtf_measured']:.2f}"),
            ("  control latency median / p95 / max",
             f"{result['control_latency_median_ms']:.0f} / {result['control_latency_p95_ms']:.0f} / "
             f"{result['control_latency_max_ms']:.0f} ms"),
            ("  underruns", str(result["latency_run_underruns"])),
        ]
    if quant is not None:
        offsets = np.abs(np.array(quant["offsets_ms"])) if quant["offsets_ms"] else np.array([float("nan")])
        result.update({
            "quantised_seconds": args.quantised_seconds,
            "quantised_changes_made": quant["changes_made"],
            "quantised_changes_heard": quant["changes_heard"],
            "bar_change_offset_ms_p95": float(np.percentile(offsets, 95)),
            "bar_change_offset_ms_max": float(np.max(offsets)),
            "quantised_run_underruns": quant["underruns"],
            "quantised_run_device_underflows": quant["device_underflows"],
        })
        rows += [
            (f"quantised run: {args.quantised_seconds:.0f} s at {BPM_LABEL}, a change in every bar",
             f"{result['quantised_changes_made']} made, {result['quantised_changes_heard']} heard"),
            ("  change centre vs bar line p95 / max",
             f"{result['bar_change_offset_ms_p95']:.3f} / {result['bar_change_offset_ms_max']:.3f} ms"),
            ("  underruns / device underflows",
             f"{result['quantised_run_underruns']} / {result['quantised_run_device_underflows']}"),
        ]
    print_report(rows, result, args.json)
    return 0
