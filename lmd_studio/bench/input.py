"""`lmd bench input`: the audio input through a real JACK server, measured.

1. calibration: the studio (device process, duplex stream) with its outputs patched into its own inputs;
   one click with the device's reported latencies only (`roundtrip_error_ms_reported`), then `calibrate`.
2. a fresh studio with that correction, as after a restart: clicks through the same loop give the
   compensation error (`roundtrip_error_ms`, the largest of the clicks before and after the run);
3. the run: a second JACK client plays a tone (or `--file`) into the studio's inputs for `--seconds` while
   the engine plays and records a take with its input and generated tracks: underruns, device
   underflows, `input_overruns`, the input level against what the player sent, and whether the three
   take files line up (same length; the input track is the player's signal).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lmd_studio.bench.report import print_report

RATE = 48000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=60.0, help="length of the run with the player (s)")
    p.add_argument("--buffer", type=int, default=256, help="device buffer and JACK period (frames)")
    p.add_argument("--channels", default="1,2", help="studio input channels, 1-based")
    p.add_argument("--file", type=Path, default=None, help="what the player plays (default: a 220 Hz tone)")
    p.add_argument("--clicks", type=int, default=3, help="calibration checks before and after the run")
    p.add_argument("--model", default="fake", help="the run's generator: fake (test tones), default, or a folder")
    p.add_argument("--jam", action="store_true", help="jam mode on in the run: the model hears the player")
    p.add_argument("--delay", type=float, default=None, metavar="S",
                   help="generative delay on in the run (implies --jam): the model answers the player S s later")
    p.add_argument("--json", action="store_true", help="print JSON only")


def _studio(channels: tuple[int, ...], correction: int, buffer_frames: int, model: str = "fake",
            jam: bool = False, delay_s: float | None = None) -> Any:
    from lmd_studio.app.engine_parts import build_engine, make_backend, make_mailbox, studio_generator
    from lmd_studio.audio.input_path import InputConfig
    from lmd_studio.core.fake import FakeBlockGenerator
    from lmd_studio.core.generator import BlockGenerator, HearsInput
    from lmd_studio.core.params import DELAY, DELAY_TIME, JAM

    generator: BlockGenerator = (FakeBlockGenerator(sample_rate=RATE, channels=2, block_seconds=0.5, compute_s=0.05)
                                 if model == "fake" else
                                 studio_generator(None if model == "default" else model, threads=1))
    if jam and not isinstance(generator, HearsInput):
        raise RuntimeError(f"model {model!r} cannot jam: it has no input for a partner's audio")
    backend = make_backend("process", buffer_frames=buffer_frames,
                           input_config=InputConfig(channels=channels, latency_correction_frames=correction))
    mailbox = make_mailbox(generator)
    if jam:
        mailbox.set(JAM.name, 1.0)
    if delay_s is not None:
        mailbox.set(DELAY.name, 1.0)
        mailbox.set(DELAY_TIME.name, delay_s)
    parts = build_engine(generator, backend, mailbox)
    parts.start()
    deadline = time.monotonic() + 20
    while parts.input is not None and not parts.input.running and time.monotonic() < deadline:
        time.sleep(0.05)
    if parts.input is None or not parts.input.running:
        message = parts.input.message if parts.input is not None else "no input"
        parts.stop()
        raise RuntimeError(f"the studio's input did not open: {message}")
    return parts


def _loop_back() -> None:
    from lmd_studio.bench.harness import jack_ports

    outs = jack_ports.studio_ports("out")
    jack_ports.route(outs, jack_ports.studio_ports("in", len(outs)))


def _to_speakers() -> None:
    from lmd_studio.bench.harness import jack_ports

    outs = jack_ports.studio_ports("out")
    jack_ports.route(outs, jack_ports.wait_for_ports("system:playback_", len(outs)))


def _clicks(path: Any, n: int) -> list[float]:
    from lmd_studio.audio.calibration import measure_roundtrip

    errors = []
    for _ in range(n):
        m = measure_roundtrip(path)
        if not m.found:
            raise RuntimeError(f"calibration click not found: {m.message}")
        errors.append(m.error_ms)
    return errors


def _calibrate(channels: tuple[int, ...], buffer_frames: int) -> dict[str, Any]:
    from lmd_studio.audio.calibration import calibrate

    parts = _studio(channels, 0, buffer_frames)
    try:
        _loop_back()
        result = calibrate(parts.input)
        if not result.ok:
            raise RuntimeError(f"calibration failed: {result.before.message}")
        return {"reported_roundtrip_frames": parts.input.reported_roundtrip_frames,
                "roundtrip_error_ms_reported": result.before.error_ms,
                "calibration_frames": result.correction_frames}
    finally:
        parts.stop()


def _take_check(path: Path) -> dict[str, Any]:
    import numpy as np
    import soundfile as sf

    from lmd_studio.engine.take_files import track_path

    files = {"mix": path, "input": track_path(path, "input"), "generated": track_path(path, "generated")}
    audio = {k: sf.read(str(f), dtype="float32", always_2d=True)[0] for k, f in files.items()}
    lengths = {k: int(len(a)) for k, a in audio.items()}
    inp = audio["input"]
    return {"take_frames": lengths, "take_lengths_equal": len(set(lengths.values())) == 1,
            "take_input_rms_dbfs": float(20 * np.log10(max(1e-9, float(np.sqrt(np.mean(inp ** 2)))))),
            "take_mix_peak": float(np.abs(audio["mix"]).max())}


def _heard(generator: Any) -> dict[str, Any]:
    """In jam mode: how much of the player the model heard (partner latent frames) and its restarts."""
    from lmd_studio.core.generator import HearsInput

    if not isinstance(generator, HearsInput):
        return {}
    from lmd_studio.model.jam import JamGenerator
    from lmd_studio.model.jam_input import StreamInputSource

    assert isinstance(generator, JamGenerator) and isinstance(generator.source, StreamInputSource)
    s = generator.source
    return {"partner_frames_heard": s.available_frames() - s.first_frame, "partner_restarts": s.restarts}


def _run(channels: tuple[int, ...], correction: int, args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from lmd_studio.bench.harness import jack_ports
    from lmd_studio.bench.harness.jack_player import JackPlayer
    from lmd_studio.engine import commands as cmd
    from lmd_studio.engine.recorder import Recorder
    from lmd_studio.engine.take_tracks import TrackFormat

    parts = _studio(channels, correction, args.buffer, args.model, args.jam or args.delay is not None, args.delay)
    path = parts.input
    try:
        _loop_back()
        before = _clicks(path, args.clicks)
        _to_speakers()
        recorder = Recorder()
        parts.capture.add_sink(recorder)
        parts.capture.add_track_sink(recorder)
        parts.engine.send(cmd.Play())
        while not parts.engine.metrics.primed:
            time.sleep(0.01)
        level = 0.5
        with JackPlayer(into=jack_ports.studio_ports("in", len(channels)), tone_hz=220.0, file=args.file,
                        level=level), tempfile.TemporaryDirectory() as tmp:
            time.sleep(0.5)
            m0, s0 = parts.engine.metrics, path.status()
            path.tap.take_level()
            take = recorder.start(Path(tmp) / "take.wav", RATE, 2, "wav", {}, tracks=TrackFormat(len(channels)))
            out0, t0 = parts.engine.output.output_position, time.perf_counter()
            time.sleep(args.seconds)
            out1, t1 = parts.engine.output.output_position, time.perf_counter()
            peak, rms = path.tap.take_level()
            result = recorder.stop()
            m1, s1 = parts.engine.metrics, path.status()
            take_info = _take_check(take) if result.ok else {"take_error": result.error}
        _loop_back()
        after = _clicks(path, args.clicks)
        errors = np.abs(np.array(before + after))
        return {
            "seconds": args.seconds,
            "underruns": m1.underruns - m0.underruns,
            "device_underflows": m1.device_underflows - m0.device_underflows,
            "input_overruns": s1.overruns - s0.overruns,
            "input_overrun_frames": s1.overrun_frames - s0.overrun_frames,
            "input_device_overflows": s1.device_overflows - s0.device_overflows,
            # frames the device clock asked for per wall-clock second (the JACK dummy clock slips under load)
            "device_clock_ratio": (out1 - out0) / ((t1 - t0) * RATE),
            "roundtrip_error_ms": float(errors.max()),
            "roundtrip_errors_ms": [round(e, 3) for e in before + after],
            "input_peak": peak,
            "input_rms_dbfs": float(20 * np.log10(max(rms, 1e-9))),
            "player_rms_dbfs": float(20 * np.log10(level / np.sqrt(2))) if args.file is None else None,
            "aligner_late_frames": parts.capture.aligner.late_frames if parts.capture.aligner else None,
            "generator": parts.generator.name, "jam": args.jam or args.delay is not None, "delay_s": args.delay,
            "generation_rtf": round(m1.rtf, 3),
            **_heard(parts.generator),
            **take_info,
        }
    finally:
        parts.stop()


def run(args: argparse.Namespace) -> int:
    from lmd_studio.audio.devices import load_sounddevice
    from lmd_studio.bench.harness.jack import JackError, ensure_jack_server

    channels = tuple(int(c) for c in args.channels.split(","))
    if args.delay is not None and not 0.5 <= args.delay <= 4.0:
        print(f"lmd bench input: --delay must be between 0.5 and 4 s (the studio's range), got {args.delay}",
              file=sys.stderr)
        return 2
    try:
        with ensure_jack_server(RATE, args.buffer, realtime=True) as server:
            sd = load_sounddevice(refresh=True)
            try:
                cal = _calibrate(channels, args.buffer)
                live = _run(channels, cal["calibration_frames"], args)
            finally:
                sd._terminate()
    except (JackError, RuntimeError) as exc:
        print(f"lmd bench input: {exc}")
        return 1
    result = {"server": server.server_name, "buffer_frames": args.buffer, "input_channels": list(channels),
              **cal, **live}
    rows = [
        ("JACK server", f"{result['server']} · {RATE} Hz · {args.buffer} frames"),
        ("reported round trip", f"{result['reported_roundtrip_frames']} frames"),
        ("  error with it alone", f"{result['roundtrip_error_ms_reported']:+.2f} ms"),
        ("calibration", f"{result['calibration_frames']:+d} frames"),
        ("compensation error (fresh stream)", f"{result['roundtrip_error_ms']:.3f} ms (max of {2 * args.clicks} clicks)"),
        (f"run with the player: {args.seconds:.0f} s", ""),
        ("  underruns / device underflows", f"{result['underruns']} / {result['device_underflows']}"),
        ("  input overruns", str(result["input_overruns"])),
        ("  device clock / wall clock", f"{result['device_clock_ratio']:.4f}"),
        ("  input level rms", f"{result['input_rms_dbfs']:.1f} dBFS (sent {result['player_rms_dbfs'] or 0:.1f})"),
        ("  take files", f"{result.get('take_frames')} equal={result.get('take_lengths_equal')}"),
        ("  generator", f"{result['generator']} · jam {'on' if result['jam'] else 'off'}"
                        + (f" · generative delay {result['delay_s']:g} s" if result.get("delay_s") else "") + " · RTF "
                        f"{result['generation_rtf']}" + (f" · heard {result['partner_frames_heard']} partner frames"
                                                        if "partner_frames_heard" in result else "")),
    ]
    print_report(rows, result, args.json)
    return 0
