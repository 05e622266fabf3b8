"""The studio opens before its model has loaded: a silent stand-in, the load and warm-up in the
background, a play pressed meanwhile starting the music as soon as the model is in, and the adapter
chosen last time loaded into the model (or shown unselected, with a message)."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from lmd_studio.app.bootstrap import build_studio
from lmd_studio.app.engine_parts import loads_torch, studio_parts
from lmd_studio.app.session import Session
from lmd_studio.app.session_deps import SessionDeps
from lmd_studio.app.startup import LOADING_TEXT, READY_TEXT, LoadingGenerator, ModelStartup
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.settings.paths import StudioPaths
from lmd_studio.settings.store import SettingsStore


class SlowModel(FakeBlockGenerator):
    """Test tones that take `load_s` to 'load' and remember which thread made their blocks."""

    def __init__(self, load_s: float = 0.0) -> None:
        time.sleep(load_s)
        super().__init__()
        self.block_threads: list[str] = []
        self.prompt_mixes: list[tuple] = []
        self.adapters: list[tuple] = []

    def generate_block(self, state, controls):
        self.block_threads.append(threading.current_thread().name)
        self.prompt_mixes.append(controls.prompt_mix)
        return super().generate_block(state, controls)

    def set_adapter(self, path, strength) -> None:
        if path is not None and path.name == "broken.safetensors":
            raise ValueError(f"{path}: not an LMD adapter")
        self.adapters.append((path, strength))


def _session(tmp_path: Path, generator, startup: ModelStartup | None = None, spec: str = "mine", **settings) -> Session:
    paths = StudioPaths.under(tmp_path / "home")
    paths.ensure()
    store = SettingsStore(paths.settings_file)
    base = store.load().settings
    deps = SessionDeps(paths=paths, settings_store=store, make_generator=lambda s, threads: SlowModel(),
                       make_parts=studio_parts, retro_s=10.0)
    extra = {"startup": startup} if startup is not None else {}
    return Session(deps, dataclasses.replace(base, **settings), generator, model_spec=spec,
                   audio=dataclasses.replace(base.audio, backend="null"), **extra)


def _wait(session: Session, predicate, timeout_s: float = 10.0):
    end = time.perf_counter() + timeout_s
    while time.perf_counter() < end:
        status = session.tick()
        if predicate(status):
            return status
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def test_play_pressed_while_the_model_loads_starts_the_music_when_it_is_in(tmp_path: Path) -> None:
    made: list[SlowModel] = []

    def make(spec, threads):
        made.append(SlowModel(load_s=0.8))
        return made[-1]

    s = _session(tmp_path, LoadingGenerator(), ModelStartup(make, "mine", threads=1, try_default=False))
    s.start()
    try:
        first = s.tick()  # the first tick starts the load
        assert first.model_loading and first.startup == LOADING_TEXT and not first.playing
        assert first.audio_device == "none (silent)"  # no device for the stand-in
        s.transport.play()
        status = s.tick()
        assert status.play_pending and not status.playing and s.transport.playing  # the window says "Starting…"
        time.sleep(0.3)
        assert s.tick().played_s == 0.0  # the stand-in's silence is not played
        status = _wait(s, lambda st: st.playing and st.played_s > 0.2)
        assert not status.model_loading and s.model.spec == "mine" and s.model.name != "loading"
        gen = made[0]
        # warmed up off the GUI thread, for the prompts on screen, before the engine took it
        assert gen.block_threads[0].startswith("lmd-job") and gen.prompt_mixes[0] == gen.prompt_mixes[-1]
        _wait(s, lambda st: st.startup == READY_TEXT)
        assert not s.tick().play_pending
    finally:
        s.shutdown()


def test_a_model_that_cannot_load_in_the_background_falls_back_with_a_banner(tmp_path: Path) -> None:
    def broken(spec, threads):
        raise OSError(2, "No such file or directory", f"{spec}/dit.safetensors")

    s = _session(tmp_path, LoadingGenerator(), ModelStartup(broken, "/gone", threads=1, try_default=False),
                 spec="/gone")
    s.start()
    try:
        _wait(s, lambda st: not st.model_loading)
        assert s.model.spec == "fake" and "Test tones" in s.model.name
        assert any("/gone/dit.safetensors" in n.text and n.level == "warning" for n in s.take_notices())
        s.transport.play()
        _wait(s, lambda st: st.playing and st.played_s > 0.2)
    finally:
        s.shutdown()


def test_quitting_while_the_model_loads_waits_for_the_loader(tmp_path: Path) -> None:
    s = _session(tmp_path, LoadingGenerator(),
                 ModelStartup(lambda spec, threads: SlowModel(load_s=0.5), "mine", threads=1, try_default=False))
    s.start()
    s.tick()
    job = s.model.startup.job
    assert job is not None and not job.done
    s.shutdown()
    assert job.done  # no loader thread left running into interpreter exit


def test_the_adapter_chosen_last_time_is_loaded_into_the_model(tmp_path: Path) -> None:
    gen = SlowModel()
    s = _session(tmp_path, gen, adapter="/a/b/mine.safetensors", adapter_strength=0.7)
    s.start()
    try:
        _wait(s, lambda st: not st.jobs or all(j.done for j in st.jobs))
        assert gen.adapters == [(Path("/a/b/mine.safetensors"), 0.7)]
        assert s.tick().adapter == "/a/b/mine.safetensors"
    finally:
        s.shutdown()


def test_the_adapter_chosen_last_time_is_loaded_once_the_background_model_is_in(tmp_path: Path) -> None:
    made: list[SlowModel] = []
    s = _session(tmp_path, LoadingGenerator(),
                 ModelStartup(lambda spec, threads: made.append(SlowModel(load_s=0.3)) or made[-1], "mine",
                              threads=1, try_default=False),
                 adapter="/a/b/mine.safetensors", adapter_strength=0.4)
    s.start()
    try:
        _wait(s, lambda st: made and made[0].adapters)
        assert made[0].adapters == [(Path("/a/b/mine.safetensors"), 0.4)]
    finally:
        s.shutdown()


@pytest.mark.parametrize("case", ["broken file", "model without adapters"])
def test_an_adapter_that_cannot_be_loaded_is_shown_unselected_with_a_message(tmp_path: Path, case: str) -> None:
    gen = SlowModel() if case == "broken file" else FakeBlockGenerator()
    s = _session(tmp_path, gen, adapter="/x/broken.safetensors")
    s.start()
    try:
        status = _wait(s, lambda st: st.adapter == "")
        assert status.adapter == "" and s.settings.adapter == ""
        texts = [n.text for n in s.take_notices()]
        assert any("broken" in t and "dapter" in t for t in texts), texts
    finally:
        s.shutdown()


def test_only_a_torch_model_loads_in_the_background(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    assert not loads_torch("fake") and not loads_torch(str(folder))
    (folder / "dit.safetensors").write_bytes(b"x")
    assert loads_torch(str(folder))
    s = build_studio(StudioPaths.under(tmp_path / "h"), model="fake", audio="null", midi=False, retro_s=10.0,
                     load_in_background=True)
    try:
        assert s.model.startup is None and "Test tones" in s.model.name  # the test tones need no waiting
    finally:
        s.engine.runtime.shutdown()


def test_the_stand_in_is_silent_and_offers_every_standard_control() -> None:
    g = LoadingGenerator()
    block, state = g.generate_block(g.init_state(0), None)
    assert block.shape == (g.block_frames, g.channels) and not np.any(block)
    assert {p.name for p in g.param_specs} >= {"steps", "guidance", "temperature", "seed"}


def test_a_model_opened_while_the_start_up_model_loads_wins(tmp_path: Path) -> None:
    s = _session(tmp_path, LoadingGenerator(),
                 ModelStartup(lambda spec, threads: SlowModel(load_s=1.0), "first", threads=1, try_default=False),
                 spec="first")
    s.start()
    try:
        s.tick()  # the start-up load begins
        s.model.load("chosen")  # Ctrl+O before it is in (the session's make_generator answers at once)
        _wait(s, lambda st: not st.jobs or all(j.done for j in st.jobs))
        time.sleep(1.2)  # the start-up job is long over
        _wait(s, lambda st: not st.jobs or all(j.done for j in st.jobs))
        assert s.model.spec == "chosen" and not s.tick().model_loading
        assert not any(n.level == "error" for n in s.take_notices())
    finally:
        s.shutdown()
