"""A JACK dummy server: real, clock-paced audio and MIDI with no sound card (ENVIRONMENT.md).

Used by the test suite and by `lmd bench engine` / `lmd bench midi` on machines without a sound card.
"""

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
def jack_dummy_server(sample_rate_hz: int = 48000, period_frames: int = 256,
                      name: str | None = None) -> Iterator[JackServer]:
    """Start `jackd -n NAME -d dummy`, wait until it answers, stop it afterwards.

    Each test session gets its own server name (exported as JACK_DEFAULT_SERVER, which libjack reads when
    a client connects), so a stray server from another run or another program never gets in the way.
    """
    if not jack_available():
        raise RuntimeError("jackd not installed: apt-get install jackd2 (packaging/apt-packages.txt)")
    name = name or f"lmdtest{os.getpid()}"
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    proc = subprocess.Popen(
        ["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", str(sample_rate_hz), "-p", str(period_frames)],
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
        if previous is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = previous
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
