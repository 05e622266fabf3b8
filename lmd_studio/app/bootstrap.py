"""The composition root: the only module that knows the whole object graph.

Everything else receives its collaborators through its constructor. Functions here build the parts for
each entry point: the studio, `lmd render`, `lmd bench engine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lmd_studio.audio.backend import AudioBackend, NullAudioBackend
from lmd_studio.core.assets import asset_root
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.generator import BlockGenerator, PromptSlot
from lmd_studio.core.params import STANDARD_PARAMS
from lmd_studio.engine.capture import CaptureHub
from lmd_studio.engine.worker import EngineConfig, GenerationEngine
from lmd_studio.rt.mailbox import ParamMailbox
from lmd_studio.settings.schema import AudioSettings

REPO_MODELS_DIR = asset_root() / "models"  # the checkout's, the app bundle's or the installed wheel's
DEFAULT_PROMPT = "warm lo-fi piano chords with soft drums"


def default_model_dir() -> Path:
    return REPO_MODELS_DIR / "default"


def make_generator(model: str | None = None, *, threads: int = 1) -> BlockGenerator:
    """'fake' → the test-tone generator; a folder with dit.safetensors → the LMDM model; None → the
    default model if it has been trained, else the fake generator (so the app always starts)."""
    if model == "fake":
        return FakeBlockGenerator()
    folder = Path(model) if model else default_model_dir()
    if not (folder / "dit.safetensors").is_file():
        if model:
            raise FileNotFoundError(f"{folder}: no dit.safetensors here, so it is not an LMD Studio model folder")
        return FakeBlockGenerator()
    from lmd_studio.model.generator import TorchBlockGenerator  # heavy (torch); only when a model is used

    return TorchBlockGenerator.from_folder(folder, threads=threads)


def loads_torch(model: str | None) -> bool:
    """Whether make_generator(model) would load a torch model (seconds), rather than the test tones."""
    if model == "fake":
        return False
    return ((Path(model) if model else default_model_dir()) / "dit.safetensors").is_file()


def make_mailbox(generator: BlockGenerator, prompt: str | None = DEFAULT_PROMPT) -> ParamMailbox:
    mailbox = ParamMailbox(STANDARD_PARAMS.merged(generator.param_specs))
    if prompt:
        mailbox.set_prompts((PromptSlot(prompt, 1.0),))
    return mailbox


@dataclass(slots=True)
class EngineParts:
    generator: BlockGenerator
    mailbox: ParamMailbox
    engine: GenerationEngine
    capture: CaptureHub
    backend: AudioBackend

    def start(self) -> None:
        self.engine.start()
        self.capture.start()
        self.backend.start(self.engine.output.render)
        output = self.engine.output
        output.output_latency_s = self.backend.status().output_latency_s
        lateness = getattr(self.backend, "callback_lateness_ms", None)
        if lateness is not None:
            output.lateness_source = lateness

    def stop(self) -> None:
        # The worker reads the device process's shared memory (callback lateness) when it publishes
        # metrics: stopping the backend first unmapped that memory under a running worker (AttributeError,
        # or a segfault when the unmap raced the read). So the worker stops first; the device then plays
        # silence for the moment until it is stopped too.
        self.engine.stop()
        self.capture.stop()
        self.backend.stop()


def make_backend(kind: str = "auto", device: str | int | None = None, buffer_frames: int = 256,
                 sample_rate_hz: int | None = None, notify=None) -> AudioBackend:
    """'null' → silent software clock; 'auto'/'process' → the device in its own process (survives a
    vanishing device, immune to the GIL; falls back to the software clock by itself when there is no
    device); 'inprocess' → a supervised sounddevice stream in this process."""
    if kind == "null":
        return NullAudioBackend(sample_rate_hz or 48000, 2, buffer_frames)
    if kind == "inprocess":
        from lmd_studio.audio.sd_backend import SoundDeviceBackend

        return SoundDeviceBackend(device=device, sample_rate_hz=sample_rate_hz, buffer_frames=buffer_frames,
                                  notify=notify)
    if kind not in ("auto", "process"):
        raise ValueError(f"unknown audio backend {kind!r}: use auto, process, inprocess or null")
    from lmd_studio.audio.process_backend import ProcessAudioBackend

    return ProcessAudioBackend(device=device, sample_rate_hz=sample_rate_hz, buffer_frames=buffer_frames,
                               notify=notify)


def build_engine(generator: BlockGenerator, backend: AudioBackend, mailbox: ParamMailbox | None = None,
                 **config) -> EngineParts:
    mailbox = mailbox or make_mailbox(generator)
    engine = GenerationEngine(generator, mailbox, EngineConfig(
        device_sample_rate_hz=backend.sample_rate_hz, device_channels=backend.channels, **config),
        max_buffer_frames=max(8192, backend.buffer_frames))
    assert engine.capture_ring is not None
    return EngineParts(generator, mailbox, engine, CaptureHub(engine.capture_ring), backend)


# --- the studio (desktop app) -------------------------------------------------------------------------
def studio_parts(generator: BlockGenerator, mailbox: ParamMailbox, audio: AudioSettings,
                 notify=None) -> EngineParts:
    """Engine parts for the studio from the audio settings (settings.schema.AudioSettings)."""
    backend = make_backend("null" if audio.backend == "null" else "auto", device=audio.device or None,
                           buffer_frames=audio.buffer_frames, sample_rate_hz=audio.sample_rate_hz or None,
                           notify=notify)
    return build_engine(generator, backend, mailbox)


def audio_override(audio: AudioSettings, spec: str | None) -> AudioSettings:
    """`--audio null` or `--audio DEVICE` for this run only (the saved settings are not changed)."""
    from dataclasses import replace

    if not spec:
        return audio
    if spec == "null":
        return replace(audio, backend="null")
    return replace(audio, backend="auto", device=spec)


def build_studio(paths=None, *, model: str | None = None, audio: str | None = None, midi: bool = True,
                 retro_s: float = 300.0, load_in_background: bool = False):
    """Load settings (never failing on a broken file), make the generator and build the Session.

    `model`/`audio` override the saved choice for this run. The model named in the settings falls back to
    the default (with a message) when it cannot be loaded, any other model to the test tones, so the app
    always opens. With `load_in_background` a torch model is loaded by the session once it has started
    (startup.py), so the window opens at once.
    """
    from lmd_studio.app.model_errors import ModelLoadError, load_generator, studio_fallback
    from lmd_studio.app.session import Session, SessionDeps
    from lmd_studio.core.process_tuning import tune_for_live_audio
    from lmd_studio.settings.paths import StudioPaths
    from lmd_studio.settings.store import SettingsStore

    tune_for_live_audio()
    paths = paths or StudioPaths.default()
    paths.ensure()
    store = SettingsStore(paths.settings_file)
    load = store.load()
    settings = load.settings
    messages = [load.message] if load.message else []
    spec = model if model is not None else settings.model
    startup = None
    if load_in_background and loads_torch(spec or None):
        from lmd_studio.app.startup import LoadingGenerator, ModelStartup

        startup = ModelStartup(make_generator, spec, settings.torch_threads, try_default=model is None)
        generator = LoadingGenerator()
    else:
        try:
            generator = load_generator(make_generator, spec or None, settings.torch_threads)
        except ModelLoadError as exc:  # the window opens anyway, with a banner naming the file and the problem
            spec, generator, message = studio_fallback(exc, make_generator, settings.torch_threads,
                                                       try_default=model is None)
            messages.append(message)
    deps = SessionDeps(paths=paths, settings_store=store,
                       make_generator=lambda s, threads: make_generator(s or None, threads=threads),
                       make_parts=studio_parts, model_folders=(REPO_MODELS_DIR,), retro_s=retro_s)
    session = Session(deps, settings, generator, model_spec=spec, audio=audio_override(settings.audio, audio),
                      first_run=load.first_run, startup_message=" ".join(messages), startup=startup)
    if midi:
        attach_midi(session)
    return session


def attach_midi(session) -> None:
    """Give the session its MIDI link; it picks rtmidi's JACK API when the audio runs through JACK."""
    from lmd_studio.app.midi_link import AudioRoute, MidiLink

    def audio_route() -> AudioRoute:
        audio = session.audio_settings
        return AudioRoute(audio.backend, audio.device, session.audio_device_name)

    session.attach_midi(MidiLink(session.mailbox, session.paths.midi_maps_dir, session.settings.midi,
                                 audio_route=audio_route, notify=session.notify))
