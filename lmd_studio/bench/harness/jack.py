"""A JACK dummy server for the tests, the benchmarks and `make screenshots`: real, clock-paced audio and
MIDI with no sound card (ENVIRONMENT.md).

`jackd -d dummy` gives real, clock-paced audio periods and JACK MIDI with no hardware. JACK delivers MIDI
once per period, so the period bounds MIDI latency (48 kHz / 256 frames: 0–5.3 ms). Used by the test
suite's `jack_server` fixture, `lmd bench engine|midi|clock` and `make screenshots`. Whether a server
already runs is the product's question too, so that probe lives in core/jack_server.py.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from lmd_studio.core.jack_server import jack_client_env, jack_server_running


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


def _query_int(tool: str) -> int | None:
    if shutil.which(tool) is None:
        return None
    out = subprocess.run([tool], env=jack_client_env(), capture_output=True, text=True, timeout=10)
    text = out.stdout.strip().split()
    return int(text[-1]) if out.returncode == 0 and text and text[-1].isdigit() else None


@dataclass(frozen=True)
class JackServer:
    sample_rate_hz: int
    period_frames: int
    server_name: str


def jack_available() -> bool:
    return shutil.which("jackd") is not None and shutil.which("jack_wait") is not None


# JACK keeps a registry of at most 8 servers in shared memory; a server killed without cleanup leaves
# its slot behind, reclaimed only by a later server *of the same name* (measured: 8 killed servers with
# fresh names fill the registry and every new name then fails). So we only ever use a few fixed names.
TEST_SERVER_NAMES = ("lmdtest0", "lmdtest1", "lmdtest2", "lmdtest3")


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """In the forked child before exec (Linux): SIGTERM when the process that started us dies — even by a
    crash that runs no clean-up — so a benchmark that segfaults does not leave its server holding the name
    the next run wants. (The signal follows the *thread* that forked, so start servers from a thread that
    outlives them, as the fixtures and benchmarks do.)"""
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_jackd(name: str, sample_rate_hz: int = 48000, period_frames: int = 256,
                realtime: bool = False) -> subprocess.Popen | None:
    """Start `jackd -n NAME -d dummy` and wait until it answers; None when it did not come up. The caller
    owns the process (stops or kills it); `jack_dummy_server` below is the managed form."""
    env = jack_client_env()
    proc = subprocess.Popen(
        ["jackd", "-n", name, "--realtime" if realtime else "--no-realtime", "-d", "dummy",
         "-r", str(sample_rate_hz), "-p", str(period_frames)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
    ready = subprocess.run(["jack_wait", "-w", "-t", "10"], env=dict(env, JACK_DEFAULT_SERVER=name),
                           capture_output=True, timeout=15)
    if ready.returncode != 0 or proc.poll() is not None:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        return None
    return proc


def _jackd_running() -> bool:
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "comm").read_text().strip() == "jackd" and "State:\tZ" not in (proc / "status").read_text():
                return True
        except OSError:
            continue
    return False


def clean_stale_registry() -> bool:
    """Remove JACK's shared-memory registry when no server is alive (stale slots from killed servers
    would otherwise block new ones). Returns whether anything was removed."""
    shm = Path("/dev/shm")
    if _jackd_running() or not shm.is_dir():
        return False
    removed = False
    for entry in shm.glob("jack*"):
        if entry.is_file():
            entry.unlink(missing_ok=True)
            removed = True
    return removed


@contextmanager
def jack_dummy_server(sample_rate_hz: int = 48000, period_frames: int = 256,
                      name: str | None = None, realtime: bool = False) -> Iterator[JackServer]:
    """Start `jackd -n NAME -d dummy`, wait until it answers, stop it afterwards.

    The server name is exported as JACK_DEFAULT_SERVER (libjack reads it when a client connects, and
    child processes inherit it), so clients in this process and its children find this server. Without
    an explicit name, the first free name of TEST_SERVER_NAMES is used (another test run may hold one).
    `realtime=True` runs the server's clock at real-time priority, as a user's audio setup does (needs
    the right to; falls back to a normal-priority server when refused).
    """
    if not jack_available():
        raise RuntimeError("jackd not installed: apt-get install jackd2 (packaging/apt-packages.txt)")
    proc = None
    for attempt in range(2):
        for candidate in ([name] if name else TEST_SERVER_NAMES):
            proc = start_jackd(candidate, sample_rate_hz, period_frames, realtime)
            if proc is None and realtime:
                proc = start_jackd(candidate, sample_rate_hz, period_frames, False)
            if proc is not None:
                name = candidate
                break
        if proc is not None or attempt or not clean_stale_registry():
            break
    if proc is None or name is None:
        raise RuntimeError(f"JACK dummy server did not start (tried {name or ', '.join(TEST_SERVER_NAMES)})")
    previous = os.environ.get("JACK_DEFAULT_SERVER")
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    try:
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


@contextmanager
def ensure_jack_server(sample_rate_hz: int = 48000, period_frames: int = 256,
                       name: str | None = None, realtime: bool = True) -> Iterator[JackInfo]:
    """Use the running server (never touching it), or start a dummy one for the duration of the block."""
    if not jack_available():
        raise JackError("JACK is not installed (jackd, jack_wait): apt-get install jackd2")
    if jack_server_running():
        running = os.environ.get("JACK_DEFAULT_SERVER", "default")
        yield JackInfo(running, _query_int("jack_samplerate"), _query_int("jack_bufsize"), started_here=False)
        return
    try:
        server_cm = jack_dummy_server(sample_rate_hz, period_frames, name=name, realtime=realtime)
        server = server_cm.__enter__()
    except RuntimeError as exc:
        raise JackError(str(exc)) from None
    try:
        yield JackInfo(server.server_name, sample_rate_hz, period_frames, started_here=True)
    finally:
        server_cm.__exit__(None, None, None)
