"""An advisory lock that says "this take is still being written", so start-up recovery leaves it alone.

A take's sidecar says `"status": "recording"` from the moment the take starts until its writer finishes,
so the sidecar alone cannot tell a take cut off by a crash from one that is being written right now (by
this process, started a moment after recovery began, or by a second instance of the studio sharing the
recordings folder). The writer therefore holds `flock(LOCK_EX)` on its audio file until the final sidecar
is written; the kernel drops the lock when the process dies, however it dies, so "locked" means "alive".

flock locks belong to an open file description, so a second `open` of the same file in the same process
conflicts too. Where `fcntl` does not exist (Windows) or the file system refuses locks, nothing is locked
and `in_use` answers False: recovery then relies on the rule in recovery.py (one instance per folder).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

if sys.platform != "win32":  # no fcntl on Windows (a platform check, so type checkers follow it too)
    import fcntl


class TakeLock:
    """Holds the lock from construction until `release()` (best effort: never raises)."""

    def __init__(self, audio_path: Path) -> None:
        self.path = Path(audio_path)
        self._fd: int | None = None
        if sys.platform == "win32":
            return
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return
        self._fd = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)  # closing the descriptor drops the lock


def in_use(audio_path: Path) -> bool:
    """True while some live writer holds the take's lock (False when it cannot tell)."""
    if sys.platform == "win32":
        return False
    try:
        fd = os.open(Path(audio_path), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False
