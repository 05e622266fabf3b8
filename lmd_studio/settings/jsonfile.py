"""Versioned JSON files that are replaced atomically and never crash the app when broken.

Every user file (settings, scenes, prompt history) goes through here: `write_json_atomic` writes a temp
file and renames it over the old one (a crash leaves the old or the new file, never half of one);
`backup_broken` moves an unreadable file aside with a timestamp so the user's data is never silently lost.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from lmd_studio.core.json_file import UserFileError, read_json_object

__all__ = ["UserFileError", "backup_broken", "read_json_object", "write_json_atomic"]


def write_json_atomic(path: Path, content: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(content, indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def backup_broken(path: Path, now: dt.datetime | None = None) -> Path:
    """Rename `path` to `<name>.broken-YYYYmmdd-HHMMSS` (a free name) and return the new path."""
    path = Path(path)
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.broken-{stamp}")
    n = 2
    while target.exists():
        target = path.with_name(f"{path.name}.broken-{stamp}-{n}")
        n += 1
    os.replace(path, target)
    return target
