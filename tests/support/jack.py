"""A JACK dummy server for tests: real, clock-paced audio and MIDI with no sound card (ENVIRONMENT.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class JackServer:
    sample_rate_hz: int
    period_frames: int
    server_name: str


def jack_available() -> bool:
    return shutil.which("jackd") is not None and shutil.which("jack_wait") is not None


@contextmanager
def jack_dummy_server(sample_rate_hz: int = 48000, period_frames: int = 256) -> Iterator[JackServer]:
    """Start `jackd -d dummy`, wait until it answers, stop it afterwards."""
    if not jack_available():
        raise RuntimeError("jackd not installed: apt-get install jackd2 (packaging/apt-packages.txt)")
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1", JACK_NO_START_SERVER="1")
    name = os.environ.get("JACK_DEFAULT_SERVER", "default")
    # a stale server from a crashed run would make ours fail to start
    subprocess.run(["jack_wait", "-q"], env=env, capture_output=True, timeout=5)
    proc = subprocess.Popen(
        ["jackd", "--no-realtime", "-d", "dummy", "-r", str(sample_rate_hz), "-p", str(period_frames)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        ready = subprocess.run(["jack_wait", "-w", "-t", "10"], env=env, capture_output=True, timeout=15)
        if ready.returncode != 0 or proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None and proc.stderr else ""
            raise RuntimeError(f"JACK dummy server did not start: {err.strip()[-500:]}")
        time.sleep(0.2)
        yield JackServer(sample_rate_hz, period_frames, name)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
