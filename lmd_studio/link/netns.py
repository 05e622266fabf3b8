"""Run Link peers where they can only ever reach each other: a new network namespace with loopback only.

Link finds peers by multicast (224.76.78.75:20808) on every interface. Tests and `lmd bench clock` must
never talk on a real network, so they run their peers inside a namespace made for them:
`unshare --net --map-root-user` (a user namespace too, so no root is needed where unprivileged user
namespaces are allowed). There this module's `main` checks that loopback is the only interface (else it
stops, touching nothing), brings loopback up, turns multicast on for it, routes 224.0.0.0/4 through it,
checks that a datagram sent to Link's group comes back, and only then runs the measurement
(`python -m MODULE ARGS`).

`netns_unavailable()` says why namespaces cannot be made here (None when they can): callers skip with it.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys

LINK_GROUP = "224.76.78.75"
LINK_PORT = 20808
UNSHARE = ("unshare", "--net", "--map-root-user")
_SETUP = (("link", "set", "lo", "up"), ("link", "set", "lo", "multicast", "on"),
          ("route", "add", "224.0.0.0/4", "dev", "lo"))


def netns_unavailable() -> str | None:
    """Why a loopback-only namespace cannot be made here, or None."""
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (util-linux / iproute2)"
    try:
        out = subprocess.run([*UNSHARE, "ip", "link", "set", "lo", "up"], capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot create a network namespace: {exc}"
    if out.returncode != 0:
        return f"cannot create a network namespace ({' '.join(UNSHARE)}): {out.stderr.strip() or out.returncode}"
    return None


def netns_command(module: str, *args: str, python: str = sys.executable) -> list[str]:
    """The command that runs `python -m module args` (or, with module "-c", `python -c CODE`) inside a
    fresh loopback-only namespace."""
    return [*UNSHARE, python, "-m", "lmd_studio.link.netns", module, *args]


def setup_loopback() -> None:
    """Inside the namespace: loopback up, with multicast through it."""
    for args in _SETUP:
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def check_only_loopback() -> None:
    """Refuse to go on (before touching any interface) unless loopback is the only one: a new namespace."""
    names = [name for _, name in socket.if_nameindex()]
    if names != ["lo"]:
        raise RuntimeError(f"not an isolated network namespace (interfaces {names}): nothing was changed")


def check_multicast() -> None:
    """Refuse to go on unless a datagram sent to Link's multicast group comes back on loopback."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        rx.bind(("", LINK_PORT))
        rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                      struct.pack("4s4s", socket.inet_aton(LINK_GROUP), socket.inet_aton("127.0.0.1")))
        rx.settimeout(2.0)
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        tx.sendto(b"lmd-netns-check", (LINK_GROUP, LINK_PORT))
        data, _ = rx.recvfrom(64)
        if data != b"lmd-netns-check":
            raise RuntimeError("multicast on loopback returned something else")
    except OSError as exc:
        raise RuntimeError(f"multicast on loopback does not work in the namespace: {exc}") from exc
    finally:
        rx.close()
        tx.close()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m lmd_studio.link.netns MODULE [ARGS...] (inside unshare --net)", file=sys.stderr)
        return 2
    try:
        check_only_loopback()
        setup_loopback()
        check_multicast()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"netns: {exc}", file=sys.stderr)
        return 3
    run = argv if argv[0] == "-c" else ["-m", *argv]  # MODULE ARGS, or -c CODE
    os.execv(sys.executable, [sys.executable, *run])  # replaces this process: never returns


if __name__ == "__main__":
    sys.exit(main())
