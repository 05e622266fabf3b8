"""The audio device process: owns PortAudio and the device stream, nothing else.

Started by ProcessAudioBackend as `python -m lmd_studio.audio.audio_child …`. Its callback copies frames
from a shared-memory ring the main process fills, so it never waits for the main process's GIL, and when
the device vanishes this process is simply killed and a fresh one started: PortAudio (whose JACK host API
can hang forever once its server died) is never asked to shut down or re-initialise in the main process.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from typing import Any

import numpy as np

from lmd_studio.audio import shm_ring as sr
from lmd_studio.audio.devices import find_output_device, load_sounddevice


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


def _serve(ring: sr.ShmAudioRing, args: argparse.Namespace) -> int:
    raise_priority()
    try:
        sd = load_sounddevice()
        spec = None if args.device in (None, "", "default") else args.device
        info = find_output_device(spec)
        if info is None:
            ring.set_message(f"audio device {spec!r} not found" if spec else "no audio output device")
            ring.ints[sr.STATE] = sr.STATE_FAILED
            return 2
        period_s = args.buffer / args.rate
        last = [0.0]
        mask = sr.LATENESS_SLOTS - 1

        # sounddevice ships no types: time_info is a cffi struct, status a CallbackFlags
        def callback(outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            now = time.perf_counter()
            if last[0] > 0.0:
                late_ms = (now - last[0] - period_s) * 1000.0
                ring.lateness_ms[ring.ints[sr.LATE_COUNT] & mask] = late_ms if late_ms > 0.0 else 0.0
                ring.ints[sr.LATE_COUNT] += 1
            last[0] = now
            if status.output_underflow:
                ring.ints[sr.DEVICE_UNDERFLOWS] += 1
            ring.read_into(outdata)
            ring.floats[sr.LAST_CB_S] = now
            ring.ints[sr.CALLBACKS] += 1

        stream = sd.OutputStream(samplerate=args.rate, blocksize=args.buffer, device=info.index,
                                 channels=args.channels, dtype="float32", callback=callback)
        stream.start()
    except Exception as exc:  # noqa: BLE001 — any failure to open means "no device" to the parent
        ring.set_message(f"cannot open audio device: {exc}")
        ring.ints[sr.STATE] = sr.STATE_FAILED
        return 2
    ring.floats[sr.OUTPUT_LATENCY_S] = float(stream.latency)
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


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--shm", required=True)
    p.add_argument("--capacity", type=int, required=True)
    p.add_argument("--channels", type=int, required=True)
    p.add_argument("--rate", type=int, required=True)
    p.add_argument("--buffer", type=int, required=True)
    p.add_argument("--device", default=None)
    args = p.parse_args()
    ring = sr.ShmAudioRing(args.capacity, args.channels, name=args.shm)
    code = _serve(ring, args)
    os._exit(code)  # skip interpreter teardown: PortAudio/JACK may assert or hang in it


if __name__ == "__main__":
    main()
