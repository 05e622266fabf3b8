"""The engine the Session plays through, and what runs on across its replacement.

`EngineHost` holds the one `EngineRuntime` (runtime.py) of the moment and builds a new one on a model
switch or an audio-settings change (`swap`): the new engine gets a mailbox carrying every value, flag and
prompt the old one shares with it, and the timeline, the stream → capture position map and the capture
fan-out carry on, so takes and the timeline run across the switch. Underrun counts of replaced engines are
kept, so the meters never go back.

It is also the public read-only seam to the running engine for diagnostics and tests (`runtime`,
`mailbox`, `timeline`).
"""

from __future__ import annotations

from collections.abc import Callable

from lmd_studio.app.capture_chain import CaptureFanout, PositionMap
from lmd_studio.app.engine_parts import EngineParts, make_mailbox
from lmd_studio.app.live_settings import LiveSettings
from lmd_studio.app.model_jobs import mailbox_like
from lmd_studio.app.runtime import EngineRuntime
from lmd_studio.app.startup import audio_for
from lmd_studio.app.timeline_model import TimelineConfig, TimelineModel
from lmd_studio.core.generator import BlockGenerator
from lmd_studio.core.params import MASTER_GAIN, STEPS
from lmd_studio.rt.mailbox import ParamMailbox
from lmd_studio.settings.schema import AudioSettings

MakeParts = Callable[[BlockGenerator, ParamMailbox, AudioSettings], EngineParts]


class EngineHost:
    """`audio` is this run's audio settings (the saved ones, or `--audio`'s). Listeners added with
    `on_build(listener)` fit the Session's parts to each new engine (the recording format, the prompt
    publish rate) before it starts."""

    def __init__(self, make_parts: MakeParts, settings: LiveSettings, audio: AudioSettings,
                 fanout: CaptureFanout) -> None:
        self._make_parts = make_parts
        self._settings = settings
        self.audio = audio
        self.fanout = fanout
        self.positions = PositionMap()
        self._timeline: TimelineModel | None = None
        self._runtime: EngineRuntime | None = None
        self._on_build: list[Callable[[EngineRuntime, BlockGenerator], None]] = []
        self.underruns_before = 0  # counts of engines replaced earlier
        self.underflows_before = 0

    def on_build(self, listener: Callable[[EngineRuntime, BlockGenerator], None]) -> None:
        self._on_build.append(listener)

    def open(self, generator: BlockGenerator) -> EngineRuntime:
        """The first engine, with a fresh mailbox at the saved volume (not started)."""
        mailbox = make_mailbox(generator, prompt=None)
        mailbox.set(MASTER_GAIN.name, self._settings.current.volume_db)
        self._runtime = self._build(generator, mailbox)
        return self._runtime

    def swap(self, generator: BlockGenerator) -> EngineRuntime:
        """Shut the engine down and start one for `generator` (the same one again after an audio change),
        continuing the stream position, the timeline and the controls."""
        old = self.runtime
        position = old.shutdown()
        beat = old.beat_at_playhead()  # the bar count runs on into the new engine
        self.underruns_before += old.metrics.underruns
        self.underflows_before += old.metrics.device_underflows
        self.timeline.rebase(position)
        runtime = self._build(generator, mailbox_like(generator, old.mailbox.snapshot().controls, old.mailbox.prompts))
        self._runtime = runtime
        runtime.carry_clock_from(beat)
        runtime.start()
        runtime.set_safe_mode(self._settings.current.safe_mode)
        return runtime

    def _build(self, generator: BlockGenerator, mailbox: ParamMailbox) -> EngineRuntime:
        parts = self._make_parts(generator, mailbox, audio_for(generator, self.audio))
        rate = parts.backend.sample_rate_hz
        if self._timeline is None or self._timeline.config.sample_rate_hz != rate:
            self._timeline = TimelineModel(TimelineConfig(rate))
            self.positions = PositionMap()
        runtime = EngineRuntime(parts, self.fanout, self._timeline)
        for listener in self._on_build:
            listener(runtime, generator)
        if STEPS.name in mailbox.registry and self._settings.current.safe_mode:
            runtime.set_safe_mode(True)
        runtime.set_quantise(self._settings.current.quantise)
        runtime.set_rewind_memory(self._settings.current.rewind_memory_mb)
        return runtime

    # --- the running engine --------------------------------------------------------------------------
    @property
    def runtime(self) -> EngineRuntime:
        if self._runtime is None:
            raise RuntimeError("no engine yet: EngineHost.open() was not called")
        return self._runtime

    @property
    def mailbox(self) -> ParamMailbox:
        """The running engine's parameter mailbox (replaced with the engine)."""
        return self.runtime.mailbox

    @property
    def timeline(self) -> TimelineModel:
        if self._timeline is None:
            raise RuntimeError("no timeline yet: EngineHost.open() was not called")
        return self._timeline

    @property
    def audio_device_name(self) -> str:
        """The output device in use as the audio backend reports it ("NAME (HOST API)", or "none (silent)")."""
        return self.runtime.audio_status().device_name

    def sample_positions(self) -> None:
        """Note where the stream and the capture are now (the GUI timer): a selection of stream time is
        later mapped to the audio really captured there."""
        runtime = self.runtime
        self.positions.sample(runtime.stream_play_position, runtime.capture_position)
