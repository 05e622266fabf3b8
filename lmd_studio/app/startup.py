"""The model loads after the window is up: a silent stand-in plays its part until then.

Loading the default model means importing torch, reading the weights and, for its first block, loading the
text encoder: seconds on a 2-core laptop, and the window used to wait for all of it. Now the studio opens
on a `LoadingGenerator` (silence, every standard control, no audio device yet) and a background job
(`startup_work`) loads the real model, falls back like the synchronous path does (model_errors.py) and
warms it up with one block for the prompts on screen. `ModelStartup` tells the GUI where it stands —
"Loading model…", "Warming up…" (the engine priming with the real model), "Ready" — and remembers a
Space pressed before then, so the music starts as soon as the model can play it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from lmd_studio.app.jobs import BackgroundJob
from lmd_studio.app.model_errors import ModelLoadError, load_generator, studio_fallback
from lmd_studio.app.model_jobs import warm_up
from lmd_studio.core.generator import BlockControls, BlockGenerator
from lmd_studio.core.params import MASTER_GAIN, STANDARD_PARAMS, ParamSpec
from lmd_studio.settings.schema import AudioSettings

LOADING_TEXT = "Loading model…"
WARMING_TEXT = "Warming up…"
READY_TEXT = "Ready"
STARTUP_JOB = "load model"  # the name the model-switch job has too: the GUI locks the model list for both
_WARMING_STAGE = "warming up (text encoder, first block)"


class LoadingGenerator:
    """Silence with every standard control, standing in for the model while it loads (never heard: the
    session does not play it and gives it no audio device)."""

    placeholder = True

    def __init__(self, sample_rate: int = 48000, channels: int = 2, block_seconds: float = 0.5) -> None:
        self._rate = int(sample_rate)
        self._channels = int(channels)
        self._block = np.zeros((int(round(block_seconds * sample_rate)), self._channels), np.float32)

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def channels(self) -> int:
        return self._channels

    @property
    def block_frames(self) -> int:
        return self._block.shape[0]

    @property
    def context_frames(self) -> int:
        return 0

    @property
    def param_specs(self) -> tuple[ParamSpec, ...]:
        return tuple(s for s in STANDARD_PARAMS if s.name != MASTER_GAIN.name)

    @property
    def name(self) -> str:
        return "loading"

    def init_state(self, seed: int) -> int:
        return 0

    def generate_block(self, state: int, controls: BlockControls) -> tuple[np.ndarray, int]:
        return self._block, state


def is_placeholder(generator: BlockGenerator) -> bool:
    return bool(getattr(generator, "placeholder", False))


def audio_for(generator: BlockGenerator, audio: AudioSettings) -> AudioSettings:
    """The stand-in gets the silent software clock: the device opens once, with the real model."""
    return replace(audio, backend="null") if is_placeholder(generator) else audio


@dataclass(frozen=True, slots=True)
class LoadedModel:
    generator: BlockGenerator
    spec: str  # what was loaded: the spec asked for, or the fallback's ("" default, "fake")
    message: str = ""  # why it is not the one asked for, for a banner ("" when it is)


def startup_work(make_generator: Callable[..., BlockGenerator], spec: str, threads: int, try_default: bool,
                 controls: BlockControls) -> Callable[[BackgroundJob], LoadedModel]:
    """Load `spec` (make_generator(spec or None, threads=…)), warm it up with one block for `controls`;
    a model that cannot be loaded or warmed up falls back as at a synchronous start (studio_fallback)."""

    def work(job: BackgroundJob) -> LoadedModel:
        job.progress(-1.0, "loading the model")
        try:
            generator = load_generator(make_generator, spec or None, threads)
            job.progress(0.7, _WARMING_STAGE)
            warm_up(generator, spec, controls)
        except ModelLoadError as exc:
            job.progress(0.7, "loading the fallback")
            fallback_spec, generator, message = studio_fallback(exc, make_generator, threads, try_default)
            return LoadedModel(generator, fallback_spec, message)
        return LoadedModel(generator, spec)

    return work


class ModelStartup:
    """The model to load once the window is up (`start` makes the job), and where that stands for the
    status line."""

    def __init__(self, make_generator: Callable[..., BlockGenerator], spec: str, threads: int,
                 try_default: bool, ready_shown_s: float = 3.0) -> None:
        self._load = (make_generator, spec, threads, try_default)
        self.spec = spec
        self.job: BackgroundJob | None = None
        self.ready_shown_s = ready_shown_s
        self._phase = "loading"  # loading → warming (the engine primes with the model) → ready → done
        self._ready_at_s = 0.0
        self.superseded = False  # the player opened another model before this one was in

    def supersede(self) -> None:
        """Another model was chosen meanwhile: this load's result is dropped (and the load stopped at
        its next step); the status follows the chosen model's load and priming."""
        self.superseded = True
        if self.job is not None:
            self.job.cancel()
        self._phase = "warming"

    def start(self, controls: BlockControls) -> BackgroundJob:
        """The job (not started) that loads the model and warms it up for `controls` (the prompts and
        knobs on screen, so the engine's first block finds its text already encoded)."""
        self.job = BackgroundJob(STARTUP_JOB, startup_work(*self._load, controls))
        return self.job

    @property
    def loading(self) -> bool:
        """The model is not in the engine yet: a play waits for it."""
        return self._phase == "loading"

    def loaded(self) -> None:
        """The model is in the engine (or the load failed for good): priming comes next."""
        self._phase = "warming"

    def text(self, primed: bool, now_s: float) -> str:
        """"Loading model…", "Warming up…", "Ready" for a moment, then ""."""
        if self._phase == "loading":
            return WARMING_TEXT if self.job is not None and self.job.view().stage == _WARMING_STAGE else LOADING_TEXT
        if self._phase == "warming":
            if not primed:
                return WARMING_TEXT
            self._phase, self._ready_at_s = "ready", now_s
        if self._phase == "ready" and now_s - self._ready_at_s < self.ready_shown_s:
            return READY_TEXT
        self._phase = "done"
        return ""
