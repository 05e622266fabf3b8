"""Another Link app in its own process (plain aalink, not the studio's adapter), for the tests and the bench.

Run as `python -m lmd_studio.link.peer` — only inside a loopback-only namespace (netns.py): it joins
whatever Link session it can find. One JSON command per line on stdin, one JSON answer per line on stdout:
start{bpm, quantum} · samples{n, interval_s} → [[t_s, beat, bpm, peers], ...] · set_tempo{bpm} → t_s ·
wait_peers{n, timeout_s} → t_s · wait_tempo{bpm, timeout_s, tolerance} → t_s · quit. Times are
`time.perf_counter()` seconds (comparable with the other processes on the machine).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from typing import Any

from lmd_studio.link.netns import check_only_loopback


class _Peer:
    def __init__(self) -> None:
        self.link: Any = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, bpm: float = 120.0, quantum: float = 4.0) -> dict:
        check_only_loopback()  # never join a session on a real network

        async def run() -> None:
            from aalink import Link

            link = Link(bpm)
            link.quantum = quantum
            link.enabled = True
            self.link = link
            self._ready.set()
            while not self._stop.is_set():
                await asyncio.sleep(0.01)
            link.enabled = False

        self._thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
        self._thread.start()
        if not self._ready.wait(5.0):
            raise RuntimeError("Link did not start")
        return {}

    def _sample(self) -> list[float]:
        t0 = time.perf_counter()
        beat = self.link.beat
        t1 = time.perf_counter()
        return [0.5 * (t0 + t1), float(beat), float(self.link.tempo), int(self.link.num_peers)]

    def samples(self, n: int = 1, interval_s: float = 0.0) -> dict:
        out = []
        for k in range(n):
            if k:
                time.sleep(interval_s)
            out.append(self._sample())
        return {"samples": out}

    def set_tempo(self, bpm: float) -> dict:
        self.link.tempo = bpm
        return {"t_s": time.perf_counter()}

    def wait_peers(self, n: int = 1, timeout_s: float = 10.0) -> dict:
        deadline = time.perf_counter() + timeout_s
        while self.link.num_peers < n:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{self.link.num_peers} Link peers after {timeout_s:g} s, wanted {n}")
            time.sleep(0.001)
        return {"t_s": time.perf_counter()}

    def wait_tempo(self, bpm: float, timeout_s: float = 10.0, tolerance: float = 0.01) -> dict:
        deadline = time.perf_counter() + timeout_s
        while abs(self.link.tempo - bpm) > tolerance:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"Link tempo {self.link.tempo} after {timeout_s:g} s, wanted {bpm}")
            time.sleep(0.0005)
        return {"t_s": time.perf_counter()}

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)


def main() -> int:
    peer = _Peer()
    print(json.dumps({"ok": True, "ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd.pop("op")
        if op == "quit":
            break
        try:
            print(json.dumps({"ok": True, **getattr(peer, op)(**cmd)}), flush=True)
        except Exception as exc:  # noqa: BLE001 — report to the parent, keep serving
            print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
    peer.close()
    return 0


class PeerProcess:
    """The parent's handle on a peer process (the parent must itself be inside the namespace)."""

    def __init__(self, python: str = sys.executable) -> None:
        self.proc = subprocess.Popen([python, "-m", "lmd_studio.link.peer"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self._read()

    def _read(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"Link peer process exited (code {self.proc.poll()})")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"Link peer: {reply.get('error')}")
        return reply

    def request(self, op: str, **kwargs) -> dict:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **kwargs}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)

    def __enter__(self) -> PeerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    sys.exit(main())
