"""Scenes: a whole mix (prompts, weights, knob values, "let the model decide" flags) saved in one of 16
slots and recalled with a morph time. Stored in `scenes.json` (schema_version 1); a broken file is moved
aside and the bank starts empty, with a message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmd_studio.settings.jsonfile import UserFileError, backup_broken, read_json_object, write_json_atomic
from lmd_studio.settings.schema import PromptEntry

SCENE_SLOTS = 16  # matches the MIDI "scene_0".."scene_15" actions
SCENES_FORMAT = "lmd-scenes"
SCENES_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Scene:
    name: str
    prompts: tuple[PromptEntry, ...]
    params: tuple[tuple[str, float], ...] = ()  # (parameter name, value), sorted by name
    auto: tuple[str, ...] = ()  # parameters left to the model
    morph_s: float = 2.0

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a scene needs a name")
        if not 0.0 <= self.morph_s <= 60.0:
            raise ValueError(f"scene {self.name!r}: morph_s must be in [0, 60], got {self.morph_s}")
        for key, value in self.params:
            if not isinstance(key, str) or not math.isfinite(value):
                raise ValueError(f"scene {self.name!r}: bad parameter {key!r}={value!r}")
        object.__setattr__(self, "params", tuple(sorted((str(k), float(v)) for k, v in self.params)))

    @property
    def param_values(self) -> dict[str, float]:
        return dict(self.params)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "morph_s": self.morph_s,
                "prompts": [{"text": p.text, "weight": p.weight, "enabled": p.enabled} for p in self.prompts],
                "params": dict(self.params), "auto": list(self.auto)}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Scene:
        try:
            if not isinstance(data, dict):
                raise ValueError("expected an object")
            prompts = tuple(PromptEntry(str(p["text"]), float(p.get("weight", 1.0)), bool(p.get("enabled", True)))
                            for p in data.get("prompts", []))
            params = data.get("params", {})
            if not isinstance(params, dict):
                raise ValueError("params must be an object of name: value")
            auto = data.get("auto", [])
            if not isinstance(auto, list) or not all(isinstance(a, str) for a in auto):
                raise ValueError("auto must be a list of parameter names")
            return cls(name=str(data["name"]), prompts=prompts,
                       params=tuple((str(k), float(v)) for k, v in params.items()),
                       auto=tuple(auto), morph_s=float(data.get("morph_s", 2.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise UserFileError(f"{where}: not a valid scene ({exc})") from exc


@dataclass(frozen=True, slots=True)
class SceneLoad:
    scenes: tuple[Scene | None, ...]
    message: str = ""


class SceneStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> SceneLoad:
        empty: tuple[Scene | None, ...] = (None,) * SCENE_SLOTS
        if not self.path.exists():
            return SceneLoad(empty)
        try:
            data = read_json_object(self.path)
            if data.get("format") != SCENES_FORMAT:
                raise UserFileError(f"{self.path}: not an LMD scenes file (format field missing or wrong)")
            if data.get("schema_version", 0) > SCENES_SCHEMA_VERSION:
                raise UserFileError(f"{self.path}: written by a newer LMD Studio (scenes schema "
                                    f"{data.get('schema_version')})")
            slots = list(empty)
            for key, item in dict(data.get("slots", {})).items():
                index = int(key)
                if not 0 <= index < SCENE_SLOTS:
                    raise UserFileError(f"{self.path}: scene slot {index} outside 0..{SCENE_SLOTS - 1}")
                slots[index] = Scene.from_dict(item, f"{self.path} slot {index}")
            return SceneLoad(tuple(slots))
        except (UserFileError, ValueError, TypeError) as exc:
            try:
                backup = backup_broken(self.path)
                moved = f"it was saved as {backup.name}"
            except OSError as err:
                moved = f"it could not be moved aside ({err.strerror or err})"
            return SceneLoad(empty, message=f"Scenes could not be loaded: {exc}; {moved}; starting with empty scenes.")

    def save(self, scenes: tuple[Scene | None, ...]) -> None:
        if len(scenes) != SCENE_SLOTS:
            raise ValueError(f"a scene bank has {SCENE_SLOTS} slots, got {len(scenes)}")
        write_json_atomic(self.path, {
            "format": SCENES_FORMAT, "schema_version": SCENES_SCHEMA_VERSION,
            "slots": {str(i): s.to_dict() for i, s in enumerate(scenes) if s is not None}})
