from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmd_studio.settings.paths import StudioPaths
from lmd_studio.settings.schema import (
    SCHEMA_VERSION,
    AudioSettings,
    MidiSettings,
    PromptEntry,
    StudioSettings,
    settings_from_dict,
    settings_to_dict,
)
from lmd_studio.settings.store import SettingsStore


def _custom() -> StudioSettings:
    return StudioSettings(audio=AudioSettings(backend="null", device="system", sample_rate_hz=48000,
                                              buffer_frames=512),
                          midi=MidiSettings(inputs=("Knobs 1", "Keys"), follow_clock=False),
                          model="fake", torch_threads=3, record_format="flac", theme="stage", volume_db=-12.5,
                          quantise="beat", prompts=(PromptEntry("dusty jazz", 0.7), PromptEntry("rain", 0.2, False)))


def test_missing_file_is_first_run_with_defaults(tmp_path: Path) -> None:
    load = SettingsStore(tmp_path / "settings.json").load()
    assert load.first_run and load.settings == StudioSettings() and load.message == ""


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "cfg" / "settings.json")
    store.save(_custom())
    load = store.load()
    assert load.settings == _custom()
    assert not load.first_run and load.message == "" and load.backup_path is None
    on_disk = json.loads(store.path.read_text())
    assert on_disk["schema_version"] == SCHEMA_VERSION and on_disk["audio"]["buffer_frames"] == 512


@pytest.mark.parametrize("content", [
    "{ this is not json",
    "[1, 2, 3]",
    json.dumps({"schema_version": 2, "audio": {"buffer_frames": 300}}),
    json.dumps({"schema_version": 2, "torch_threads": "two"}),
    json.dumps({"schema_version": 2, "theme": "neon"}),
    json.dumps({"schema_version": 99}),
    "\udcff".encode("utf-8", "surrogatepass").decode("latin-1"),
])
def test_broken_file_is_backed_up_and_replaced_by_defaults(tmp_path: Path, content: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(content, encoding="latin-1")
    load = SettingsStore(path).load()
    assert load.settings == StudioSettings()
    assert load.backup_path is not None and load.backup_path.read_text(encoding="latin-1") == content
    assert "settings.json" in load.message and load.backup_path.name in load.message
    # the replacement is a valid file with defaults: the next start is quiet
    again = SettingsStore(path).load()
    assert again.settings == StudioSettings() and again.message == ""


def test_error_message_names_the_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 2, "audio": {"sample_rate_hz": 12345}}))
    load = SettingsStore(path).load()
    assert "audio" in load.message and "12345" in load.message


def test_v1_file_is_migrated_and_original_kept(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    v1 = {"version": 1, "audio_device": "USB Audio", "buffer_size": 1024, "sample_rate": 44100, "threads": 4,
          "recordings": "/music/takes", "midi_input": "nanoKONTROL2", "record_format": "flac"}
    path.write_text(json.dumps(v1))
    load = SettingsStore(path).load()
    s = load.settings
    assert load.migrated_from == 1
    assert s.audio == AudioSettings(device="USB Audio", buffer_frames=1024, sample_rate_hz=44100)
    assert s.torch_threads == 4 and s.recordings_dir == "/music/takes" and s.record_format == "flac"
    assert s.midi.inputs == ("nanoKONTROL2",)
    assert json.loads(load.backup_path.read_text()) == v1
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION
    assert SettingsStore(path).load().migrated_from is None  # migrated once, stays migrated


def test_unknown_keys_are_ignored_and_missing_take_defaults() -> None:
    s = settings_from_dict({"schema_version": 2, "future_thing": 1, "audio": {"buffer_frames": 128}})
    assert s.audio.buffer_frames == 128 and s.audio.device == "" and s.theme == "dark"


def test_to_dict_is_json_and_round_trips() -> None:
    data = json.loads(json.dumps(settings_to_dict(_custom())))
    assert settings_from_dict(data) == _custom()


def test_invalid_values_are_rejected_in_constructor() -> None:
    with pytest.raises(ValueError, match="buffer_frames"):
        AudioSettings(buffer_frames=100)
    with pytest.raises(ValueError, match="volume_db"):
        StudioSettings(volume_db=20.0)


def test_quantise_setting_is_validated(tmp_path: Path) -> None:
    assert StudioSettings().quantise == "bar"  # with a tempo set, changes land on the bar line by default
    for grid in ("off", "beat", "bar"):
        assert settings_from_dict({"schema_version": 2, "quantise": grid}).quantise == grid
    with pytest.raises(ValueError, match="quantise must be one of"):
        StudioSettings(quantise="half")
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 2, "quantise": 4}))
    load = SettingsStore(path).load()
    assert "quantise" in load.message and "expected text" in load.message
    assert load.settings.quantise == "bar"  # a bad file gives the defaults, with the message
    path.write_text(json.dumps({"schema_version": 2, "quantise": "sixteenth"}))
    load = SettingsStore(path).load()
    assert "quantise" in load.message and "sixteenth" in load.message


def test_paths_under_root_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMD_STUDIO_HOME", str(tmp_path))
    paths = StudioPaths.default()
    assert paths.settings_file == tmp_path / "config" / "settings.json"
    paths.ensure()
    assert paths.midi_maps_dir.is_dir() and paths.adapters_dir.is_dir()


def test_paths_default_uses_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LMD_STUDIO_HOME", raising=False)
    paths = StudioPaths.default()
    assert "lmd-studio" in str(paths.config_dir) and "lmd-studio" in str(paths.data_dir)
