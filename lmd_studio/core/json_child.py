"""A helper process driven by JSON lines on stdin/stdout: the handle the parent holds and the child's loop.

Benchmarks and tests that need a *second process* on a real port (a MIDI player, a clock receiver, a Link
peer) all speak the same tiny protocol: the child prints {"ok": true, ...} once ready, then answers each
{"op": NAME, ...kwargs} line with {"ok": true, ...result} or {"ok": false, "error": ...}, and stops on
{"op": "quit"}. Stdlib only, so every layer may use it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from typing import Any, TextIO


class JsonLineChild:
    """The parent's handle: start `python -m MODULE ARGS…`, wait for its ready line, send requests."""

    def __init__(self, module: str, args: Iterable[str] = (), *, what: str, quit_timeout_s: float = 5.0,
                 python: str = sys.executable) -> None:
        self.what = what  # named in errors, e.g. "MIDI player"
        self.quit_timeout_s = quit_timeout_s
        self.proc = subprocess.Popen([python, "-m", module, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.what} process exited (code {self.proc.poll()})")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(f"{self.what}: {reply.get('error')}")
        return reply

    def request(self, op: str, **kwargs: Any) -> dict[str, Any]:
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
                self.proc.wait(timeout=self.quit_timeout_s)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)

    def __enter__(self) -> JsonLineChild:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_json_lines(handler: object, ready: dict[str, Any] | None = None, stdin: TextIO | None = None) -> None:
    """The child's loop: announce readiness, then call `handler.<op>(**kwargs)` per line until "quit".
    A failing op is reported to the parent and the loop keeps serving."""
    print(json.dumps({"ok": True, **(ready or {})}), flush=True)
    for line in stdin or sys.stdin:
        cmd = json.loads(line)
        op = cmd.pop("op")
        if op == "quit":
            break
        try:
            print(json.dumps({"ok": True, **getattr(handler, op)(**cmd)}), flush=True)
        except Exception as exc:  # noqa: BLE001 — report to the parent, keep serving
            print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
