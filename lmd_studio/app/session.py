"""Session: the Qt-free controller the GUI drives. It wires the helpers; they do the work.

- `EngineRuntime` (runtime.py): the running engine, audio backend and capture hub; replaced on a model
  switch or an audio-settings change, with the timeline and captured audio running on across the switch.
- `PromptMixer` (prompt_mixer.py), `ParamMorph` (scenes.py): smooth prompt and scene changes.
- `RecordingDesk` (recording.py): takes, capture-last-N, saving a selected stretch.
- `TimelineModel` (timeline_model.py) + `PositionMap` (capture_chain.py): the timeline's data.
- `ChangeLog`, `CountdownTracker`, meters: markers, sidecar events, "heard in …", levels.
- settings/scenes/history stores (lmd_studio.settings), background jobs (jobs.py) for model loading and
  rendering, and the MIDI link (midi_link.py) when MIDI is available.

Threading: every public method is called from one thread (the GUI's); `tick()` runs from its timer at
30–60 Hz. The engine, audio, capture and MIDI threads never call into the Session.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmd_studio.app.bootstrap import DEFAULT_PROMPT, EngineParts, make_mailbox
from lmd_studio.app.capture_chain import CaptureFanout, PositionMap
from lmd_studio.app.change_log import ChangeLog
from lmd_studio.app.countdown import CountdownTracker
from lmd_studio.app.jobs import BackgroundJob
from lmd_studio.app.meters import CpuMeter, PeakMeter
from lmd_studio.app.model_catalog import discover_adapters, discover_models, model_label
from lmd_studio.app.prompt_mixer import PromptMixer
from lmd_studio.app.recording import RecordingDesk
from lmd_studio.app.runtime import EngineRuntime
from lmd_studio.app.scenes import ParamMorph, capture_scene
from lmd_studio.app.tap_tempo import TapTempo
from lmd_studio.app.timeline_model import TimelineConfig, TimelineModel
from lmd_studio.app.values import ControlInfo, ModelChoice, Notice, StudioStatus, TimelineFrame
from lmd_studio.app.vocabulary import prompt_suggestions
from lmd_studio.core.generator import BlockGenerator
from lmd_studio.core.params import MASTER_GAIN, SEED, STEPS
from lmd_studio.engine.sinks import RecordingResult
from lmd_studio.rt.mailbox import ParamMailbox
from lmd_studio.settings.history import PromptHistory
from lmd_studio.settings.paths import StudioPaths
from lmd_studio.settings.scenes import SCENE_SLOTS, Scene, SceneStore
from lmd_studio.settings.schema import AudioSettings, PromptEntry, StudioSettings
from lmd_studio.settings.store import SettingsStore

PROMPT_SLOTS = 4
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
                 startup_message: str = "") -> None:
        self.deps = deps
        self.paths = deps.paths
        self._settings = settings
        self._audio = audio or settings.audio  # may differ from the settings for this run (--audio)
        self._model_spec = model_spec
        self.first_run = first_run
        self._clock = deps.clock
        self._notices: list[Notice] = []
        if startup_message:
            self.notify("warning", startup_message)
        self.scene_store = SceneStore(deps.paths.scenes_file)
        scene_load = self.scene_store.load()
        self._scenes: list[Scene | None] = list(scene_load.scenes)
        if scene_load.message:
            self.notify("warning", scene_load.message)
        self.history = PromptHistory(deps.paths.prompt_history_file).load()
        if self.history.message:
            self.notify("warning", self.history.message)
        self.mixer = PromptMixer(PROMPT_SLOTS, morph_s=settings.morph_s)
        self.morph = ParamMorph()
        self.changes = ChangeLog()
        self.countdowns = CountdownTracker()
        self.meter = PeakMeter()
        self.cpu = CpuMeter()
        self.fanout = CaptureFanout()
        self.desk = RecordingDesk(self.fanout, self._recordings_folder, lambda: self._settings.record_format,
                                  retro_s=deps.retro_s)
        self.midi: Any = None  # a MidiLink once attached (midi_link.py)
        self.last_saved: RecordingResult | None = None
        self._last_touched = ""  # the control moved last on screen (MIDI "learn_toggle" binds it)
        self.taps = TapTempo()
        self._jobs: list[tuple[BackgroundJob, Callable[[BackgroundJob], None]]] = []
        self._panic_until_s: float | None = None
        self._transport_playing = False
        self._underruns_before = 0  # counts of engines replaced earlier, so the meters never go back
        self._underflows_before = 0
        self._timeline: TimelineModel | None = None
        self._positions = PositionMap()
        self._runtime = self._build_runtime(generator, self._new_mailbox(generator, None))
        self._restore_last_mix(settings)

    # ================================================================ lifecycle
    def start(self) -> None:
        self._runtime.start()
        self._runtime.set_safe_mode(self._settings.safe_mode)
        self.set_volume_db(self._settings.volume_db)
        if self.midi is not None:
            self.midi.start(self._settings.midi)

    def shutdown(self) -> None:
        """Stop everything and save what the user would expect back next time."""
        if self.desk.recording:
            self._finish_take_now()
        if self.midi is not None:
            self.midi.close()
        self._runtime.shutdown()
        self.desk.close()
        for job, _ in self._jobs:
            job.cancel()
        snap = self.mailbox.snapshot().controls
        kept = {k: v for k, v in self._settings.params if k not in snap.values}  # another model's knobs
        params = tuple(sorted({**kept, **{k: v for k, v in snap.values.items() if k != MASTER_GAIN.name}}.items()))
        self._settings = dataclasses.replace(self._settings, prompts=self.mixer.entries(), first_run_done=True,
                                             volume_db=self.volume_db, params=params,
                                             auto_params=tuple(sorted(snap.auto)))
        self._save_settings()
        self._save_history()

    # ================================================================ the GUI timer
    def tick(self) -> StudioStatus:
        now = self._clock()
        self._step_panic(now)
        mix = self.mixer.tick(now)
        if mix is not None:
            self.mailbox.set_prompts(mix)
            self._runtime.wake()
        for name, value in self.morph.tick(now).items():
            self.mailbox.set(name, value)
        if self.midi is not None:
            self._apply_midi(self.midi.poll())
        self._flush_changes(now)
        self._positions.sample(self._runtime.stream_play_position, self._runtime.capture_position)
        for item in self.desk.poll():
            self._report_saved(item)
        self._finish_jobs()
        return self._status(now)

    def _status(self, now: float) -> StudioStatus:
        m = self._runtime.metrics
        self.meter.update(self._runtime.take_peak(), now)
        audio = self._runtime.audio_status()
        recorder = self.desk.recorder
        retro = self.desk.retro
        return StudioStatus(
            playing=m.playing, primed=m.primed, recording=recorder.is_recording,
            record_elapsed_s=recorder.elapsed_s, record_path=str(recorder.path or ""),
            level_db=self.meter.level_db, hold_db=self.meter.hold_db, clipped=self.meter.clipped,
            headroom_s=m.headroom_s, ahead_target_s=self._runtime.ahead_target_s, rtf=m.rtf,
            block_ms=m.block_ms_mean, block_s=m.block_s, underruns=m.underruns + self._underruns_before,
            device_underflows=m.device_underflows + self._underflows_before, cpu_percent=self.cpu.update(),
            warning=m.warning, safe_mode=self._settings.safe_mode, steps_override=m.steps_override,
            pending_change_s=m.pending_change_s, next_boundary_s=m.next_boundary_s, context_s=m.context_s,
            played_s=self._runtime.stream_play_position / self._runtime.sample_rate_hz, model_name=self.model_name, audio_device=audio.device_name,
            audio_message=audio.message, sample_rate_hz=audio.sample_rate_hz, buffer_frames=audio.buffer_frames,
            bpm=self.mailbox.bpm, held_notes=self.mailbox.snapshot().controls.held_notes,
            retro_available_s=retro.available_s if retro is not None else 0.0, engine_error=m.last_error,
            countdowns=self.countdowns.current(now), prompt_shares=self.mixer.shares(now),
            morphing=self.mixer.morphing or self.morph.active,
            jobs=tuple(j.view() for j, _ in self._jobs) + tuple(j.view() for j in self.desk.jobs()),
            midi_learning=self.midi_learning)

    # ================================================================ transport
    @property
    def playing(self) -> bool:
        """The transport as the player set it (the engine follows within a few milliseconds)."""
        return self._transport_playing

    def play(self) -> None:
        self._panic_until_s = None
        self._transport_playing = True
        self._runtime.play()

    def stop(self) -> None:
        self._transport_playing = False
        self._runtime.stop()
        self.countdowns.clear()

    def toggle_play(self) -> None:
        if self._transport_playing:
            self.stop()
        else:
            self.play()

    def reset(self) -> None:
        """Fresh start: the model forgets its context and begins again from the current seed."""
        self._runtime.reset(int(self.mailbox.get(SEED.name)))
        self.countdowns.clear()
        self._mark("fresh start", "reset")

    def panic(self) -> None:
        """Fade to silence, release held notes, stop. The volume setting is kept for the next play."""
        self.morph.cancel()
        self.mailbox.set_held_notes(())
        if self.midi is not None:
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
        self.countdowns.clear()

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
        self.morph.cancel(name)
        if source == "gui":
            self._last_touched = name
        stored = self.mailbox.set(name, value)
        self._runtime.wake()
        spec = self.mailbox.registry.spec(name)
        if spec.block_boundary:
            self._note_change(name, f"{spec.label} {_fmt(stored, spec.integer)}",
                              {"type": "param", "name": name, "value": stored, "source": source})
        return stored

    def set_auto(self, name: str, auto: bool) -> None:
        self.mailbox.set_auto(name, auto)
        self._runtime.wake()
        spec = self.mailbox.registry.spec(name)
        self._note_change(name, f"{spec.label} {'auto' if auto else 'manual'}",
                          {"type": "auto", "name": name, "auto": auto})

    def reroll(self) -> int:
        """A new variation: a different seed, never the same one again by chance."""
        current = int(self.mailbox.get(SEED.name))
        seed = random.Random().randrange(int(SEED.minimum), int(SEED.maximum))
        if seed >= current:
            seed += 1
        return int(self.set_value(SEED.name, min(seed, int(SEED.maximum))))

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
        if self.mixer.set_text(slot, text, self._clock()):
            entry = self.mixer.entries()[slot]
            if entry.text and self.history.add(entry.text):
                self._save_history()
            self._note_change(f"prompt{slot}", f"“{entry.text or '—'}”",
                              {"type": "prompt", "slot": slot, "text": entry.text})

    def set_prompt_weight(self, slot: int, weight: float, source: str = "gui") -> None:
        if self.mixer.set_weight(slot, weight, self._clock()):
            w = self.mixer.entries()[slot].weight
            if self.midi is not None and source != "midi":
                self.midi.sync_prompt_weight(slot, w)
            self._note_change(f"prompt{slot}", f"prompt {slot + 1} {w:.0%}",
                              {"type": "prompt", "slot": slot, "weight": w, "source": source})

    def set_prompt_enabled(self, slot: int, enabled: bool) -> None:
        if self.mixer.set_enabled(slot, enabled, self._clock()):
            self._note_change(f"prompt{slot}", f"prompt {slot + 1} {'on' if enabled else 'off'}",
                              {"type": "prompt", "slot": slot, "enabled": enabled})

    @property
    def morph_s(self) -> float:
        return self.mixer.morph_s

    def set_morph_s(self, seconds: float) -> None:
        self.mixer.morph_s = min(60.0, max(0.0, float(seconds)))
        self._settings = dataclasses.replace(self._settings, morph_s=self.mixer.morph_s)

    def suggestions(self) -> list[str]:
        return prompt_suggestions(self._runtime.generator, self.history.items)

    def _restore_last_mix(self, settings: StudioSettings) -> None:
        """The prompts and knobs as they were when the app closed; a first run gets a starter prompt."""
        entries = settings.prompts or (PromptEntry(DEFAULT_PROMPT, 1.0),)
        self.mixer.load(entries, self._clock(), morph_s=0.0)
        self.mailbox.set_prompts(self.mixer.mix(self._clock()))
        registry = self.mailbox.registry
        for name, value in settings.params:
            if name in registry and name != MASTER_GAIN.name:
                self.mailbox.set(name, value)
        for name in settings.auto_params:
            if name in registry and registry.spec(name).can_auto:
                self.mailbox.set_auto(name, True)

    # ================================================================ scenes
    def scenes(self) -> tuple[Scene | None, ...]:
        return tuple(self._scenes)

    def save_scene(self, index: int, name: str | None = None) -> Scene:
        _check_scene(index)
        snap = self.mailbox.snapshot().controls
        scene = capture_scene(name or f"Scene {index + 1}", self.mixer.entries(), snap.values, snap.auto,
                              self.mixer.morph_s, skip=lambda n: n == MASTER_GAIN.name)
        self._scenes[index] = scene
        self._save_scenes()
        self.notify("info", f"Saved scene {index + 1}: {scene.name}")
        return scene

    def recall_scene(self, index: int, morph_s: float | None = None) -> bool:
        _check_scene(index)
        scene = self._scenes[index]
        if scene is None:
            self.notify("warning", f"Scene {index + 1} is empty: save one first (Ctrl+Shift+{index + 1})")
            return False
        now = self._clock()
        duration = scene.morph_s if morph_s is None else morph_s
        self.mixer.load(scene.prompts, now, morph_s=duration)
        if self.midi is not None:
            for slot, entry in enumerate(self.mixer.entries()):
                self.midi.sync_prompt_weight(slot, entry.weight)
        registry = self.mailbox.registry
        for spec in registry:
            if spec.can_auto:
                self.mailbox.set_auto(spec.name, spec.name in scene.auto)
        current = {n: self.mailbox.get(n) for n in registry.names}
        self.morph.start(registry, current, scene.param_values, now, duration)
        self._mark(f"scene {index + 1}: {scene.name}", "scene")
        self.desk.note_event({"type": "scene", "slot": index, "name": scene.name, "morph_s": duration})
        return True

    def delete_scene(self, index: int) -> None:
        _check_scene(index)
        self._scenes[index] = None
        self._save_scenes()

    # ================================================================ recording
    @property
    def recording(self) -> bool:
        return self.desk.recording

    def toggle_record(self) -> None:
        if self.desk.recording:
            self.stop_recording()
        else:
            self.start_recording()

    def start_recording(self) -> Path | None:
        try:
            path = self.desk.start_take(self._take_metadata())
        except (OSError, ValueError, RuntimeError) as exc:
            self.notify("error", f"Cannot record: {exc}")
            return None
        self.notify("info", f"Recording to {path.name}", path)
        return path

    def stop_recording(self) -> BackgroundJob | None:
        if not self.desk.recording:
            return None
        return self.desk.stop_take()

    def _finish_take_now(self) -> None:
        job = self.desk.stop_take()
        job.wait(20.0)
        if isinstance(job.result, RecordingResult):
            self._report_saved(job.result)

    def capture_last(self, seconds: float) -> Path | None:
        retro = self.desk.retro
        if retro is None or retro.available_frames == 0:
            self.notify("warning", "Nothing to capture yet: press play first")
            return None
        try:
            path = self.desk.capture_last(seconds, self._take_metadata())
        except (OSError, ValueError) as exc:
            self.notify("error", f"Cannot capture: {exc}")
            return None
        have = retro.available_s
        note = f" (only {have:.0f} s played so far)" if have < seconds - 0.5 else ""
        self.notify("info", f"Saving the last {_duration(seconds)}{note} to {path.name}", path)
        return path

    def save_selection(self, start_s: float, end_s: float) -> BackgroundJob | None:
        rate = self._runtime.sample_rate_hz
        a, b = sorted((int(start_s * rate), int(end_s * rate)))
        b = min(b, self._runtime.stream_play_position)  # only what was heard can be saved
        ca, cb = self._positions.to_capture(a), self._positions.to_capture(b)
        if ca is None or cb is None or cb - ca < rate // 20:
            self.notify("warning", "Select a stretch of what has already played to save it")
            return None
        return self.desk.save_selection(ca, cb, self._take_metadata())

    def _take_metadata(self) -> dict[str, Any]:
        snap = self.mailbox.snapshot().controls
        return {"prompts": [{"text": p.text, "weight": p.weight, "enabled": p.enabled} for p in self.mixer.entries()],
                "parameters": {k: v for k, v in snap.values.items()}, "seed": int(self.mailbox.get(SEED.name)),
                "model": self.model_name, "auto": sorted(snap.auto), "bpm": snap.bpm}

    def _report_saved(self, item: RecordingResult | str) -> None:
        if isinstance(item, str):
            self.notify("error", item)
        elif item.ok:
            self.last_saved = item
            self.notify("info", f"Saved {item.path.name} ({item.duration_s:.1f} s)", item.path)
        else:
            self.notify("error", f"Saving {item.path.name} failed: {item.error}", item.path)

    # ================================================================ timeline
    def timeline_frame(self, span_s: float, columns: int, spectrogram: bool = False,
                       end_fraction: float = 0.25) -> TimelineFrame:
        """What to draw: `span_s` of stream time with the playhead `end_fraction` from the right edge."""
        tl = self._require_timeline()
        rate = self._runtime.sample_rate_hz
        play = self._runtime.stream_play_position
        ahead = max(self._runtime.stream_write_position, play)
        start = max(0, int(play - (1.0 - end_fraction) * span_s * rate))
        end = start + int(span_s * rate)
        return TimelineFrame(
            sample_rate_hz=rate, play_s=play / rate, ahead_s=ahead / rate,
            context_start_s=max(0, ahead - self._runtime.context_frames) / rate,
            wave=tl.waveform(start, end, columns), spec=tl.spectrogram(start, end, columns) if spectrogram else None,
            boundaries_s=tuple(p / rate for p, _ in tl.boundaries(start, end)),
            markers=tuple(tl.markers(start, end)), oldest_s=tl.oldest_position() / rate)

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
        threads = self._settings.torch_threads

        def work(job: BackgroundJob) -> BlockGenerator:
            job.progress(-1.0, f"loading {model_label(spec, '…')}")
            generator = self.deps.make_generator(spec, threads)
            job.progress(0.8, "warming up")
            state = generator.init_state(0)
            generator.generate_block(state, self.mailbox.snapshot().controls)  # first block pays JIT/alloc
            return generator

        return self._start_job(BackgroundJob("load model", work), lambda job: self._model_loaded(job, spec))

    def _model_loaded(self, job: BackgroundJob, spec: str) -> None:
        if job.error:
            self.notify("error", f"Could not load the model: {job.error}")
            return
        self._model_spec = spec
        self._swap_runtime(job.result)
        self._settings = dataclasses.replace(self._settings, model=spec)
        self._save_settings()
        self.notify("info", f"Model ready: {self.model_name}")

    @property
    def adapter_supported(self) -> bool:
        return hasattr(self._runtime.generator, "set_adapter")

    def adapter_choices(self) -> list[Path]:
        folders = [self.paths.adapters_dir]
        if self._model_spec not in ("", "fake"):
            folders.append(Path(self._model_spec) / "adapters")
        return discover_adapters(folders)

    def set_adapter(self, path: str, strength: float) -> bool:
        """Mix a LoRA adapter in at `strength` ("" = none). False when the model cannot take adapters."""
        if not self.adapter_supported:
            return False
        try:
            self._runtime.generator.set_adapter(Path(path) if path else None, float(strength))
        except (OSError, ValueError) as exc:
            self.notify("error", f"Adapter not loaded: {exc}")
            return False
        self._settings = dataclasses.replace(self._settings, adapter=path, adapter_strength=float(strength))
        self._note_change("adapter", f"adapter {Path(path).stem if path else 'off'} {strength:.2f}",
                          {"type": "adapter", "path": path, "strength": float(strength)})
        return True

    def render_offline(self, seconds: float, path: Path) -> BackgroundJob:
        """Render `seconds` with the current mix to a file, off the GUI thread."""
        from lmd_studio.engine.render import render_to_file

        generator = self._runtime.generator
        snap = self.mailbox.snapshot().controls
        mailbox = make_mailbox(generator, prompt=None)
        for name, value in snap.values.items():
            if name in mailbox.registry:
                mailbox.set(name, value)
        for name in snap.auto:
            mailbox.set_auto(name, True)
        mailbox.set_prompts(self.mixer.mix(self._clock()))

        def work(job: BackgroundJob):
            job.progress(0.0, f"rendering {seconds:.0f} s")
            return render_to_file(generator, mailbox, seconds, path, progress=lambda f: job.progress(f))

        return self._start_job(BackgroundJob("render", work), self._rendered)

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

    def apply_settings(self, new: StudioSettings) -> None:
        """Take new settings: the audio engine restarts only if the audio settings changed."""
        old, self._settings = self._settings, new
        self.mixer.morph_s = new.morph_s
        if new.safe_mode != old.safe_mode:
            self._runtime.set_safe_mode(new.safe_mode)
        if new.audio != old.audio:
            self._audio = new.audio
            self._swap_runtime(self._runtime.generator)
        if self.midi is not None and new.midi != old.midi:
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

    @property
    def midi_available(self) -> bool:
        return self.midi is not None and self.midi.available

    def midi_input_names(self) -> list[str]:
        return list(self.midi.input_names()) if self.midi is not None else []

    def midi_learn(self, target: str) -> None:
        """Bind `target` to the next MIDI control the player moves (see status.midi_learning)."""
        if self.midi is None:
            self.notify("warning", "MIDI is not available")
            return
        self.midi.learn(target)

    def _save_settings(self) -> None:
        try:
            self.deps.settings_store.save(self._settings)
        except OSError as exc:
            self.notify("error", f"Settings not saved: {exc.strerror or exc} ({self.deps.settings_store.path})")

    def _save_scenes(self) -> None:
        try:
            self.scene_store.save(tuple(self._scenes))
        except OSError as exc:
            self.notify("error", f"Scenes not saved: {exc.strerror or exc}")

    def _save_history(self) -> None:
        try:
            self.history.save()
        except OSError as exc:
            self.notify("warning", f"Prompt history not saved: {exc.strerror or exc}")

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
        """Give the session its MidiLink (bootstrap does this; tests may leave MIDI out)."""
        self.midi = link

    def _apply_midi(self, tick: Any) -> None:
        for level, text in tick.notices:
            self.notify(level, text)
        for slot, weight in tick.prompt_weights:
            if slot < self.mixer.slot_count:
                self.set_prompt_weight(slot, weight, source="midi")
        for name, count in tick.actions:
            self.run_action(name, count)

    def run_action(self, name: str, count: int = 1) -> bool:
        """A triggered action (MIDI buttons, program changes): play_toggle, capture_30s, scene_3, …"""
        toggles = {"play_toggle": self.toggle_play, "record_toggle": self.toggle_record}
        once = {"play": self.play, "stop": self.stop, "reset": self.reset, "panic": self.panic,
                "capture_30s": lambda: self.capture_last(30.0), "capture_60s": lambda: self.capture_last(60.0),
                "capture_300s": lambda: self.capture_last(300.0), "learn_toggle": self._learn_toggle,
                "tap_tempo": self._tap, "reroll": self.reroll}
        if name in toggles:
            if count % 2:  # pressed twice since the last poll: back where it was
                toggles[name]()
        elif name in once:
            once[name]()
        elif name.startswith("scene_") and name[6:].isdigit():
            self.recall_scene(int(name[6:]))
        else:
            self.notify("warning", f"MIDI action {name!r} is not known to this version")
            return False
        return True

    def _learn_toggle(self) -> None:
        """From a MIDI button: learn the control touched last on screen (or stop learning)."""
        if self.midi is None:
            return
        if self.midi.learning_target:
            self.midi.cancel_learn()
        elif self._last_touched:
            self.midi.learn(self._last_touched)
            self.notify("info", f"MIDI learn: move a control for {self._last_touched}")

    def _tap(self) -> None:
        bpm = self.taps.tap(self._clock())
        if bpm is not None:
            self.mailbox.set_bpm(bpm)
            self._runtime.wake()

    @property
    def midi_learning(self) -> str:
        """The target waiting for a MIDI control to be moved ("" when not learning)."""
        return self.midi.learning_target if self.midi is not None else ""

    def midi_cancel_learn(self) -> None:
        if self.midi is not None:
            self.midi.cancel_learn()

    def midi_controllers(self) -> tuple[str, ...]:
        return self.midi.controllers() if self.midi is not None else ()

    def midi_bindings(self, controller: str) -> list[Any]:
        return self.midi.bindings(controller) if self.midi is not None else []

    def midi_update_binding(self, controller: str, source_id: str, **changes: Any) -> bool:
        try:
            self._require_midi().update_binding(controller, source_id, **changes)
        except (KeyError, ValueError) as exc:
            self.notify("error", f"MIDI binding not changed: {exc}")
            return False
        return True

    def midi_remove_binding(self, controller: str, source_id: str) -> None:
        self._require_midi().remove_binding(controller, source_id)

    def midi_clear_map(self, controller: str) -> None:
        self._require_midi().clear_map(controller)

    def midi_export_map(self, controller: str, path: Path) -> None:
        try:
            self._require_midi().export_map(controller, path)
        except OSError as exc:
            self.notify("error", f"MIDI map not exported to {path}: {exc.strerror or exc}")

    def midi_import_map(self, controller: str, path: Path) -> bool:
        error = self._require_midi().import_map(controller, path)
        if error:
            self.notify("error", f"MIDI map not imported: {error}")
        return error is None

    def midi_targets(self) -> list[tuple[str, str]]:
        return self.midi.targets() if self.midi is not None else []

    def midi_port_lines(self) -> list[str]:
        return self.midi.port_lines() if self.midi is not None else []

    def _require_midi(self) -> Any:
        if self.midi is None:
            raise RuntimeError("MIDI is not available")
        return self.midi

    # ================================================================ internals
    def _new_mailbox(self, generator: BlockGenerator, old: ParamMailbox | None) -> ParamMailbox:
        mailbox = make_mailbox(generator, prompt=None)
        if old is not None:  # carry every value the two models share
            snap = old.snapshot().controls
            for name, value in snap.values.items():
                if name in mailbox.registry:
                    mailbox.set(name, value)
            for name in snap.auto:
                if name in mailbox.registry and mailbox.registry.spec(name).can_auto:
                    mailbox.set_auto(name, True)
            mailbox.set_prompts(old.prompts)
            mailbox.set_held_notes(snap.held_notes)
            mailbox.set_bpm(snap.bpm)
        else:
            mailbox.set(MASTER_GAIN.name, self._settings.volume_db)
        return mailbox

    def _build_runtime(self, generator: BlockGenerator, mailbox: ParamMailbox) -> EngineRuntime:
        parts = self.deps.make_parts(generator, mailbox, self._audio)
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

    def _swap_runtime(self, generator: BlockGenerator) -> None:
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
        if self.midi is not None:
            self.midi.rebind(runtime.mailbox)
        if was_playing:
            runtime.play()
        self._mark(f"model: {self.model_name}", "model")

    def _start_job(self, job: BackgroundJob, on_done: Callable[[BackgroundJob], None]) -> BackgroundJob:
        self._jobs.append((job, on_done))
        return job.start()

    def _finish_jobs(self) -> None:
        for job, on_done in [(j, f) for j, f in self._jobs if j.done]:
            self._jobs.remove((job, on_done))
            on_done(job)

    def _note_change(self, key: str, label: str, event: dict[str, Any]) -> None:
        now = self._clock()
        m = self._runtime.metrics
        self.countdowns.note_change(key, now, m.pending_change_s, m.playing and m.primed)
        self.changes.note(key, label, event, now)

    def _flush_changes(self, now: float) -> None:
        batch = self.changes.flush(now)
        if batch is None:
            return
        self._mark(batch.label, batch.kind)
        for event in batch.events:
            self.desk.note_event(event)

    def _mark(self, label: str, kind: str) -> None:
        """A timeline marker where a change made now will be heard."""
        m = self._runtime.metrics
        rate = self._runtime.sample_rate_hz
        at = self._runtime.stream_play_position + int(m.pending_change_s * rate if m.playing else 0)
        self._require_timeline().add_marker(at, label, kind)


def _check_scene(index: int) -> None:
    if not 0 <= index < SCENE_SLOTS:
        raise IndexError(f"scene slot {index} outside 0..{SCENE_SLOTS - 1}")


def _fmt(value: float, integer: bool) -> str:
    return f"{int(value)}" if integer else f"{value:.2f}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.0f} min"
