"""Patching JACK ports from the tests and benchmarks, through the JACK command-line tools (jack_lsp,
jack_connect, jack_disconnect), as a user would with a patchbay.

The studio's device process appears as the client "LMD Studio" (audio/devices.JACK_CLIENT_NAME), with
ports `in_0`, `in_1`, … and `out_0`, `out_1`, …; PortAudio connects them to the system ports when it opens.
"""

from __future__ import annotations

import re
import subprocess
import time

from lmd_studio.audio.devices import JACK_CLIENT_NAME
from lmd_studio.core.jack_server import jack_client_env


def _tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), env=jack_client_env(), capture_output=True, text=True, timeout=10)


def ports(prefix: str = "") -> list[str]:
    """Port names on the server starting with `prefix`."""
    out = _tool("jack_lsp")
    return [line for line in out.stdout.splitlines() if line and line.startswith(prefix)]


def connections() -> dict[str, list[str]]:
    """Every port and the ports it is connected to."""
    out = _tool("jack_lsp", "-c")
    result: dict[str, list[str]] = {}
    current = ""
    for line in out.stdout.splitlines():
        if line.startswith((" ", "\t")):
            result.setdefault(current, []).append(line.strip())
        elif line:
            current = line
            result.setdefault(current, [])
    return result


def connect(source: str, destination: str) -> None:
    out = _tool("jack_connect", source, destination)
    if out.returncode != 0 and "already" not in out.stderr:
        raise RuntimeError(f"jack_connect {source} {destination} failed: {out.stderr.strip()}")


def disconnect_all(port: str) -> None:
    """Cut every connection of `port`."""
    for other in connections().get(port, []):
        _tool("jack_disconnect", port, other)


def wait_for_ports(prefix: str, count: int, timeout_s: float = 10.0) -> list[str]:
    """The first `count` ports starting with `prefix`, once that many exist; RuntimeError on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = ports(prefix)
        if len(found) >= count:
            return found[:count]
        if time.monotonic() > deadline:
            raise RuntimeError(f"JACK ports {prefix}* did not appear within {timeout_s:.0f} s (have {found})")
        time.sleep(0.05)


def studio_ports(kind: str, count: int = 2, timeout_s: float = 10.0) -> list[str]:
    """The studio's `in` or `out` ports. JACK numbers a second client of the same name ("LMD Studio-01": a
    process that initialised PortAudio after naming it, such as a test runner, holds the plain name without
    ports), so any client of that name with such ports is the studio."""
    pattern = re.compile(rf"^{re.escape(JACK_CLIENT_NAME)}(-\d+)?:{kind}_\d+$")
    deadline = time.monotonic() + timeout_s
    while True:
        found = [p for p in ports(JACK_CLIENT_NAME) if pattern.match(p)]
        if len(found) >= count:
            return found[:count]
        if time.monotonic() > deadline:
            raise RuntimeError(f"the studio's JACK {kind} ports did not appear within {timeout_s:.0f} s")
        time.sleep(0.05)


def route(sources: list[str], destinations: list[str]) -> None:
    """Connect sources[i] → destinations[i] only: every other connection of these ports is cut first."""
    for port in (*sources, *destinations):
        disconnect_all(port)
    for source, destination in zip(sources, destinations, strict=True):
        connect(source, destination)
