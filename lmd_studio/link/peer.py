"""Another Link app in its own process (plain aalink, not the studio's adapter), for the tests and the bench.

Run as `python -m lmd_studio.link.peer` — only inside a loopback-only namespace (netns.py): it joins
whatever Link session it can find. One JSON command per line on stdin, one JSON answer per line on stdout:
start{bpm, quantum} · samples{n, interval_s} → [[t_s, beat, bpm, peers], ...] · set_tempo{bpm} → t_s ·
wait_peers{n, timeout_s} → t_s · wait_tempo{bpm, timeout_s, tolerance} → t_s · quit. Times are
`time.perf_counter()` seconds (comparable with the other processes on the machine).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from typing import Any

from lmd_studio.core.json_child import JsonLineChild, serve_json_lines
from lmd_studio.link.netns import check_only_loopback


class _Peer:
    def __init__(self) -> None:
        self.link: Any = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, bpm: float = 120.0, quantum: float = 4.0) -> dict[str, Any]:
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

    def samples(self, n: int = 1, interval_s: float = 0.0) -> dict[str, Any]:
        out = []
        for k in range(n):
            if k:
                time.sleep(interval_s)
            out.append(self._sample())
        return {"samples": out}

    def set_tempo(self, bpm: float) -> dict[str, Any]:
        self.link.tempo = bpm
        return {"t_s": time.perf_counter()}

    def wait_peers(self, n: int = 1, timeout_s: float = 10.0) -> dict[str, Any]:
        deadline = time.perf_counter() + timeout_s
        while self.link.num_peers < n:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{self.link.num_peers} Link peers after {timeout_s:g} s, wanted {n}")
            time.sleep(0.001)
        return {"t_s": time.perf_counter()}

    def wait_tempo(self, bpm: float, timeout_s: float = 10.0, tolerance: float = 0.01) -> dict[str, Any]:
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
    serve_json_lines(peer, {"ready": True})
    peer.close()
    return 0


class PeerProcess(JsonLineChild):
    """The parent's handle on a Link peer process (the parent must itself be inside the namespace;
    protocol: core/json_child.py)."""

    def __init__(self, python: str = sys.executable) -> None:
        super().__init__("lmd_studio.link.peer", (), what="Link peer", quit_timeout_s=10.0, python=python)


if __name__ == "__main__":
    sys.exit(main())
