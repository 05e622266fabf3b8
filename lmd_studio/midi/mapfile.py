"""MIDI maps: the bindings of one controller, saved as JSON with a schema_version.

A map file is parsed once, here, into a `MidiMap`; any problem raises `MidiMapError` naming the file and
the reason, and the file is never rewritten by a failed load. Saving writes a temporary file next to the
target and renames it over, so a crash mid-save cannot leave half a map behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from lmd_studio.midi.bindings import Binding, MidiSource

SCHEMA_VERSION = 1
FILE_SUFFIX = ".midimap.json"
_BINDING_FIELDS = {f.name for f in fields(Binding)} - {"source"}


class MidiMapError(ValueError):
    """A map file that cannot be read; the message names the file and the reason."""


@dataclass(frozen=True, slots=True)
class MidiMap:
    controller: str
    bindings: tuple[Binding, ...] = ()

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for b in self.bindings:
            if b.id in seen:
                raise ValueError(f"MIDI map {self.controller!r}: source {b.id} is bound twice")
            seen.add(b.id)

    def get(self, source_id: str) -> Binding | None:
        return next((b for b in self.bindings if b.id == source_id), None)

    def with_binding(self, binding: Binding) -> MidiMap:
        """This map with `binding` added, replacing any binding of the same source (in place)."""
        if self.get(binding.id) is None:
            return replace(self, bindings=self.bindings + (binding,))
        return replace(self, bindings=tuple(binding if b.id == binding.id else b for b in self.bindings))

    def without(self, source_id: str) -> MidiMap:
        return replace(self, bindings=tuple(b for b in self.bindings if b.id != source_id))

    def without_target(self, target: str) -> MidiMap:
        return replace(self, bindings=tuple(b for b in self.bindings if b.target != target))


def map_to_dict(midi_map: MidiMap) -> dict[str, Any]:
    out = []
    for b in midi_map.bindings:
        d: dict[str, Any] = {"source": b.id}
        d.update({name: getattr(b, name) for name in sorted(_BINDING_FIELDS)})
        out.append(d)
    return {"schema_version": SCHEMA_VERSION, "controller": midi_map.controller, "bindings": out}


def map_from_dict(data: Any, origin: str) -> MidiMap:
    """Validate parsed JSON; `origin` (usually the file path) starts every error message."""
    if not isinstance(data, dict):
        raise MidiMapError(f"{origin}: a MIDI map must be a JSON object, got {type(data).__name__}")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise MidiMapError(f"{origin}: missing or non-integer 'schema_version'")
    if version > SCHEMA_VERSION:
        raise MidiMapError(f"{origin}: schema_version {version} was written by a newer LMD Studio "
                           f"(this one reads up to {SCHEMA_VERSION})")
    if version < 1:
        raise MidiMapError(f"{origin}: schema_version must be >= 1, got {version}")
    controller = data.get("controller")
    if not isinstance(controller, str):
        raise MidiMapError(f"{origin}: 'controller' must be a string")
    items = data.get("bindings")
    if not isinstance(items, list):
        raise MidiMapError(f"{origin}: 'bindings' must be a list")
    bindings = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise MidiMapError(f"{origin}: binding #{i} must be an object")
        unknown = set(item) - _BINDING_FIELDS - {"source"}
        if unknown:
            raise MidiMapError(f"{origin}: binding #{i} has unknown field(s) {', '.join(sorted(unknown))}")
        try:
            source = MidiSource.parse_id(str(item["source"]))
            kwargs = {k: v for k, v in item.items() if k != "source"}
            for key in ("range_lo", "range_hi", "smoothing_ms"):
                if key in kwargs and (isinstance(kwargs[key], bool) or not isinstance(kwargs[key], int | float)):
                    raise ValueError(f"{key} must be a number, got {kwargs[key]!r}")
            if "invert" in kwargs and not isinstance(kwargs["invert"], bool):
                raise ValueError(f"invert must be true or false, got {kwargs['invert']!r}")
            bindings.append(Binding(source=source, **kwargs))
        except KeyError as exc:
            raise MidiMapError(f"{origin}: binding #{i} lacks {exc}") from None
        except (TypeError, ValueError) as exc:
            raise MidiMapError(f"{origin}: binding #{i}: {exc}") from None
    try:
        return MidiMap(controller, tuple(bindings))
    except ValueError as exc:
        raise MidiMapError(f"{origin}: {exc}") from None


def load_map(path: Path) -> MidiMap:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MidiMapError(f"{path}: cannot read MIDI map: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MidiMapError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return map_from_dict(data, str(path))


def save_map(midi_map: MidiMap, path: Path) -> None:
    """Write atomically: a temporary file in the same folder, then a rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(map_to_dict(midi_map), indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def controller_file_name(controller: str) -> str:
    """A readable, filesystem-safe, collision-free file name for a controller's map."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", controller).strip("._")[:60] or "controller"
    digest = hashlib.sha1(controller.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}{FILE_SUFFIX}"


class MapStore:
    """The maps folder (the app passes a platformdirs path): one file per controller."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path_for(self, controller: str) -> Path:
        return self.directory / controller_file_name(controller)

    def load(self, controller: str) -> MidiMap:
        """The saved map of `controller`, or an empty one when none was saved. Raises MidiMapError."""
        path = self.path_for(controller)
        if not path.exists():
            return MidiMap(controller)
        loaded = load_map(path)
        return replace(loaded, controller=controller)

    def saved(self) -> tuple[tuple[str, Path, str], ...]:
        """(controller, file, error or "") for every map file in the folder, readable or not."""
        out = []
        for path in sorted(self.directory.glob(f"*{FILE_SUFFIX}")):
            try:
                out.append((load_map(path).controller, path, ""))
            except MidiMapError as exc:
                out.append((path.name[: -len(FILE_SUFFIX)], path, str(exc)))
        return tuple(out)

    def save(self, midi_map: MidiMap) -> Path:
        path = self.path_for(midi_map.controller)
        save_map(midi_map, path)
        return path
