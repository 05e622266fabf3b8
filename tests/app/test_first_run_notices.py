"""What a newcomer is told when things are not as expected: no audio output (one banner, a button to the
audio settings), a default model that is missing or broken (which file, test tones instead, what to do),
and whether this is their first run (the window's welcome)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from lmd_studio.app import engine_parts
from lmd_studio.app.audio_notice import AUDIO_SETTINGS_ACTION, NoSoundNotice, no_sound_text
from lmd_studio.app.bootstrap import build_studio
from lmd_studio.app.engine_parts import build_engine
from lmd_studio.app.model_errors import REINSTALL_HINT
from lmd_studio.app.session import Session
from lmd_studio.app.session_deps import SessionDeps
from lmd_studio.audio.backend import NullAudioBackend
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.settings.paths import StudioPaths
from lmd_studio.settings.store import SettingsStore
from tests.support.model_folders import broken_model_folder

FALLBACK = "no audio output device: playing silently; generation and recording continue"  # process_backend's


def test_no_sound_is_said_once_per_outage() -> None:
    said: list[tuple] = []
    watch = NoSoundNotice(lambda *a, **k: said.append((a, k)), system="Linux")
    for message in ("", FALLBACK, FALLBACK, "audio device lost: playing silently; …", FALLBACK):
        watch.check(message)
    assert len(said) == 1
    (level, text), extra = said[0]
    assert level == "warning" and extra == {"action": AUDIO_SETTINGS_ACTION}
    assert text.startswith("No sound: no audio output device.") and "own clock" in text and "recording" in text
    watch.check("")  # the device came back
    watch.check("audio device lost: playing silently; generation and recording continue")
    assert len(said) == 2 and said[1][0][1].startswith("No sound: audio device lost.")


def test_the_linux_hint_names_the_sound_servers_only_on_linux() -> None:
    assert "PipeWire, PulseAudio or JACK" in no_sound_text(FALLBACK, system="Linux")
    assert "PulseAudio" not in no_sound_text(FALLBACK, system="Darwin")
    assert no_sound_text("", system="Windows").startswith("No sound: no audio output works.")


def test_the_session_turns_the_software_clock_fallback_into_one_banner(tmp_path: Path) -> None:
    paths = StudioPaths.under(tmp_path / "home")
    paths.ensure()
    store = SettingsStore(paths.settings_file)

    def parts_without_a_device(generator, mailbox, audio):  # what the device process reports on a bare machine
        return build_engine(generator, NullAudioBackend(48000, 2, 256, message=FALLBACK), mailbox)

    deps = SessionDeps(paths=paths, settings_store=store, make_generator=lambda s, threads: FakeBlockGenerator(),
                       make_parts=parts_without_a_device, retro_s=5.0)
    s = Session(deps, store.load().settings, FakeBlockGenerator(), model_spec="fake")
    s.start()
    try:
        notices = []
        for _ in range(5):
            s.tick()
            notices += s.take_notices()
            time.sleep(0.01)
        banners = [n for n in notices if n.text.startswith("No sound")]
        assert len(banners) == 1 and banners[0].action == AUDIO_SETTINGS_ACTION and banners[0].level == "warning"
    finally:
        s.shutdown()


@pytest.fixture
def shipped_models(tmp_path: Path, monkeypatch) -> Path:
    """The folder the studio takes its default model from, empty: as if the model had not been installed."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    monkeypatch.setattr(engine_parts, "REPO_MODELS_DIR", folder)
    return folder


def test_a_missing_default_model_is_said_with_the_file_and_what_to_do(tmp_path: Path, shipped_models: Path) -> None:
    s = build_studio(StudioPaths.under(tmp_path / "home"), model=None, audio="null", midi=False, retro_s=5.0)
    try:
        (notice,) = s.take_notices()
        assert notice.level == "warning" and str(shipped_models / "default" / "dit.safetensors") in notice.text
        assert "not installed" in notice.text and "test tones" in notice.text and REINSTALL_HINT in notice.text
        assert s.model.spec == "" and s.model.info().folder is None and s.model.info().compute is None
        s.start()
        job = s.model.load("")  # picking "Default model" from the list again says it again
        end = time.perf_counter() + 10
        while not job.done and time.perf_counter() < end:
            time.sleep(0.01)
        s.tick()
        assert any(n.level == "warning" and "not installed" in n.text for n in s.take_notices())
    finally:
        s.shutdown()


def test_a_broken_default_model_names_the_file_and_says_to_reinstall(tmp_path: Path, shipped_models: Path) -> None:
    _, bad_file = broken_model_folder(shipped_models / "default", "truncated")
    s = build_studio(StudioPaths.under(tmp_path / "home"), model=None, audio="null", midi=False, retro_s=5.0)
    try:
        (notice,) = s.take_notices()
        assert str(bad_file) in notice.text and "Playing test tones instead" in notice.text
        assert REINSTALL_HINT in notice.text and "lmd model export" not in notice.text  # no developer tools
        assert s.model.spec == "fake"
    finally:
        s.engine.runtime.shutdown()


def test_first_run_until_a_session_has_ended_cleanly(tmp_path: Path) -> None:
    home = StudioPaths.under(tmp_path / "home")
    first = build_studio(home, model="fake", audio="null", midi=False, retro_s=5.0)
    assert first.first_run
    first.apply_settings(dataclasses.replace(first.settings, morph_s=3.0))  # saves a settings file
    first.engine.runtime.shutdown()  # …and the app never ended cleanly (a crash)
    second = build_studio(home, model="fake", audio="null", midi=False, retro_s=5.0)
    assert second.first_run  # the welcome was perhaps never read
    second.start()
    second.shutdown()
    third = build_studio(home, model="fake", audio="null", midi=False, retro_s=5.0)
    assert not third.first_run
    third.engine.runtime.shutdown()


def test_a_broken_settings_file_is_no_first_run(tmp_path: Path) -> None:
    home = StudioPaths.under(tmp_path / "home")
    home.config_dir.mkdir(parents=True)
    home.settings_file.write_text("{ broken")
    s = build_studio(home, model="fake", audio="null", midi=False, retro_s=5.0)
    assert not s.first_run and any("could not be used" in n.text for n in s.take_notices())
    s.engine.runtime.shutdown()
