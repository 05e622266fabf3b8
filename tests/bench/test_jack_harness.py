"""A process that crashes while it runs a JACK dummy server takes the server with it (no orphan holding
the server name the next benchmark or test asks for)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmd_studio.bench.harness.jack import jack_available

CRASH = """
import ctypes
from lmd_studio.bench.harness.jack import jack_dummy_server
with jack_dummy_server(48000, 256, name="lmdorphantest"):
    print("up", flush=True)
    ctypes.string_at(0)  # segfault: no clean-up runs
"""


def _servers_named(name: str) -> int:
    count = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"jackd") and name.encode() in cmd:
            count += 1
    return count


@pytest.mark.skipif(not sys.platform.startswith("linux") or not jack_available(), reason="needs Linux and jackd")
def test_a_crashed_owner_leaves_no_server_behind() -> None:
    proc = subprocess.run([sys.executable, "-c", CRASH], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == -11 and "up" in proc.stdout
    deadline = time.monotonic() + 5.0
    while _servers_named("lmdorphantest") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _servers_named("lmdorphantest") == 0
