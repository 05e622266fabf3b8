"""The Session's MIDI (issue 12): JACK MIDI chosen from what the audio really runs through, one banner with
the fix when MIDI cannot open, and a backend changed in the settings applied without a restart."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from types import SimpleNamespace

import mido
import pytest

from lmd_studio.app.bootstrap import attach_midi, build_studio, make_mailbox
from lmd_studio.app.midi_link import (
    ALSA_SEQUENCER,
    MIDI_SETTINGS_ACTION,
    SYSTEM_BACKEND,
    AudioRoute,
    MidiHost,
    MidiLink,
    audio_runs_on_jack,
    midi_off_message,
)
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.midi import JACK_BACKEND
from lmd_studio.midi.bindings import Binding, MidiSource
from lmd_studio.settings.paths import StudioPaths
from lmd_studio.settings.schema import MIDI_BACKEND_CHOICES, AudioSettings, MidiSettings, StudioSettings
from lmd_studio.settings.store import SettingsStore
from tests.support import mido_loopback

JACK_DEVICE = "system (JACK Audio Connection Kit)"
BROKEN = "no.such.backend"


def never_asked() -> bool:
    raise AssertionError("JACK server queried although the opened device already answers")


@pytest.fixture
def no_env_backend(monkeypatch):
    monkeypatch.delenv("MIDO_BACKEND", raising=False)
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")  # a JACK client must never start a server here


@pytest.fixture
def knobs(monkeypatch):
    monkeypatch.setenv("MIDO_BACKEND", mido_loopback.NAME)
    mido_loopback.reset()
    yield mido_loopback.plug("Knobs")
    mido_loopback.reset()


@pytest.fixture
def session(tmp_path: Path):
    made = []

    def make():
        s = build_studio(StudioPaths.under(tmp_path), model="fake", audio="null", midi=True, retro_s=30.0)
        s.start()
        made.append(s)
        return s

    yield make
    for s in made:
        s.shutdown()


# --- which backend --------------------------------------------------------------------------------------
def test_audio_runs_on_jack_from_the_opened_device():
    # the setting is usually empty: the opened device's host API decides, no server query needed
    assert audio_runs_on_jack(AudioRoute("auto", "", JACK_DEVICE), never_asked)
    assert audio_runs_on_jack(AudioRoute("auto", "system", JACK_DEVICE), never_asked)
    assert not audio_runs_on_jack(AudioRoute("auto", "HDA Intel", "HDA Intel PCH: ALC (ALSA)"), never_asked)
    assert not audio_runs_on_jack(AudioRoute("null", "", ""), never_asked)  # silent audio runs on nothing


def test_the_default_device_runs_on_jack_when_a_jack_server_answers():
    for setting in ("", "default", " Default "):
        assert audio_runs_on_jack(AudioRoute("auto", setting, "none (silent)"), lambda: True)
        assert not audio_runs_on_jack(AudioRoute("auto", setting, "none (silent)"), lambda: False)


def link(tmp_path, route: AudioRoute, backend: str = "", host: MidiHost | None = None) -> MidiLink:
    mailbox = build_mailbox()
    return MidiLink(mailbox, tmp_path / "maps", MidiSettings(backend=backend), audio_route=lambda: route,
                    host=host or MidiHost(jack_running=lambda: True, alsa_sequencer=lambda: False))


def build_mailbox():
    return make_mailbox(FakeBlockGenerator())


def test_an_empty_device_setting_with_jack_running_picks_jack_midi(tmp_path, no_env_backend):
    """The user's case: audio through JACK on the default device, device setting "" — MIDI used ALSA."""
    m = link(tmp_path, AudioRoute("auto", "", "none (silent)"))
    m.start()
    try:
        assert m.backend_name == JACK_BACKEND
    finally:
        m.close()


def test_bootstrap_asks_the_audio_device_in_use_not_the_setting(tmp_path, no_env_backend):
    """attach_midi on a session whose audio opened a JACK device although its device setting is empty."""
    attached = []
    fake = SimpleNamespace(mailbox=build_mailbox(), paths=SimpleNamespace(midi_maps_dir=tmp_path / "maps"),
                           settings=StudioSettings(), audio_settings=AudioSettings(device=""),
                           audio_device_name=JACK_DEVICE, notify=lambda *a, **k: None, attach_midi=attached.append)
    attach_midi(fake)
    (m,) = attached
    m.start()
    try:
        assert m.service.backend_name == JACK_BACKEND
    finally:
        m.close()


def test_midi_follows_the_audio_to_jack_when_the_device_opens_later(tmp_path, no_env_backend):
    route = {"now": AudioRoute("auto", "system", "none (silent)")}  # the audio process is still opening
    m = MidiLink(build_mailbox(), tmp_path / "maps", MidiSettings(), audio_route=lambda: route["now"],
                 host=MidiHost(jack_running=lambda: False, alsa_sequencer=lambda: False))
    m.start()
    try:
        assert m.backend_name == SYSTEM_BACKEND
        route["now"] = AudioRoute("auto", "system", JACK_DEVICE)
        m.poll()
        assert m.backend_name == JACK_BACKEND
    finally:
        m.close()


def test_a_chosen_backend_is_kept_whatever_the_audio(tmp_path, no_env_backend):
    m = link(tmp_path, AudioRoute("auto", "", JACK_DEVICE), backend=BROKEN)
    m.start()
    try:
        m.poll()
        assert m.backend_name == BROKEN
    finally:
        m.close()


def test_the_settings_dialog_offers_the_backends_the_link_knows():
    values = [v for v, _ in MIDI_BACKEND_CHOICES]
    assert values == ["", SYSTEM_BACKEND, JACK_BACKEND]


# --- the banner -----------------------------------------------------------------------------------------
RAW_ALSA = "MIDI backend 'mido.backends.rtmidi' is unavailable: MidiInAlsa::initialize: error creating ALSA sequencer"


def test_no_alsa_sequencer_says_so_and_offers_the_fixes():
    text = midi_off_message(SYSTEM_BACKEND, RAW_ALSA,
                            MidiHost(jack_running=lambda: False, alsa_sequencer=lambda: False, platform="linux"))
    assert text.startswith("MIDI is off: this system has no ALSA sequencer")
    assert str(ALSA_SEQUENCER) in text and "JACK MIDI in Settings → MIDI" in text and "snd-seq" in text
    assert "MidiInAlsa" not in text
    running = midi_off_message(SYSTEM_BACKEND, RAW_ALSA,
                               MidiHost(jack_running=lambda: True, alsa_sequencer=lambda: False, platform="linux"))
    assert "A JACK server is running: choose JACK MIDI" in running


def test_jack_midi_without_a_server_and_other_failures():
    host = MidiHost(jack_running=lambda: False, alsa_sequencer=lambda: True, platform="linux")
    assert "needs a running JACK server" in midi_off_message(JACK_BACKEND, "MidiInJack::initialize", host)
    other = midi_off_message(SYSTEM_BACKEND, "MIDI backend 'x' is unavailable: boom.", host)
    assert other == "MIDI is off: MIDI backend 'x' is unavailable: boom. Choose another MIDI backend in Settings → MIDI."


def test_midi_that_cannot_open_is_one_banner_with_the_fix(tmp_path, no_env_backend):
    m = link(tmp_path, AudioRoute(), backend=BROKEN)
    m.start()
    try:
        notices = m.poll().notices
        assert len(notices) == 1
        (notice,) = notices
        assert notice.level == "warning" and notice.action == MIDI_SETTINGS_ACTION
        assert notice.text.startswith("MIDI is off:") and "Settings → MIDI" in notice.text
        assert m.poll().notices == () and not m.available
    finally:
        m.close()


def test_the_session_shows_the_banner_with_its_action(session, no_env_backend, tmp_path):
    paths = StudioPaths.under(tmp_path)
    paths.ensure()
    SettingsStore(paths.settings_file).save(StudioSettings(midi=MidiSettings(backend=BROKEN)))
    s = session()
    s.tick()
    banners = [n for n in s.take_notices() if n.text.startswith("MIDI is off")]
    assert len(banners) == 1 and banners[0].action == MIDI_SETTINGS_ACTION
    assert not s.midi_available


# --- a backend changed in the settings --------------------------------------------------------------------
def with_midi(s, **changes):
    return dataclasses.replace(s.settings, midi=dataclasses.replace(s.settings.midi, **changes))


def test_a_backend_change_applies_without_a_restart_and_keeps_the_maps(session, knobs):
    s = session()
    s.apply_settings(with_midi(s, inputs=("Knobs",)))
    s.midi.service.set_binding("Knobs", Binding(MidiSource("cc", 0, 7), "density", takeover="jump"))
    knobs.send(mido.Message("control_change", control=7, value=127))
    assert s.mailbox.get("density") == 1.0
    assert s.midi_available

    s.apply_settings(with_midi(s, backend=BROKEN))  # a backend this machine lacks: off, with the banner
    assert not s.midi_available
    s.tick()
    assert [n.action for n in s.take_notices() if n.text.startswith("MIDI is off")] == [MIDI_SETTINGS_ACTION]
    knobs.send(mido.Message("control_change", control=7, value=0))
    assert s.mailbox.get("density") == 1.0  # nothing listens any more

    s.apply_settings(with_midi(s, backend=mido_loopback.NAME))  # and a working one, at once
    assert s.midi_available and "Knobs" in s.midi_input_names()
    s.tick()
    assert any(n.text == f"MIDI is on: {mido_loopback.NAME}" for n in s.take_notices())
    knobs.send(mido.Message("control_change", control=7, value=0))
    assert s.mailbox.get("density") == 0.0  # the same input, the same map
    assert [r.target for r in s.midi_bindings("Knobs")] == ["density"]


# --- through a real JACK server -------------------------------------------------------------------------
def wait_until(predicate, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.mark.jack
def test_with_jack_running_the_default_device_gets_working_jack_midi(jack_server, tmp_path, no_env_backend):
    """End to end: nothing configured, audio on the default device, a JACK server running → JACK MIDI,
    and a second process playing into the studio's port reaches the mailbox."""
    from lmd_studio.bench.harness.midi_player import PlayerProcess

    mailbox = build_mailbox()
    port = f"LMD Studio {os.getpid()}"
    m = MidiLink(mailbox, tmp_path / "maps", MidiSettings(), audio_route=lambda: AudioRoute("auto", "", ""))
    m.service.config = dataclasses.replace(m.service.config, virtual_port_name=port)
    m.start()
    try:
        assert m.backend_name == JACK_BACKEND and m.available, m.service.backend_error
        with PlayerProcess(JACK_BACKEND) as player:
            player.request("connect", name=port)
            player.request("notes", events=[[60, 100], [64, 90]], interval_s=0.002)
            assert wait_until(lambda: mailbox.snapshot().controls.held_notes == ((60, 100), (64, 90)))
            player.request("notes", events=[[60, 0], [64, 0]], interval_s=0.002)
            assert wait_until(lambda: mailbox.snapshot().controls.held_notes == ())
    finally:
        m.close()


@pytest.mark.jack
def test_switching_to_jack_midi_in_the_settings_works_at_once(jack_server, tmp_path, no_env_backend):
    from lmd_studio.bench.harness.midi_player import PlayerProcess

    mailbox = build_mailbox()
    port = f"LMD Studio {os.getpid()}"
    m = MidiLink(mailbox, tmp_path / "maps", MidiSettings(backend=BROKEN))
    m.service.config = dataclasses.replace(m.service.config, virtual_port_name=port)
    m.start()
    try:
        assert not m.available
        m.service.set_binding(port, Binding(MidiSource("cc", 0, 7), "density", takeover="jump"))
        m.configure(MidiSettings(backend=JACK_BACKEND))
        assert m.available and [n.text for n in m.poll().notices] == ["MIDI is on: JACK MIDI"]
        with PlayerProcess(JACK_BACKEND) as player:
            player.request("connect", name=port)
            player.request("cc", control=7, values=[127])
            assert wait_until(lambda: mailbox.get("density") == 1.0)  # the map made before the switch
    finally:
        m.close()
