"""The audio device process: owns PortAudio and the device stream, nothing else.

Started by ProcessAudioBackend as `python -m lmd_studio.audio.audio_child …`. Its callback copies frames
from a shared-memory ring the main process fills, so it never waits for the main process's GIL; with an
input (`--in-shm`) the stream is duplex, one callback and one clock for both directions: the input of each
period goes to a second shared block at the output position that period played, and is mixed into the
output when the parent asks for monitoring (monitor.py). When the device vanishes this process is simply
killed and a fresh one started: PortAudio (whose JACK host API can hang forever once its server died) is
never asked to shut down or re-initialise in the main process.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from lmd_studio.audio import shm_ring as sr
from lmd_studio.audio.devices import (
    AudioDeviceInfo,
    find_input_device,
    find_output_device,
    load_sounddevice,
    set_jack_client_name,
)
from lmd_studio.audio.monitor import MonitorMix


def raise_priority() -> str:
    """Best effort: real-time scheduling for this process (its audio threads inherit it), as audio
    drivers do; else a lower nice value; else nothing. Returns what was obtained."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(15))
        return "SCHED_FIFO 15"
    except (AttributeError, PermissionError, OSError):
        pass
    try:
        os.nice(-10)
        return "nice -10"
    except (AttributeError, PermissionError, OSError):
        return "normal"


def _input_wanted(args: argparse.Namespace) -> tuple[int, ...]:
    return tuple(int(c) - 1 for c in args.in_channels.split(",")) if args.in_shm else ()


def _serve(ring: sr.ShmAudioRing, in_ring: sr.ShmAudioRing | None, args: argparse.Namespace) -> int:
    raise_priority()
    columns = _input_wanted(args)
    try:
        sd = load_sounddevice()
        set_jack_client_name()
        spec = None if args.device in (None, "", "default") else args.device
        info = find_output_device(spec)
        if info is None:
            ring.set_message(f"audio device {spec!r} not found" if spec else "no audio output device")
            ring.ints[sr.STATE] = sr.STATE_FAILED
            return 2
        period_s = args.buffer / args.rate
        last = [0.0]
        mask = sr.LATENESS_SLOTS - 1

        def played(outdata: np.ndarray, status: Any) -> int:
            """The output half of both callbacks: lateness, underflow flags, the ring. Returns the ring position
            the buffer started at."""
            now = time.perf_counter()
            if last[0] > 0.0:
                late_ms = (now - last[0] - period_s) * 1000.0
                ring.lateness_ms[ring.ints[sr.LATE_COUNT] & mask] = late_ms if late_ms > 0.0 else 0.0
                ring.ints[sr.LATE_COUNT] += 1
            last[0] = now
            if status.output_underflow:
                ring.ints[sr.DEVICE_UNDERFLOWS] += 1
            position = int(ring.ints[sr.READ_POS])
            ring.read_into(outdata)
            ring.floats[sr.LAST_CB_S] = now
            ring.ints[sr.CALLBACKS] += 1
            # A device underflow is either the machine's (the server woke late) or ours (this callback ran
            # long): counting the callbacks that took over half a period tells the two apart.
            if time.perf_counter() - now > 0.5 * period_s:
                ring.ints[sr.SLOW_CALLBACKS] += 1
            return position

        # sounddevice ships no types: time_info is a cffi struct, status a CallbackFlags
        def callback(outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            played(outdata, status)

        stream = None
        if in_ring is not None:
            stream = _open_duplex(sd, args, info, ring, in_ring, columns, played)
            if stream is not None:
                try:
                    stream.start()
                except Exception as exc:  # noqa: BLE001 — the input is busy or gone: play without it
                    in_ring.set_message(f"cannot start the input: {exc}")
                    in_ring.ints[sr.STATE] = sr.STATE_FAILED
                    stream.close()
                    stream = None
        if stream is None:
            stream = sd.OutputStream(samplerate=args.rate, blocksize=args.buffer, device=info.index,
                                     channels=args.channels, dtype="float32", callback=callback)
            stream.start()
    except Exception as exc:  # noqa: BLE001 — any failure to open means "no device" to the parent
        ring.set_message(f"cannot open audio device: {exc}")
        ring.ints[sr.STATE] = sr.STATE_FAILED
        return 2
    latency = stream.latency
    ring.floats[sr.OUTPUT_LATENCY_S] = float(latency[1] if isinstance(latency, tuple) else latency)
    if in_ring is not None and isinstance(latency, tuple):
        in_ring.floats[sr.IN_STREAM_LATENCY_S] = float(latency[0] + latency[1])
        in_ring.ints[sr.STATE] = sr.STATE_RUNNING
    ring.set_message(f"{info.name} ({info.host_api})")
    ring.ints[sr.STATE] = sr.STATE_RUNNING
    parent = os.getppid()
    while ring.ints[sr.STATE] == sr.STATE_RUNNING:
        time.sleep(0.05)
        ring.ints[sr.HEARTBEAT] += 1
        if os.getppid() != parent:
            break  # the studio is gone
        if not stream.active:
            ring.set_message("audio device lost")
            ring.ints[sr.STATE] = sr.STATE_FAILED
            return 3
    # asked to stop: close politely, but never hang on a dying device
    closer = threading.Thread(target=lambda: (stream.close(), sd._terminate()), daemon=True)
    closer.start()
    closer.join(1.0)
    return 0


def _open_duplex(sd: Any, args: argparse.Namespace, info: AudioDeviceInfo, ring: sr.ShmAudioRing,
                 in_ring: sr.ShmAudioRing, columns: tuple[int, ...], played: Callable[[np.ndarray, Any], int]) -> Any:
    """A duplex stream (input and output in one callback, one clock) or None, having said in the input
    block's message why the input could not open (the output then opens alone: music before input)."""
    spec = None if args.in_device in (None, "", "default") else args.in_device
    wanted = max(columns) + 1
    in_info = find_input_device(spec, info, wanted)
    if in_info is None:
        where = f"input device {spec!r}" if spec else "an input device"
        in_ring.set_message(f"no {where} with {wanted} input channel{'s' if wanted > 1 else ''}")
        in_ring.ints[sr.STATE] = sr.STATE_FAILED
        return None
    monitor = MonitorMix(columns, args.channels, args.rate, max_frames=max(8192, 4 * args.buffer))

    def callback(indata: np.ndarray, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status.input_overflow:
            in_ring.ints[sr.IN_DEVICE_OVERFLOWS] += 1
        position = played(outdata, status)
        k = int(ring.ints[sr.READ_POS]) - position  # frames the output ring really gave (less on an underflow)
        if k > 0:  # this input lines up with the ring frames just played; the rest had no output position
            in_ring.write_columns_at(position, indata, columns, k)
        if k < frames:
            in_ring.ints[sr.IN_UNPLAYED_FRAMES] += frames - k
        in_ring.floats[sr.IN_ROUNDTRIP_S] = time_info.outputBufferDacTime - time_info.inputBufferAdcTime
        word = int(ring.ints[sr.MONITOR])  # the monitor gain in thousandths, 0 = off (shm_input.monitor_word)
        monitor.process(outdata, indata, word != 0, word * 0.001)

    try:
        stream = sd.Stream(samplerate=args.rate, blocksize=args.buffer, device=(in_info.index, info.index),
                           channels=(wanted, args.channels), dtype="float32", callback=callback)
    except Exception as exc:  # noqa: BLE001 — PortAudioError, ValueError: the input cannot open this way
        in_ring.set_message(f"cannot open the input {in_info.name}: {exc}")
        in_ring.ints[sr.STATE] = sr.STATE_FAILED
        return None
    in_ring.set_message(f"{in_info.name} ({in_info.host_api})")
    return stream


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--shm", required=True)
    p.add_argument("--capacity", type=int, required=True)
    p.add_argument("--channels", type=int, required=True)
    p.add_argument("--rate", type=int, required=True)
    p.add_argument("--buffer", type=int, required=True)
    p.add_argument("--device", default=None)
    p.add_argument("--in-shm", default="", help="the input block; none: output only")
    p.add_argument("--in-capacity", type=int, default=0)
    p.add_argument("--in-channels", default="1", help="device input channels, 1-based, comma-separated")
    p.add_argument("--in-device", default="")
    args = p.parse_args()
    ring = sr.ShmAudioRing(args.capacity, args.channels, name=args.shm)
    in_ring = None
    if args.in_shm:
        in_ring = sr.ShmAudioRing(args.in_capacity, len(args.in_channels.split(",")), name=args.in_shm)
    code = _serve(ring, in_ring, args)
    os._exit(code)  # skip interpreter teardown: PortAudio/JACK may assert or hang in it


if __name__ == "__main__":
    main()
