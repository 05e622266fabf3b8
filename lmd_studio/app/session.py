"""Session: the Qt-free controller the GUI drives. It wires the helpers; they do the work.

- `EngineRuntime` (runtime.py): the running engine, audio backend and capture hub; replaced on a model
  switch or an audio-settings change, with the timeline and captured audio running on across the switch.
- `PerformanceDesk` (performance.py): knobs, prompts (PromptMixer) and scenes (ParamMorph), with their
  countdowns, timeline markers and sidecar events.
- `RecordingDesk` (recording.py): takes, capture-last-N, saving a selected stretch.
- `TimelineModel` (timeline_model.py) + `PositionMap` (capture_chain.py): the timeline's data.
- meters (meters.py), the settings store (lmd_studio.settings), background jobs (jobs.py, model_jobs.py)
  for model loading and rendering, and the MIDI link (midi_link.py) when MIDI is available.

Threading: every public method is called from one thread (the GUI's); `tick()` runs from its timer at
30–60 Hz. The engine, audio, capture and MIDI threads never call into the Session.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmd_studio.app.actions_router import ActionRouter
from lmd_studio.app.bootstrap import DEFAULT_PROMPT, EngineParts, make_mailbox
from lmd_studio.app.capture_chain import CaptureFanout, PositionMap
from lmd_studio.app.jobs import BackgroundJob
from lmd_studio.app.meters import CpuMeter, PeakMeter
from lmd_studio.app.midi_link import NullMidiLink
from lmd_studio.app.model_catalog import discover_adapters, discover_models, model_label
from lmd_studio.app.model_jobs import load_model_work, mailbox_like, render_work
from lmd_studio.app.performance import PerformanceDesk
from lmd_studio.app.recording import RecordingDesk
from lmd_studio.app.runtime import EngineRuntime
from lmd_studio.app.startup import READY_TEXT, ModelStartup, audio_for
from lmd_studio.app.tap_tempo import TapTempo
from lmd_studio.app.timeline_model import TimelineConfig, TimelineModel
from lmd_studio.app.values import ControlInfo, ModelChoice, Notice, StudioStatus, TimelineFrame
from lmd_studio.core.generator import BlockGenerator
from lmd_studio.core.params import MASTER_GAIN, PITCH, SEED, STEPS
from lmd_studio.engine.sinks import RecordingResult
from lmd_studio.rt.mailbox import ParamMailbox
from lmd_studio.settings.paths import StudioPaths
from lmd_studio.settings.scenes import Scene
from lmd_studio.settings.schema import AudioSettings, PromptEntry, StudioSettings
from lmd_studio.settings.store import SettingsStore

PANIC_FADE_S = 0.15


@dataclass(frozen=True, slots=True)
class SessionDeps:
    """What bootstrap hands the Session: stores, paths and the factories for engine parts."""

    paths: StudioPaths
    settings_store: SettingsStore
    make_generator: Callable[[str, int], BlockGenerator]  # (model spec, torch threads)
    make_parts: Callable[[BlockGenerator, ParamMailbox, AudioSettings], EngineParts]
    model_folders: tuple[Path, ...] = ()
    retro_s: float = 300.0
    clock: Callable[[], float] = time.perf_counter


class Session:
    def __init__(self, deps: SessionDeps, settings: StudioSettings, generator: BlockGenerator,
                 model_spec: str = "", audio: AudioSettings | None = None, first_run: bool = False,
                 startup_message: str = "", startup: ModelStartup | None = None) -> None:
        self.deps = deps
        self.paths = deps.paths
        self._settings = settings
        self._audio = audio or settings.audio  # may differ from the settings for this run (--audio)
        self._model_spec = model_spec
        self.first_run = first_run
        self._clock = deps.clock
        self._notices: list[Notice] = []
        self._startup = startup  # the model still to load, `generator` standing in (startup.py)
        self._adapter_loaded = ""  # the adapter really mixed into the current generator
        if startup_message:
            self.notify("warning", startup_message)
        self.meter = PeakMeter()
        self.cpu = CpuMeter()
        self.fanout = CaptureFanout()
        self.desk = RecordingDesk(self.fanout, self._recordings_folder, lambda: self._settings.record_format,
                                  retro_s=deps.retro_s, notify=self.notify, metadata=self._take_metadata,
                                  engine_metrics=lambda: self._runtime.live_metrics())
        self.midi: Any = NullMidiLink(self.notify)  # bootstrap attaches a MidiLink (midi_link.py)
        self.perf = PerformanceDesk(lambda: self._runtime, self._require_timeline, self.desk, deps.paths,
                                    settings.morph_s, self.notify, self._clock, lambda: self.midi)
        self.mixer = self.perf.mixer
        self.taps = TapTempo(self._clock)
        self.actions = ActionRouter(
            {"play": self.play, "stop": self.stop, "reset": self.reset, "panic": self.panic,
             "capture_30s": lambda: self.capture_last(30.0), "capture_60s": lambda: self.capture_last(60.0),
             "capture_300s": lambda: self.capture_last(300.0), "learn_toggle": self._learn_toggle,
             "tap_tempo": self._tap, "reroll": self.reroll},
            toggles={"play_toggle": self.toggle_play, "record_toggle": self.toggle_record},
            scene=self.recall_scene, notify=self.notify)
        self._jobs: list[tuple[BackgroundJob, Callable[[BackgroundJob], None]]] = []
        self._panic_until_s: float | None = None
        self._transport_playing = False
        self._underruns_before = 0  # counts of engines replaced earlier, so the meters never go back
        self._underflows_before = 0
        self._underflows_at_play = 0
        self._timeline: TimelineModel | None = None
        self._frame_cache: tuple[tuple, TimelineFrame] | None = None  # timeline_frame's last answer
        self._positions = PositionMap()
        self._runtime = self._build_runtime(generator, self._new_mailbox(generator, None))
        self.perf.restore(settings, DEFAULT_PROMPT)

    # ================================================================ lifecycle
    def start(self) -> None:
        if self._startup is None:  # a stand-in is never started: no silence primed, drawn or timed
            self._runtime.start()
        self._runtime.set_safe_mode(self._settings.safe_mode)
        self.set_volume_db(self._settings.volume_db)
        self.midi.start(self._settings.midi)
        self.desk.recover_unfinished()  # takes a crash cut off last time, repaired in the background
        if self._startup is None:
            self._restore_adapter()
        # else the model starts loading at the first tick: the window is built by then, and the loader's
        # imports do not compete with it for the interpreter

    def shutdown(self) -> None:
        """Stop everything and save what the user would expect back next time."""
        if self.desk.recording:
            job = self.desk.stop_take()
            job.wait(20.0)
            self.desk.poll()
        self.midi.close()
        self._runtime.shutdown()
        self.desk.close()
        for job, _ in self._jobs:
            job.cancel()
        for job, _ in self._jobs:  # a job thread still inside torch when the interpreter exits can abort it
            job.wait(20.0)
        self._settings = dataclasses.replace(self._settings, first_run_done=True, volume_db=self.volume_db,
                                             **self.perf.remembered(self._settings))
        self._save_settings()
        self.perf.save_history()

    # ================================================================ the GUI timer
    def tick(self) -> StudioStatus:
        now = self._clock()
        if self._startup is not None and self._startup.job is None:
            self._start_job(self._startup.start(self.mailbox.snapshot().controls), self._startup_done)
        self._step_panic(now)
        self._apply_midi(self.midi.poll())
        self.perf.tick(now)
        self._positions.sample(self._runtime.stream_play_position, self._runtime.capture_position)
        self.desk.poll()
        self._finish_jobs()
        return self._status(now)

    def _status(self, now: float) -> StudioStatus:
        m = self._runtime.metrics
        self.meter.update(self._runtime.take_peak(), now)
        audio = self._runtime.audio_status()
        recorder = self.desk.recorder
        retro = self.desk.retro
        startup = self._startup.text(m.primed, now) if self._startup is not None else ""
        return StudioStatus(
            playing=m.playing, primed=m.primed, recording=self.desk.recording,
            record_elapsed_s=recorder.elapsed_s, record_path=str(recorder.path or ""),
            level_db=self.meter.level_db, hold_db=self.meter.hold_db, clipped=self.meter.clipped,
            headroom_s=m.headroom_s, ahead_target_s=self._runtime.ahead_target_s, rtf=m.rtf,
            block_ms=m.block_ms_mean, block_s=m.block_s, underruns=m.underruns + self._underruns_before,
            device_underflows=m.device_underflows + self._underflows_before - self._underflows_at_play, cpu_percent=self.cpu.update(),
            warning=m.warning, safe_mode=self._settings.safe_mode, steps_override=m.steps_override,
            pending_change_s=m.pending_change_s, next_boundary_s=m.next_boundary_s, context_s=m.context_s,
            played_s=self._runtime.stream_play_position / self._runtime.sample_rate_hz, model_name=self.model_name, audio_device=audio.device_name,
            audio_message=audio.message, sample_rate_hz=audio.sample_rate_hz, buffer_frames=audio.buffer_frames,
            bpm=self.mailbox.bpm, held_notes=self.mailbox.snapshot().controls.held_notes,
            retro_available_s=retro.available_s if retro is not None else 0.0, engine_error=m.last_error,
            countdowns=self.perf.countdowns.current(now), prompt_shares=self.mixer.shares(now),
            morphing=self.mixer.morphing or self.perf.morph.active,
            jobs=tuple(j.view() for j, _ in self._jobs) + tuple(j.view() for j in self.desk.jobs()),
            midi_learning=self.midi_learning, controls_version=self.mailbox.version, startup=startup,
            model_loading=self._startup is not None and self._startup.loading,
            play_pending=self._transport_playing and startup not in ("", READY_TEXT),
            adapter=self._settings.adapter)

    # ================================================================ transport
    @property
    def playing(self) -> bool:
        """The transport as the player set it (the engine follows within a few milliseconds)."""
        return self._transport_playing

    def play(self) -> None:
        self._panic_until_s = None
        if self._startup is not None and self._startup.loading:  # plays the moment the model is in
            self._transport_playing = True  # the status says so: play_pending
            return
        if not self._transport_playing:  # device glitches count from here (stream start-up is not playing)
            self._underflows_at_play = self._runtime.metrics.device_underflows + self._underflows_before
        self._transport_playing = True
        self._runtime.play()
        self.midi.set_transport(True)  # MIDI clock out: Start / Continue

    def stop(self) -> None:
        self._transport_playing = False
        self._runtime.stop()
        self.midi.set_transport(False)
        self.perf.countdowns.clear()

    def toggle_play(self) -> None:
        if self._transport_playing:
            self.stop()
        else:
            self.play()

    def reset(self) -> None:
        """Fresh start: the model forgets its context and begins again from the current seed."""
        self._runtime.reset(int(self.mailbox.get(SEED.name)))
        self.perf.countdowns.clear()
        self.perf.mark("fresh start", "reset")

    def panic(self) -> None:
        """Fade to silence, release held notes, stop. The volume setting is kept for the next play."""
        self.perf.morph.cancel()
        self.mailbox.set_held_notes(())
        self.midi.panic()
        self.mailbox.set(MASTER_GAIN.name, MASTER_GAIN.minimum)
        self._runtime.wake()
        self._panic_until_s = self._clock() + PANIC_FADE_S

    def _step_panic(self, now: float) -> None:
        if self._panic_until_s is None or now < self._panic_until_s:
            return
        if self._runtime.playing:
            self.stop()
            return  # restore the volume only once the engine has really stopped
        self._panic_until_s = None
        self.mailbox.set(MASTER_GAIN.name, self._settings.volume_db)
        self.perf.countdowns.clear()

    # ================================================================ performance controls
    @property
    def mailbox(self) -> ParamMailbox:
        return self._runtime.mailbox

    def controls(self) -> list[ControlInfo]:
        """Every performance control (volume excluded) with whether this model listens to it."""
        heard = {s.name for s in self._runtime.generator.param_specs}
        return [ControlInfo(spec, spec.name in heard) for spec in self.mailbox.registry
                if spec.name != MASTER_GAIN.name]

    def value(self, name: str) -> float:
        return self.mailbox.get(name)

    def is_auto(self, name: str) -> bool:
        return self.mailbox.is_auto(name)

    def set_value(self, name: str, value: float, source: str = "gui") -> float:
        return self.perf.set_value(name, value, source)

    def set_auto(self, name: str, auto: bool) -> None:
        self.perf.set_auto(name, auto)

    def reroll(self) -> int:
        """A new variation: a different seed."""
        return self.perf.reroll()

    @property
    def volume_db(self) -> float:
        return self.mailbox.get(MASTER_GAIN.name) if self._panic_until_s is None else self._settings.volume_db

    def set_volume_db(self, gain_db: float) -> None:
        stored = self.mailbox.set(MASTER_GAIN.name, gain_db)
        self._panic_until_s = None
        self._settings = dataclasses.replace(self._settings, volume_db=stored)
        self._runtime.wake()

    def set_safe_mode(self, enabled: bool) -> None:
        self._runtime.set_safe_mode(enabled)
        self._settings = dataclasses.replace(self._settings, safe_mode=bool(enabled))

    # ================================================================ prompts
    @property
    def prompt_slot_count(self) -> int:
        return self.mixer.slot_count

    def prompt_entries(self) -> tuple[PromptEntry, ...]:
        return self.mixer.entries()

    def set_prompt_text(self, slot: int, text: str) -> None:
        self.perf.set_prompt_text(slot, text)

    def set_prompt_weight(self, slot: int, weight: float, source: str = "gui") -> None:
        self.perf.set_prompt_weight(slot, weight, source)

    def set_prompt_enabled(self, slot: int, enabled: bool) -> None:
        self.perf.set_prompt_enabled(slot, enabled)

    @property
    def morph_s(self) -> float:
        return self.mixer.morph_s

    def set_morph_s(self, seconds: float) -> None:
        self.mixer.morph_s = min(60.0, max(0.0, float(seconds)))
        self._settings = dataclasses.replace(self._settings, morph_s=self.mixer.morph_s)

    def suggestions(self) -> list[str]:
        return self.perf.suggestions()

    # ================================================================ scenes
    def scenes(self) -> tuple[Scene | None, ...]:
        return self.perf.scenes()

    def save_scene(self, index: int, name: str | None = None) -> Scene:
        return self.perf.save_scene(index, name)

    def recall_scene(self, index: int, morph_s: float | None = None) -> bool:
        return self.perf.recall_scene(index, morph_s)

    def delete_scene(self, index: int) -> None:
        self.perf.delete_scene(index)

    # ================================================================ recording
    @property
    def recording(self) -> bool:
        return self.desk.recording

    @property
    def last_saved(self) -> RecordingResult | None:
        return self.desk.last_saved

    def toggle_record(self) -> None:
        self.desk.toggle_take()

    def start_recording(self) -> Path | None:
        return self.desk.start_take()

    def stop_recording(self) -> BackgroundJob | None:
        return self.desk.stop_take()

    def capture_last(self, seconds: float) -> Path | None:
        return self.desk.capture_last(seconds)

    def save_selection(self, start_s: float, end_s: float) -> BackgroundJob | None:
        """Save a stretch of the timeline (seconds of stream time) that has already been heard."""
        rate = self._runtime.sample_rate_hz
        a, b = sorted((int(start_s * rate), int(end_s * rate)))
        b = min(b, self._runtime.stream_play_position)
        # the music selected, without the silence the device played while the stream stood still
        spans = self._positions.spans(a, b)
        if not spans:
            return self.desk.save_selection(None, None)
        gaps = tuple((end, start) for (_, end), (start, _) in zip(spans, spans[1:]) if start > end)
        return self.desk.save_selection(spans[0][0], spans[-1][1], gaps)

    def _take_metadata(self) -> dict[str, Any]:
        snap = self.mailbox.snapshot().controls
        prompts = [{"slot": i, "text": p.text, "weight": p.weight, "enabled": p.enabled}
                   for i, p in enumerate(self.mixer.entries()) if p.text.strip()]  # empty slots play nothing
        # tempo and key as the model was asked for them when the take started (None: it decided itself)
        tempo = None if snap.bpm is None else {"bpm": snap.bpm, "beats_per_bar": snap.beats_per_bar}
        key = {"held_notes": [n for n, _ in snap.held_notes]} if snap.held_notes else (
            None if snap.is_auto(PITCH) else {"pitch_class": int(snap.value(PITCH))})
        return {"prompts": prompts, "parameters": dict(snap.values), "seed": int(self.mailbox.get(SEED.name)),
                "model": self.model_name, "auto": sorted(snap.auto), "bpm": snap.bpm, "tempo": tempo, "key": key,
                "safe_mode": self._settings.safe_mode}

    # ================================================================ timeline
    def timeline_frame(self, span_s: float, columns: int, spectrogram: bool = False,
                       end_fraction: float = 0.25) -> TimelineFrame:
        """What to draw: `span_s` of stream time with the playhead `end_fraction` from the right edge."""
        tl = self._require_timeline()
        rate = self._runtime.sample_rate_hz
        play = self._runtime.stream_play_position
        ahead = max(self._runtime.stream_write_position, play)
        key = (span_s, columns, spectrogram, end_fraction, rate, play, ahead, self._runtime.context_frames,
               id(tl), tl.version)
        if self._frame_cache is not None and self._frame_cache[0] == key:
            return self._frame_cache[1]  # nothing changed: the same object, so the view can skip redrawing
        start = max(0, int(play - (1.0 - end_fraction) * span_s * rate))
        end = start + int(span_s * rate)
        frame = TimelineFrame(
            sample_rate_hz=rate, play_s=play / rate, ahead_s=ahead / rate,
            context_start_s=max(0, ahead - self._runtime.context_frames) / rate,
            wave=tl.waveform(start, end, columns), spec=tl.spectrogram(start, end, columns) if spectrogram else None,
            boundaries_s=tuple(p / rate for p, _ in tl.boundaries(start, end)),
            markers=tuple(tl.markers(start, end)), oldest_s=tl.oldest_position() / rate)
        self._frame_cache = (key, frame)
        return frame

    def _require_timeline(self) -> TimelineModel:
        assert self._timeline is not None
        return self._timeline

    # ================================================================ models and adapters
    @property
    def model_name(self) -> str:
        return model_label(self._model_spec, self._runtime.generator.name)

    @property
    def model_spec(self) -> str:
        return self._model_spec

    def model_choices(self) -> list[ModelChoice]:
        return discover_models((*self.deps.model_folders, self.paths.models_dir))

    def load_model(self, spec: str) -> BackgroundJob:
        """Load a model off the GUI thread; the running one keeps playing until the new one is ready."""
        if self._startup is not None and self._startup.loading:
            self._startup.supersede()  # chosen before the start-up model was in: this one wins
        work = load_model_work(self.deps.make_generator, spec, self._settings.torch_threads,
                               self.mailbox.snapshot().controls)
        return self._start_job(BackgroundJob("load model", work), lambda job: self._model_loaded(job, spec))

    def _model_loaded(self, job: BackgroundJob, spec: str) -> None:
        if job.error:
            self.notify("error", f"{job.error[:1].upper()}{job.error[1:]}; still playing {self.model_name}")
            return
        self._model_spec = spec
        self._swap_runtime(job.result)
        self._settings = dataclasses.replace(self._settings, model=spec)
        self._save_settings()
        self.notify("info", f"Model ready: {self.model_name}")
        self._adapter_loaded = ""
        self._restore_adapter()

    def _startup_done(self, job: BackgroundJob) -> None:
        """The model loaded after the window opened (or its fallback) takes over from the stand-in; a
        play pressed meanwhile starts now."""
        assert self._startup is not None
        if self._startup.superseded:
            return
        self._startup.loaded()
        if job.error:  # cancelled (quitting) or a bug: the load's own fallbacks are inside the job
            self._transport_playing = False
            self.notify("error", f"The model did not load ({job.error}); choose one from the Model list")
            return
        loaded = job.result
        if loaded.message:
            self.notify("warning", loaded.message)
        self._model_spec = loaded.spec
        self._swap_runtime(loaded.generator, mark=False)  # plays at once if play was pressed meanwhile
        if self._transport_playing:
            self.midi.set_transport(True)
        self._restore_adapter()

    def _restore_adapter(self) -> None:
        """The adapter chosen last time goes into the model now playing. One it cannot take (no adapter
        support, a missing or incompatible file) is shown unselected, with a message."""
        path = self._settings.adapter
        if not path or path == self._adapter_loaded:
            return
        if not self.adapter_supported:
            self._settings = dataclasses.replace(self._settings, adapter="")
            self.notify("info", f"The adapter {Path(path).stem} is off: {self.model_name} cannot take adapters")
            return
        self.set_adapter(path, self._settings.adapter_strength)

    @property
    def adapter_supported(self) -> bool:
        return hasattr(self._runtime.generator, "set_adapter")

    def adapter_choices(self) -> list[Path]:
        folders = [self.paths.adapters_dir]
        if self._model_spec not in ("", "fake"):
            folders.append(Path(self._model_spec) / "adapters")
        return discover_adapters(folders)

    def set_adapter(self, path: str, strength: float) -> BackgroundJob | None:
        """Mix a LoRA adapter in at `strength` ("" = none), off the GUI thread (the model swaps weights
        between two blocks). None when the model cannot take adapters."""
        if not self.adapter_supported:
            return None
        generator = self._runtime.generator

        def work(job: BackgroundJob) -> None:
            job.progress(-1.0, f"adapter {Path(path).stem if path else 'off'}")
            generator.set_adapter(Path(path) if path else None, float(strength))

        return self._start_job(BackgroundJob("load adapter", work),
                               lambda job: self._adapter_set(job, path, float(strength)))

    def _adapter_set(self, job: BackgroundJob, path: str, strength: float) -> None:
        if job.error:
            self.notify("error", f"Adapter not loaded: {job.error}")
            # the model is unchanged: the settings (and the adapter list) name what it really has
            self._settings = dataclasses.replace(self._settings, adapter=self._adapter_loaded)
            return
        self._adapter_loaded = path
        self._settings = dataclasses.replace(self._settings, adapter=path, adapter_strength=strength)
        self.perf.mark(f"adapter {Path(path).stem if path else 'off'} {strength:.2f}", "control")
        self.desk.note_event({"type": "adapter", "path": path, "strength": strength})

    def render_offline(self, seconds: float, path: Path) -> BackgroundJob:
        """Render `seconds` with the current mix to a file, off the GUI thread."""
        generator = self._runtime.generator
        mailbox = mailbox_like(generator, self.mailbox.snapshot().controls, self.mixer.mix(self._clock()))
        return self._start_job(BackgroundJob("render", render_work(generator, mailbox, seconds, path)),
                               self._rendered)

    def _rendered(self, job: BackgroundJob) -> None:
        if job.error:
            self.notify("error", f"Render failed: {job.error}")
        else:
            r = job.result
            self.notify("info", f"Rendered {r.path.name} ({r.seconds:.1f} s, {r.speed_x_realtime:.1f}× real time)",
                        r.path)

    # ================================================================ settings
    @property
    def settings(self) -> StudioSettings:
        return self._settings

    @property
    def audio_settings(self) -> AudioSettings:
        return self._audio

    @property
    def audio_device_name(self) -> str:
        """The output device in use as the audio backend reports it ("NAME (HOST API)", or "none (silent)")."""
        return self._runtime.audio_status().device_name

    def apply_settings(self, new: StudioSettings) -> None:
        """Take new settings: the audio engine restarts only if the audio settings changed."""
        old, self._settings = self._settings, new
        self.mixer.morph_s = new.morph_s
        if new.safe_mode != old.safe_mode:
            self._runtime.set_safe_mode(new.safe_mode)
        if new.audio != old.audio:
            self._audio = new.audio
            self._swap_runtime(self._runtime.generator)
        if new.midi != old.midi:
            self.midi.configure(new.midi)
        if new.torch_threads != old.torch_threads:
            self.notify("info", "Torch threads take effect the next time a model is loaded")
        self._save_settings()

    def set_view(self, **changes: Any) -> None:
        """Remember view choices (timeline_span_s, spectrogram, theme) for next time; saved on exit."""
        self._settings = dataclasses.replace(self._settings, **changes)

    def audio_device_names(self) -> list[str]:
        from lmd_studio.audio.devices import list_output_devices

        try:
            return [f"{d.name} ({d.host_api})" for d in list_output_devices() if d.max_output_channels > 0]
        except RuntimeError as exc:
            self.notify("warning", str(exc))
            return []

    def _save_settings(self) -> None:
        try:
            self.deps.settings_store.save(self._settings)
        except OSError as exc:
            self.notify("error", f"Settings not saved: {exc.strerror or exc} ({self.deps.settings_store.path})")

    def _recordings_folder(self) -> Path:
        return self._settings.recordings_path(self.paths.recordings_dir)

    # ================================================================ notices
    def notify(self, level: str, text: str, path: Path | None = None) -> None:
        self._notices.append(Notice(level, text, path))

    def take_notices(self) -> list[Notice]:
        out, self._notices = self._notices, []
        return out

    # ================================================================ MIDI
    def attach_midi(self, link: Any) -> None:
        """Give the session its MidiLink (bootstrap does this; without one MIDI reports unavailable)."""
        self.midi = link

    def _apply_midi(self, tick: Any) -> None:
        self._notices.extend(tick.notices)
        for slot, weight in tick.prompt_weights:
            if slot < self.mixer.slot_count:
                self.set_prompt_weight(slot, weight, source="midi")
        for name, count in tick.actions:
            self.run_action(name, count)

    def run_action(self, name: str, count: int = 1) -> bool:
        """A triggered action (MIDI buttons, program changes): play_toggle, capture_30s, scene_3, …"""
        return self.actions.run(name, count)

    def _learn_toggle(self) -> None:
        """From a MIDI button: learn the control touched last on screen (or stop learning)."""
        if self.midi.learning_target:
            self.midi.cancel_learn()
        elif self.perf.last_touched:
            self.midi.learn(self.perf.last_touched)
            self.notify("info", f"MIDI learn: move a control for {self.perf.last_touched}")

    def _tap(self) -> None:
        bpm = self.taps.tap()
        if bpm is not None:
            self.mailbox.set_bpm(bpm)
            self._runtime.wake()

    @property
    def midi_available(self) -> bool:
        return self.midi.available

    @property
    def midi_learning(self) -> str:
        """The target waiting for a MIDI control to be moved ("" when not learning)."""
        return self.midi.learning_target

    def midi_input_names(self) -> list[str]:
        return list(self.midi.input_names())

    def midi_learn(self, target: str) -> None:
        """Bind `target` to the next MIDI control the player moves (see status.midi_learning)."""
        self.midi.learn(target)

    def midi_cancel_learn(self) -> None:
        self.midi.cancel_learn()

    def midi_controllers(self) -> tuple[str, ...]:
        return self.midi.controllers()

    def midi_bindings(self, controller: str) -> list[Any]:
        return self.midi.bindings(controller)

    def midi_update_binding(self, controller: str, source_id: str, **changes: Any) -> bool:
        return self.midi.update_binding(controller, source_id, **changes)

    def midi_remove_binding(self, controller: str, source_id: str) -> None:
        self.midi.remove_binding(controller, source_id)

    def midi_clear_map(self, controller: str) -> None:
        self.midi.clear_map(controller)

    def midi_export_map(self, controller: str, path: Path) -> bool:
        return self.midi.export_map(controller, path)

    def midi_import_map(self, controller: str, path: Path) -> bool:
        return self.midi.import_map(controller, path)

    def midi_targets(self) -> list[tuple[str, str]]:
        return self.midi.targets()

    def midi_port_lines(self) -> list[str]:
        return self.midi.port_lines()

    # ================================================================ internals
    def _new_mailbox(self, generator: BlockGenerator, old: ParamMailbox | None) -> ParamMailbox:
        """A mailbox for `generator`, carrying every value, flag and prompt the old one shares with it."""
        if old is not None:
            return mailbox_like(generator, old.snapshot().controls, old.prompts)
        mailbox = make_mailbox(generator, prompt=None)
        mailbox.set(MASTER_GAIN.name, self._settings.volume_db)
        return mailbox

    def _build_runtime(self, generator: BlockGenerator, mailbox: ParamMailbox) -> EngineRuntime:
        parts = self.deps.make_parts(generator, mailbox, audio_for(generator, self._audio))
        rate = parts.backend.sample_rate_hz
        if self._timeline is None or self._timeline.config.sample_rate_hz != rate:
            self._timeline = TimelineModel(TimelineConfig(rate))
            self._positions = PositionMap()
        runtime = EngineRuntime(parts, self.fanout, self._timeline)
        self.desk.configure(rate, parts.backend.channels)
        self.mixer.publish_interval_s = max(0.1, min(1.0, generator.block_frames / generator.sample_rate))
        if STEPS.name in mailbox.registry and self._settings.safe_mode:
            runtime.set_safe_mode(True)
        return runtime

    def _swap_runtime(self, generator: BlockGenerator, mark: bool = True) -> None:
        was_playing = self._transport_playing
        position = self._runtime.shutdown()
        self._underruns_before += self._runtime.metrics.underruns
        self._underflows_before += self._runtime.metrics.device_underflows
        old_mailbox = self._runtime.mailbox
        if self._timeline is not None:
            self._timeline.rebase(position)
        runtime = self._build_runtime(generator, self._new_mailbox(generator, old_mailbox))
        self._runtime = runtime
        runtime.start()
        runtime.set_safe_mode(self._settings.safe_mode)
        self.midi.rebind(runtime.mailbox)
        if was_playing:
            runtime.play()
        if mark:
            self.perf.mark(f"model: {self.model_name}", "model")

    def _start_job(self, job: BackgroundJob, on_done: Callable[[BackgroundJob], None]) -> BackgroundJob:
        self._jobs.append((job, on_done))
        return job.start()

    def _finish_jobs(self) -> None:
        for job, on_done in [(j, f) for j, f in self._jobs if j.done]:
            self._jobs.remove((job, on_done))
            on_done(job)
