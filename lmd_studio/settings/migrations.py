"""Settings migrations: each function lifts a dict from schema version N to N + 1.

Version 1 is the pre-release layout (flat keys, "version" instead of "schema_version"); version 2 groups
audio and MIDI settings. To change the layout: bump `schema.SCHEMA_VERSION`, add `_v2_to_v3` here and a
test with a real v2 file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lmd_studio.settings.schema import SCHEMA_VERSION

Migration = Callable[[dict[str, Any]], dict[str, Any]]


def _v1_to_v2(old: dict[str, Any]) -> dict[str, Any]:
    new = {k: v for k, v in old.items()
           if k not in ("version", "audio_device", "buffer_size", "sample_rate", "threads", "recordings",
                        "midi_input")}
    audio: dict[str, Any] = {}
    if "audio_device" in old:
        audio["device"] = old["audio_device"] if old["audio_device"] is not None else ""
    if "buffer_size" in old:
        audio["buffer_frames"] = old["buffer_size"]
    if "sample_rate" in old:
        audio["sample_rate_hz"] = old["sample_rate"] or 0
    if audio:
        new["audio"] = audio
    if old.get("midi_input"):
        new["midi"] = {"inputs": [old["midi_input"]]}
    if "threads" in old:
        new["torch_threads"] = old["threads"]
    if "recordings" in old:
        new["recordings_dir"] = old["recordings"] or ""
    new["schema_version"] = 2
    return new


MIGRATIONS: dict[int, Migration] = {1: _v1_to_v2}


def file_schema_version(data: dict[str, Any]) -> int:
    """The version a settings dict declares; files without one are the pre-release layout (1)."""
    version = data.get("schema_version", data.get("version", 1))
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"schema_version must be a whole number >= 1, got {version!r}")
    return version


def migrate(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Lift `data` to SCHEMA_VERSION; returns (migrated dict, version it was found at).

    ValueError when the file is newer than this program (it cannot know what a newer layout means)."""
    found = file_schema_version(data)
    if found > SCHEMA_VERSION:
        raise ValueError(f"written by a newer LMD Studio (settings schema {found}; this version reads up to "
                         f"{SCHEMA_VERSION})")
    version = found
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
    return data, found
