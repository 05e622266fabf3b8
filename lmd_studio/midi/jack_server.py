"""A JACK server for the MIDI benchmark: use the running one, or start a dummy one (no sound card needed).

`jackd -d dummy` gives real, clock-paced audio periods and JACK MIDI with no hardware (ENVIRONMENT.md).
JACK delivers MIDI once per period, so the period bounds MIDI latency: at 48 kHz / 256 frames a message
waits 0–5.3 ms for the next period. The server name comes from $JACK_DEFAULT_SERVER, as for every JACK
client; nothing here touches a server it did not start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


class JackError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class JackInfo:
    server_name: str
    sample_rate_hz: int | None
    period_frames: int | None
    started_here: bool

    @property
    def period_ms(self) -> float | None:
        if not self.sample_rate_hz or not self.period_frames:
            return None
        return 1000.0 * self.period_frames / self.sample_rate_hz


def _env() -> dict[str, str]:
    # never let a client autostart a server behind our back; skip the D-Bus device reservation
    return dict(os.environ, JACK_NO_START_SERVER="1", JACK_NO_AUDIO_RESERVATION="1")


def jack_tools_available() -> bool:
    return all(shutil.which(t) for t in ("jackd", "jack_wait"))


def jack_server_running() -> bool:
    out = subprocess.run(["jack_wait", "-c"], env=_env(), capture_output=True, text=True, timeout=10)
    return out.stdout.strip() == "running"


def _query_int(tool: str) -> int | None:
    if shutil.which(tool) is None:
        return None
    out = subprocess.run([tool], env=_env(), capture_output=True, text=True, timeout=10)
    text = out.stdout.strip().split()
    return int(text[-1]) if out.returncode == 0 and text and text[-1].isdigit() else None


@contextmanager
def ensure_jack_server(sample_rate_hz: int = 48000, period_frames: int = 256) -> Iterator[JackInfo]:
    """Yield the running server's facts, or start a dummy server for the duration of the block."""
    if not jack_tools_available():
        raise JackError("JACK is not installed (jackd, jack_wait): apt-get install jackd2")
    name = os.environ.get("JACK_DEFAULT_SERVER", "default")
    if jack_server_running():
        yield JackInfo(name, _query_int("jack_samplerate"), _query_int("jack_bufsize"), started_here=False)
        return
    # a file, not a pipe: jackd logs every xrun, and a full pipe would stall it
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            ["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", str(sample_rate_hz), "-p",
             str(period_frames)],
            env=_env(), stdout=subprocess.DEVNULL, stderr=log,
        )
        try:
            ready = subprocess.run(["jack_wait", "-w", "-t", "10"], env=_env(), capture_output=True, timeout=15)
            if ready.returncode != 0 or proc.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace").strip()[-500:]
                raise JackError(f"the JACK dummy server did not start: {err or 'no answer within 10 s'}")
            yield JackInfo(name, sample_rate_hz, period_frames, started_here=True)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
