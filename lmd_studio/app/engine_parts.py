"""The parts the composition root builds, and the factories for them: the generator (test tones or a
model), the parameter mailbox, the audio backend and the engine parts around them.

The entry points (the studio's `bootstrap.build_studio`, `lmd render`, `lmd bench engine`) compose these;
the Session receives `studio_parts` as a factory (SessionDeps.make_parts) and rebuilds its engine with it on
a model switch. Nothing here imports the Session or the composition root, so imports point one way:
bootstrap → session → runtime/model_jobs → engine_parts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lmd_studio.audio.backend import AudioBackend, NullAudioBackend
from lmd_studio.audio.fake_input import LoopbackInput
from lmd_studio.audio.input_path import InputConfig, InputPath
from lmd_studio.core.assets import asset_root
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.generator import BlockGenerator, HearsInput, PromptSlot
from lmd_studio.core.params import DELAY, DRY_WET, STANDARD_PARAMS, ParamSpec
from lmd_studio.engine.capture import CaptureHub
from lmd_studio.engine.input_view import InputView
from lmd_studio.engine.track_align import TrackAligner
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


def studio_generator(model: str | None = None, *, threads: int = 1) -> BlockGenerator:
    """make_generator for the studio: a model that can hear a partner comes with the Jam switch and the
    Follow control, listening to the studio's audio input (model/jam.studio_jam)."""
    generator = make_generator(model, threads=threads)
    if not loads_torch(model):
        return generator  # the test tones: no torch import
    from lmd_studio.model.generator import TorchBlockGenerator

    if isinstance(generator, TorchBlockGenerator) and generator.dit.cfg.accomp_channels:
        from lmd_studio.model.jam import studio_jam

        return studio_jam(generator)
    return generator


def loads_torch(model: str | None) -> bool:
    """Whether make_generator(model) would load a torch model (seconds), rather than the test tones."""
    if model == "fake":
        return False
    return ((Path(model) if model else default_model_dir()) / "dit.safetensors").is_file()


def output_specs(generator: BlockGenerator) -> tuple[ParamSpec, ...]:
    """The studio's output-stage controls for `generator`: Dry/Wet when it offers generative delay (the
    engine's output gain and the input's monitor gain read it: engine/delay_mix.py)."""
    return (DRY_WET,) if any(s.name == DELAY.name for s in generator.param_specs) else ()


def make_mailbox(generator: BlockGenerator, prompt: str | None = DEFAULT_PROMPT) -> ParamMailbox:
    mailbox = ParamMailbox(STANDARD_PARAMS.merged(generator.param_specs + output_specs(generator)))
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

    @property
    def input(self) -> InputPath | None:
        """The audio input (its tap, monitoring, latency), None when input is off."""
        return self.backend.input

    @property
    def input_view(self) -> InputView | None:
        """The input for the generation side, in stream positions (engine/input_view.py); None when off."""
        path = self.backend.input
        return InputView(path.tap, self.engine.output.stream_map) if path is not None else None

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
                 sample_rate_hz: int | None = None, notify: Callable[[str], None] | None = None,
                 input_config: InputConfig | None = None, fake_input: LoopbackInput | None = None) -> AudioBackend:
    """'null' → silent software clock; 'auto'/'process' → the device in its own process (survives a
    vanishing device, immune to the GIL; falls back to the software clock by itself when there is no
    device); 'inprocess' → a supervised sounddevice stream in this process. With `input_config`, the audio
    input too (the Null clock's input is `fake_input`, or silence)."""
    if kind == "null":
        return NullAudioBackend(sample_rate_hz or 48000, 2, buffer_frames, input_config=input_config,
                                fake_input=fake_input)
    if kind == "inprocess":
        from lmd_studio.audio.sd_backend import SoundDeviceBackend

        return SoundDeviceBackend(device=device, sample_rate_hz=sample_rate_hz, buffer_frames=buffer_frames,
                                  notify=notify, input_config=input_config)
    if kind not in ("auto", "process"):
        raise ValueError(f"unknown audio backend {kind!r}: use auto, process, inprocess or null")
    from lmd_studio.audio.process_backend import ProcessAudioBackend

    return ProcessAudioBackend(device=device, sample_rate_hz=sample_rate_hz, buffer_frames=buffer_frames,
                               notify=notify, input_config=input_config)


def build_engine(generator: BlockGenerator, backend: AudioBackend, mailbox: ParamMailbox | None = None,
                 **config: Any) -> EngineParts:
    mailbox = mailbox or make_mailbox(generator)
    engine = GenerationEngine(generator, mailbox, EngineConfig(
        device_sample_rate_hz=backend.sample_rate_hz, device_channels=backend.channels, **config),
        max_buffer_frames=max(8192, backend.buffer_frames))
    assert engine.capture_ring is not None
    aligner = None
    path = backend.input
    if path is not None:  # the recording's input track lines up with the output through the capture map
        aligner = TrackAligner(path.tap, engine.output.capture_map, lambda: path.monitor_level,
                               backend.sample_rate_hz, backend.channels)
    parts = EngineParts(generator, mailbox, engine, CaptureHub(engine.capture_ring, aligner=aligner), backend)
    if isinstance(generator, HearsInput):  # jam mode listens to this engine's input (None: input off)
        generator.attach_input(parts.input_view, backend.sample_rate_hz)
    return parts


# --- the studio (desktop app) -------------------------------------------------------------------------
def studio_parts(generator: BlockGenerator, mailbox: ParamMailbox, audio: AudioSettings,
                 notify: Callable[[str], None] | None = None) -> EngineParts:
    """Engine parts for the studio from the audio settings (settings.schema.AudioSettings)."""
    backend = make_backend("null" if audio.backend == "null" else "auto", device=audio.device or None,
                           buffer_frames=audio.buffer_frames, sample_rate_hz=audio.sample_rate_hz or None,
                           notify=notify, input_config=input_config(audio))
    return build_engine(generator, backend, mailbox)


def input_config(audio: AudioSettings) -> InputConfig | None:
    """The input the audio settings ask for, None when input is off."""
    if not audio.input_enabled:
        return None
    return InputConfig(device=audio.input_device, channels=audio.input_channels, monitoring=audio.input_monitoring,
                       latency_correction_frames=audio.input_latency_correction_frames)


def audio_override(audio: AudioSettings, spec: str | None) -> AudioSettings:
    """`--audio null` or `--audio DEVICE` for this run only (the saved settings are not changed)."""
    if not spec:
        return audio
    if spec == "null":
        return replace(audio, backend="null")
    return replace(audio, backend="auto", device=spec)
