"""Takes cut off for real: run tests/support/record_child.py and SIGKILL it in the middle of a take."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.record_child import SAMPLE_RATE_HZ

REPO = Path(__file__).resolve().parents[2]


def record_then_kill(path: Path, fmt: str, kill_after_s: float = 2.0) -> int:
    """Run the recording child, SIGKILL it once it reports `kill_after_s` fed; return the last frames fed
    that it reported (every line it printed before dying counts, even those still in the pipe)."""
    child = subprocess.Popen([sys.executable, "-m", "tests.support.record_child", str(path), fmt, "60"],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last_fed = 0
    try:
        deadline = time.monotonic() + 60
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("fed "):
                last_fed = int(line.split()[1])
                if last_fed >= kill_after_s * SAMPLE_RATE_HZ:
                    os.kill(child.pid, signal.SIGKILL)
                    break
            assert time.monotonic() < deadline, "child did not reach the kill point in 60 s"
        rest, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL, f"child was not killed: rc={child.returncode} {err}"
    for line in rest.splitlines():
        if line.startswith("fed "):
            last_fed = int(line.split()[1])
    return last_fed
