"""`lmd bench recording`: what recording costs the capture thread, and how fast takes reach the disk.

Measures, with real files in a temporary folder (or --folder, to test a particular disk):
- Recorder.consume and RetroBuffer.consume per call (the capture thread's cost), median / p99 / max;
- the writer: seconds of audio written per second of wall clock (WAV and FLAC), and one flush's cost;
- RetroBuffer.save_last of the whole buffer, and how long consume() waits while a save copies out.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from lmd_studio.engine.audio_file import AudioFileWriter
from lmd_studio.engine.recorder import Recorder
from lmd_studio.engine.retro import RetroBuffer, RetroConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample-rate", type=int, default=48_000, help="Hz (default 48000)")
    parser.add_argument("--channels", type=int, default=2)
    parser.add_argument("--block", type=int, default=960, help="frames per consume() call (20 ms at 48 kHz)")
    parser.add_argument("--retro-s", type=float, default=300.0, help="retro buffer length to save")
    parser.add_argument("--folder", type=Path, default=None, help="where to write (default: a temp folder)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _stats_us(samples_s: list[float]) -> dict[str, float]:
    a = np.asarray(samples_s) * 1e6
    return {"median_us": float(np.median(a)), "p99_us": float(np.percentile(a, 99)), "max_us": float(a.max())}


def _signal(n: int, channels: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((n, channels)) * 0.2).astype(np.float32)


def _bench_consume(sink, block: np.ndarray, calls: int) -> list[float]:
    times, pos = [], 0
    for _ in range(calls):
        t0 = time.perf_counter()
        sink.consume(block, pos)
        times.append(time.perf_counter() - t0)
        pos += len(block)
    return times


def _bench_writer(folder: Path, fmt: str, sr: int, channels: int, seconds: float) -> dict[str, float]:
    audio = _signal(int(sr * seconds), channels)
    w = AudioFileWriter(folder / f"bench.{fmt}", sr, channels, fmt, overwrite=True)
    flushes = []
    t0 = time.perf_counter()
    for i in range(0, len(audio), sr // 4):  # quarter-second writes, a flush after each (the recorder's cadence)
        w.write(audio[i:i + sr // 4])
        f0 = time.perf_counter()
        w.flush()
        flushes.append(time.perf_counter() - f0)
    w.close()
    wall = time.perf_counter() - t0
    return {"realtime_x": seconds / wall, "flush_median_us": float(np.median(flushes) * 1e6),
            "bytes_per_s_audio": (folder / f"bench.{fmt}").stat().st_size / seconds}


def _capture_loop(retro: RetroBuffer, block: np.ndarray, sr: int, position: list[int],
                  stop: threading.Event, samples: list[float]) -> None:
    """A capture thread at its real cadence (one block per block duration), timing each consume."""
    while not stop.is_set():
        t0 = time.perf_counter()
        retro.consume(block, position[0])
        samples.append(time.perf_counter() - t0)
        position[0] += len(block)
        time.sleep(len(block) / sr)


def run(args: argparse.Namespace) -> int:
    sr, ch = args.sample_rate, args.channels
    block = _signal(args.block, ch, seed=1)
    out: dict[str, object] = {"sample_rate_hz": sr, "channels": ch, "block_frames": args.block}
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        folder = Path(tmp)
        rec = Recorder()
        rec.start(folder / "take.wav", sr, ch)
        calls = int(10 * sr / args.block)  # 10 s of audio, fed as fast as possible
        out["recorder_consume"] = _stats_us(_bench_consume(rec, block, calls))
        result = rec.stop()
        out["recorder_take"] = {"frames": result.frames_written, "dropped_frames": result.dropped_frames}
        for fmt in ("wav", "flac"):
            out[f"writer_{fmt}"] = _bench_writer(folder, fmt, sr, ch, seconds=30.0)

        retro = RetroBuffer(RetroConfig(sr, ch, duration_s=args.retro_s))
        out["retro_memory_mb"] = retro.config.memory_bytes / 1e6
        fill = _signal(sr * 10, ch, seed=2)
        pos = 0
        while pos < retro.config.duration_frames:  # fill it (10 s pieces, not timed)
            retro.consume(fill, pos)
            pos += len(fill)
        out["retro_consume"] = _stats_us(_bench_consume(retro, block, calls))
        position = [pos + calls * args.block]  # shared with the capture thread: the stream goes on
        for fmt in ("wav", "flac"):
            during: list[float] = []
            stop = threading.Event()
            t = threading.Thread(target=_capture_loop, args=(retro, block, sr, position, stop, during))
            t.start()
            t0 = time.perf_counter()
            saved = retro.save_last(args.retro_s, folder / f"retro.{fmt}")
            wall = time.perf_counter() - t0
            stop.set()
            t.join()
            out[f"retro_save_{fmt}"] = {"seconds_saved": saved.duration_s, "wall_s": wall, "error": saved.error,
                                        "consume_during_save": _stats_us(during)}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        _print_table(out)
    return 0


def _print_table(out: dict) -> None:
    print(f"recording bench: {out['sample_rate_hz']} Hz, {out['channels']} ch, {out['block_frames']}-frame blocks")
    for key in ("recorder_consume", "retro_consume"):
        s = out[key]
        print(f"  {key:<22} median {s['median_us']:7.1f} us   p99 {s['p99_us']:7.1f} us   max {s['max_us']:8.1f} us")
    print(f"  recorder_take          {out['recorder_take']}")
    for fmt in ("wav", "flac"):
        w = out[f"writer_{fmt}"]
        print(f"  writer_{fmt:<4}            {w['realtime_x']:6.0f}x real time, flush {w['flush_median_us']:.0f} us, "
              f"{w['bytes_per_s_audio'] / 1e3:.0f} kB per audio second")
    print(f"  retro_memory           {out['retro_memory_mb']:.0f} MB preallocated")
    for fmt in ("wav", "flac"):
        r = out[f"retro_save_{fmt}"]
        c = r["consume_during_save"]
        print(f"  retro_save_{fmt:<4}        {r['seconds_saved']:.0f} s in {r['wall_s']:.2f} s; consume meanwhile "
              f"median {c['median_us']:.0f} us, max {c['max_us']:.0f} us; error={r['error']}")
