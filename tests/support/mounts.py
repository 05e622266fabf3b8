"""Real small or read-only file systems for recorder tests (we run as root in CI and dev containers).

`tiny_filesystem` gives a folder whose file system fills up after `size_kib` (tmpfs; a loop-mounted ext2
image where tmpfs mounts are refused); `read_only_folder` a folder on a read-only bind mount. Root ignores
file permissions, so chmod cannot provoke these errors. Both skip the test, with the reason, only when
the kernel refuses every way of mounting.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


@contextlib.contextmanager
def tiny_filesystem(base: Path, size_kib: int = 256) -> Iterator[Path]:
    mnt = base / "tiny"
    mnt.mkdir()
    tmpfs = _run("mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(mnt))
    if tmpfs.returncode != 0:
        image = base / "tiny.img"
        with open(image, "wb") as f:
            f.truncate(max(size_kib, 128) * 1024)
        steps = [("mkfs.ext2", "-q", "-F", "-m", "0", str(image)), ("mount", "-o", "loop", str(image), str(mnt))]
        for step in steps:
            loop = _run(*step) if shutil.which(step[0]) else None
            if loop is None or loop.returncode != 0:
                why = loop.stderr.strip() if loop is not None else f"{step[0]} not installed"
                pytest.skip(f"cannot make a small file system to fill: tmpfs mount failed "
                            f"({tmpfs.stderr.strip()}); loop mount failed ({why})")
    try:
        yield mnt
    finally:
        _run("umount", "-l", str(mnt))


@contextlib.contextmanager
def read_only_folder(base: Path) -> Iterator[Path]:
    ro = base / "readonly"
    ro.mkdir()
    bind = _run("mount", "--bind", str(ro), str(ro))
    if bind.returncode != 0:
        pytest.skip(f"cannot bind-mount a read-only folder: {bind.stderr.strip()}")
    try:
        remount = _run("mount", "-o", "remount,bind,ro", str(ro))
        if remount.returncode != 0:
            pytest.skip(f"cannot remount the bind mount read-only: {remount.stderr.strip()}")
        yield ro
    finally:
        _run("umount", "-l", str(ro))
