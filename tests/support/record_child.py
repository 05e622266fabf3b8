"""Child process for the SIGKILL test: records a known signal in real time and reports progress.

    python -m tests.support.record_child PATH FMT [SECONDS]

Feeds a Recorder the way the capture thread does (960 frames every 20 ms at 48 kHz, stereo) with
`signal_at`, a deterministic function of the absolute frame index, so the parent can check every sample
that survives. After each block it prints `fed <frames fed> written <frames the writer has written>`.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from lmd_studio.engine.recorder import Recorder

SAMPLE_RATE_HZ = 48_000
CHANNELS = 2
BLOCK_FRAMES = 960


def signal_at(start: int, n_frames: int) -> np.ndarray:
    """float32 [n_frames, 2]: a 440 Hz sine and a non-periodic ramp pattern (an offset error shows)."""
    i = np.arange(start, start + n_frames, dtype=np.int64)
    out = np.empty((n_frames, CHANNELS), dtype=np.float32)
    out[:, 0] = 0.5 * np.sin(2.0 * np.pi * 440.0 * i / SAMPLE_RATE_HZ)
    out[:, 1] = ((i * 7919) % 10007) / 10007.0 - 0.5
    return out


def main(argv: list[str]) -> int:
    path, fmt = argv[0], argv[1]
    seconds = float(argv[2]) if len(argv) > 2 else 60.0
    recorder = Recorder()
    recorder.start(path, SAMPLE_RATE_HZ, CHANNELS, fmt=fmt, metadata={"seed": 7, "prompts": ["crash test"]})
    print("started", flush=True)
    fed = 0
    t0 = time.monotonic()
    while fed < seconds * SAMPLE_RATE_HZ:
        recorder.consume(signal_at(fed, BLOCK_FRAMES), fed)
        fed += BLOCK_FRAMES
        if fed == 24 * BLOCK_FRAMES:  # 0.48 s in: must reach the sidecar well before the kill at 2 s
            recorder.note_event({"type": "prompt", "text": "half a second in"})
        print(f"fed {fed} written {recorder.frames_written}", flush=True)
        time.sleep(max(0.0, t0 + fed / SAMPLE_RATE_HZ - time.monotonic()))  # real-time pacing
    result = recorder.stop()
    print(f"stopped {result.frames_written} {result.error}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
