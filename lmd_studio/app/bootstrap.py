"""The composition root: the only module that knows the whole object graph.

Everything else receives its collaborators through its constructor. Functions here build the parts for
each entry point: the studio, `lmd render`, `lmd bench engine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lmd_studio.audio.backend import AudioBackend, NullAudioBackend
from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.generator import BlockGenerator, PromptSlot
from lmd_studio.core.params import STANDARD_PARAMS
from lmd_studio.engine.capture import CaptureHub
from lmd_studio.engine.worker import EngineConfig, GenerationEngine
from lmd_studio.rt.mailbox import ParamMailbox

REPO_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEFAULT_PROMPT = "warm lo-fi piano chords with soft drums"


def default_model_dir() -> Path:
    return REPO_MODELS_DIR / "default"


def make_generator(model: str | None = None, *, threads: int = 2) -> BlockGenerator:
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

    def stop(self) -> None:
        self.backend.stop()
        self.capture.stop()
        self.engine.stop()


def make_backend(kind: str = "auto", device: str | int | None = None, buffer_frames: int = 256,
                 sample_rate_hz: int | None = None, notify=None) -> AudioBackend:
    """'null' → silent software clock; 'auto'/'device' → a supervised sounddevice stream (which falls
    back to the software clock by itself when there is no device)."""
    if kind == "null":
        return NullAudioBackend(sample_rate_hz or 48000, 2, buffer_frames)
    from lmd_studio.audio.sd_backend import SoundDeviceBackend

    return SoundDeviceBackend(device=device, sample_rate_hz=sample_rate_hz, buffer_frames=buffer_frames,
                              notify=notify)


def build_engine(generator: BlockGenerator, backend: AudioBackend, mailbox: ParamMailbox | None = None,
                 **config) -> EngineParts:
    mailbox = mailbox or make_mailbox(generator)
    engine = GenerationEngine(generator, mailbox, EngineConfig(
        device_sample_rate_hz=backend.sample_rate_hz, device_channels=backend.channels, **config),
        max_buffer_frames=max(8192, backend.buffer_frames))
    assert engine.capture_ring is not None
    return EngineParts(generator, mailbox, engine, CaptureHub(engine.capture_ring), backend)
