"""The composition root of the studio: the only module that knows the whole object graph.

Everything else receives its collaborators through its constructor. `build_studio` loads the settings,
makes the generator and builds the Session with the factories for its engine parts (engine_parts.py);
`attach_midi` gives it its MIDI link. The parts never import this module: imports point one way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lmd_studio.app.engine_parts import (
    REPO_MODELS_DIR,
    audio_override,
    default_model_dir,
    loads_torch,
    studio_generator,
    studio_parts,
)
from lmd_studio.app.midi_link import MidiLink
from lmd_studio.app.midi_route import AudioRoute
from lmd_studio.app.model_errors import (
    ModelLoadError,
    load_generator,
    missing_default_message,
    studio_fallback,
)
from lmd_studio.app.session import Session
from lmd_studio.app.session_deps import SessionDeps
from lmd_studio.app.startup import LoadingGenerator, ModelStartup
from lmd_studio.app.tempo_sync import EngineBeats
from lmd_studio.core.generator import BlockGenerator
from lmd_studio.core.params import METER
from lmd_studio.core.process_tuning import tune_for_live_audio
from lmd_studio.settings.paths import StudioPaths
from lmd_studio.settings.store import SettingsStore


def build_studio(paths: StudioPaths | None = None, *, model: str | None = None, audio: str | None = None,
                 midi: bool = True, retro_s: float = 300.0, load_in_background: bool = False,
                 clock: Callable[[], float] = time.perf_counter) -> Session:
    """Load settings (never failing on a broken file), make the generator and build the Session.

    `model`/`audio` override the saved choice for this run. The model named in the settings falls back to
    the default (with a message) when it cannot be loaded, any other model to the test tones, so the app
    always opens. With `load_in_background` a torch model is loaded by the session once it has started
    (startup.py), so the window opens at once. `clock` (seconds) times the session's glides, fades and
    tap tempo; tests pass one they advance by hand.
    """
    tune_for_live_audio()
    paths = paths or StudioPaths.default()
    paths.ensure()
    store = SettingsStore(paths.settings_file)
    load = store.load()
    settings = load.settings
    messages = [load.message] if load.message else []
    spec = model if model is not None else settings.model
    startup = None
    generator: BlockGenerator
    if load_in_background and loads_torch(spec or None):
        startup = ModelStartup(studio_generator, spec, settings.torch_threads, try_default=model is None)
        generator = LoadingGenerator()
    else:
        try:
            generator = load_generator(studio_generator, spec or None, settings.torch_threads)
        except ModelLoadError as exc:  # the window opens anyway, with a banner naming the file and the problem
            spec, generator, message = studio_fallback(exc, studio_generator, settings.torch_threads,
                                                       try_default=model is None)
            messages.append(message)
        if not spec:  # "Default model" with none installed plays the test tones: say so
            messages.append(missing_default_message(default_model_dir()))
    deps = SessionDeps(paths=paths, settings_store=store,
                       make_generator=lambda s, threads: studio_generator(s or None, threads=threads),
                       make_parts=studio_parts, model_folders=(REPO_MODELS_DIR,), default_model_dir=default_model_dir(),
                       retro_s=retro_s, clock=clock)
    session = Session(deps, settings, generator, model_spec=spec, audio=audio_override(settings.audio, audio),
                      first_run=load.first_run or (not settings.first_run_done and not load.message),
                      startup_message=" ".join(m for m in messages if m), startup=startup)
    if midi:
        attach_midi(session)
    return session


def attach_midi(session: Session) -> None:
    """Give the session its MIDI link; it picks rtmidi's JACK API when the audio runs through JACK."""

    engine = session.engine

    def audio_route() -> AudioRoute:
        return AudioRoute(engine.audio.backend, engine.audio.device, engine.audio_device_name)

    session.attach_midi(MidiLink(engine.mailbox, session.paths.midi_maps_dir, session.settings.midi,
                                 audio_route=audio_route, notify=session.notify,
                                 engine_beats=EngineBeats(grid=lambda: engine.runtime.beat_grid(),
                                                          next_block_phase=lambda: engine.runtime.next_block_phase(),
                                                          shift=lambda beats: engine.runtime.shift_beats(beats),
                                                          beats_per_bar=lambda: int(engine.mailbox.get(METER.name)))))
