"""The status the GUI draws each tick (a StudioStatus value), gathered from the Session's parts.

Engine readings (meters, headroom, timing, underruns), the transport, the take, the model's start-up
state, the prompt morph, countdowns, jobs and MIDI learn, as plain values: the GUI compares two
statuses to skip redrawing when nothing changed. The peak and CPU meters' ballistics live here.
"""

from __future__ import annotations

from collections.abc import Callable

from lmd_studio.app.change_marks import ChangeMarks
from lmd_studio.app.engine_host import EngineHost
from lmd_studio.app.input_desk import InputDesk
from lmd_studio.app.jobs import JobList
from lmd_studio.app.live_settings import LiveSettings
from lmd_studio.app.meters import CpuMeter, PeakMeter
from lmd_studio.app.midi_seam import MidiLinkApi
from lmd_studio.app.model_desk import ModelDesk
from lmd_studio.app.prompt_mixer import PromptMixer
from lmd_studio.app.recording import RecordingDesk
from lmd_studio.app.scenes import ParamMorph
from lmd_studio.app.startup import READY_TEXT
from lmd_studio.app.transport import Transport
from lmd_studio.app.values import InputMeter, StudioStatus


class StatusBuilder:
    def __init__(self, engine: EngineHost, transport: Transport, recording: RecordingDesk, model: ModelDesk,
                 mixer: PromptMixer, morph: ParamMorph, marks: ChangeMarks, jobs: JobList,
                 midi: Callable[[], MidiLinkApi], settings: LiveSettings, input_desk: InputDesk) -> None:
        self._engine = engine
        self._transport = transport
        self._recording = recording
        self._model = model
        self._mixer = mixer
        self._morph = morph
        self._marks = marks
        self._jobs = jobs
        self._midi = midi
        self._settings = settings
        self.meter = PeakMeter()
        self.cpu = CpuMeter()
        self._input = input_desk
        self.input_meter = PeakMeter()
        self.input_rms = PeakMeter(hold_s=0.0)

    def _input_reading(self, now_s: float) -> InputMeter | None:
        status = self._input.status()
        peak, rms = self._input.take_level()
        if status is None:
            return None
        self.input_meter.update(peak, now_s)
        self.input_rms.update(rms, now_s)
        return InputMeter(status.running, status.device_name, status.message, self.input_meter.level_db,
                          self.input_meter.hold_db, self.input_rms.level_db, self.input_meter.clipped, status.monitoring, status.overruns,
                          status.roundtrip_ms, status.channels)

    def build(self, now_s: float) -> StudioStatus:
        runtime = self._engine.runtime
        m = runtime.metrics
        self.meter.update(runtime.take_peak(), now_s)
        audio = runtime.audio_status()
        desk = self._recording
        recorder = desk.recorder
        retro = desk.retro
        startup_load = self._model.startup
        startup = startup_load.text(m.primed, now_s) if startup_load is not None else ""
        mailbox = runtime.mailbox
        settings = self._settings.current
        underflows = m.device_underflows + self._engine.underflows_before - self._transport.underflows_at_play
        beat = runtime.beat_at_playhead()
        beats_per_s = beat.bpm / 60.0 if beat is not None else None
        countdowns = self._marks.countdowns.current(now_s, runtime.waiting_change(), beats_per_s)
        return StudioStatus(
            playing=m.playing, primed=m.primed, recording=desk.recording,
            record_elapsed_s=recorder.elapsed_s, record_path=str(recorder.path or ""),
            level_db=self.meter.level_db, hold_db=self.meter.hold_db, clipped=self.meter.clipped,
            headroom_s=m.headroom_s, ahead_target_s=runtime.ahead_target_s, rtf=m.rtf,
            block_ms=m.block_ms_mean, block_s=m.block_s, underruns=m.underruns + self._engine.underruns_before,
            device_underflows=underflows, cpu_percent=self.cpu.update(),
            warning=m.warning, safe_mode=settings.safe_mode, steps_override=m.steps_override,
            pending_change_s=m.pending_change_s, next_boundary_s=m.next_boundary_s, context_s=m.context_s,
            played_s=runtime.stream_play_position / runtime.sample_rate_hz, model_name=self._model.name,
            audio_device=audio.device_name, audio_message=audio.message, sample_rate_hz=audio.sample_rate_hz,
            buffer_frames=audio.buffer_frames, bpm=mailbox.bpm, held_notes=mailbox.snapshot().controls.held_notes,
            retro_available_s=retro.available_s if retro is not None else 0.0, engine_error=m.last_error,
            countdowns=countdowns, prompt_shares=self._mixer.shares(now_s),
            morphing=self._mixer.morphing or self._morph.active,
            jobs=self._jobs.views() + tuple(j.view() for j in desk.jobs()),
            midi_learning=self._midi().learning_target, controls_version=mailbox.version, startup=startup,
            model_loading=startup_load is not None and startup_load.loading,
            play_pending=self._transport.playing and startup not in ("", READY_TEXT),
            adapter=settings.adapter, bar=beat.bar if beat is not None else 0,
            beat=beat.beat if beat is not None else 0, beats_per_bar=beat.beats_per_bar if beat is not None else 4,
            quantise=settings.quantise, input=self._input_reading(now_s), jam=self._input.jam())
