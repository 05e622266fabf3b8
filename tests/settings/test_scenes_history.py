from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmd_studio.settings.history import PromptHistory
from lmd_studio.settings.scenes import SCENE_SLOTS, Scene, SceneStore
from lmd_studio.settings.schema import PromptEntry


def _scene(name: str = "verse") -> Scene:
    return Scene(name, (PromptEntry("lo-fi piano", 0.8), PromptEntry("vinyl crackle", 0.3, False)),
                 params=(("temperature", 1.2), ("guidance", 2.5)), auto=("density",), morph_s=4.0)


def test_scene_bank_round_trip(tmp_path: Path) -> None:
    store = SceneStore(tmp_path / "scenes.json")
    bank = [None] * SCENE_SLOTS
    bank[0], bank[5] = _scene("verse"), _scene("chorus")
    store.save(tuple(bank))
    load = store.load()
    assert load.message == "" and load.scenes[0] == _scene("verse") and load.scenes[5] == _scene("chorus")
    assert load.scenes[1] is None and len(load.scenes) == SCENE_SLOTS
    assert load.scenes[0].param_values == {"guidance": 2.5, "temperature": 1.2}


@pytest.mark.parametrize("content", [
    "not json",
    json.dumps({"format": "something-else"}),
    json.dumps({"format": "lmd-scenes", "schema_version": 1, "slots": {"40": {"name": "x", "prompts": []}}}),
    json.dumps({"format": "lmd-scenes", "schema_version": 1, "slots": {"0": {"prompts": []}}}),
])
def test_broken_scene_file_is_moved_aside(tmp_path: Path, content: str) -> None:
    path = tmp_path / "scenes.json"
    path.write_text(content)
    load = SceneStore(path).load()
    assert all(s is None for s in load.scenes)
    assert "scenes.json" in load.message and not path.exists()
    assert [p.read_text() for p in tmp_path.glob("scenes.json.broken-*")] == [content]


def test_scene_validation() -> None:
    with pytest.raises(ValueError, match="name"):
        Scene(" ", ())
    with pytest.raises(ValueError, match="morph_s"):
        Scene("x", (), morph_s=-1)


def test_prompt_history_dedupes_and_persists(tmp_path: Path) -> None:
    h = PromptHistory(tmp_path / "h.json", max_items=3)
    assert h.add("warm  pads") and h.add("Drums") and not h.add("drums")
    assert h.add("warm pads")  # moves to the front
    assert h.items == ("warm pads", "Drums")
    h.add("a")
    h.add("b")
    assert h.items == ("b", "a", "warm pads")
    h.save()
    assert PromptHistory(tmp_path / "h.json").load().items == ("b", "a", "warm pads")


def test_prompt_history_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_text("[")
    h = PromptHistory(path).load()
    assert h.items == () and "h.json" in h.message
