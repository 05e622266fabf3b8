"""Session: the Qt-free controller the GUI drives — a small facade that builds and wires the parts; the
parts do the work, and the GUI calls them directly through their Protocols (session_api.py):

- `transport` (transport.py): play, stop, fresh start, panic, volume, safe mode, tap tempo.
- `performance` (performance.py): the knobs; `prompts` (prompt_desk.py): the prompt mixer;
  `scenes` (scene_desk.py): saved mixes recalled with a glide.
- `recording` (recording.py): takes and capture-last-N (with the input on, a take's input and generated
  tracks beside the mix); `timeline` (timeline_view.py): what to draw and saving a selection.
- `input` (input_desk.py): the audio input's level, monitoring and latency calibration.
- `model` (model_desk.py): model switching, adapters, offline render.
- `about` (about.py): Help → About's facts and the problem report's text.
- `midi`: the MIDI link the composition root attaches (midi_link.py), else `NullMidiLink` (midi_seam.py).
- `engine` (engine_host.py): the running engine, replaced on a model switch or an audio change; the
  read-only seam for diagnostics and tests.

The Session itself keeps what spans the parts: the lifecycle, the timer's order of work, notices, settings
(live_settings.py) and the actions MIDI buttons trigger. The status the GUI draws each tick is assembled
by status_builder.py.

Threading: every public method is called from one thread (the GUI's); `tick()` runs from its timer at
30–60 Hz. The engine, audio, capture and MIDI threads never call into the Session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmd_studio.app.about import AboutDesk
from lmd_studio.app.actions_router import ActionRouter
from lmd_studio.app.audio_notice import NoSoundNotice
from lmd_studio.app.branches import BranchDesk
from lmd_studio.app.capture_chain import CaptureFanout
from lmd_studio.app.change_marks import ChangeMarks
from lmd_studio.app.engine_host import EngineHost
from lmd_studio.app.engine_parts import DEFAULT_PROMPT
from lmd_studio.app.input_desk import InputDesk
from lmd_studio.app.jobs import JobList
from lmd_studio.app.live_settings import LiveSettings
from lmd_studio.app.midi_seam import MidiLinkApi, NullMidiLink
from lmd_studio.app.model_desk import ModelDesk
from lmd_studio.app.performance import PerformanceDesk
from lmd_studio.app.prompt_desk import PROMPT_SLOTS, PromptDesk
from lmd_studio.app.prompt_mixer import PromptMixer
from lmd_studio.app.recording import RecordingDesk
from lmd_studio.app.runtime import EngineRuntime
from lmd_studio.app.scene_desk import SceneDesk
from lmd_studio.app.scenes import ParamMorph
from lmd_studio.app.session_deps import SessionDeps
from lmd_studio.app.startup import ModelStartup
from lmd_studio.app.status_builder import StatusBuilder
from lmd_studio.app.timeline_view import TimelineView
from lmd_studio.app.transport import Transport
from lmd_studio.app.values import MidiTick, Notice, StudioStatus
from lmd_studio.core.generator import BlockGenerator
from lmd_studio.core.musical_key import Key
from lmd_studio.core.params import PITCH, PROGRESSION, SEED
from lmd_studio.core.progression import chord_for_bar, chord_name, progression_from_knob, roman_numerals
from lmd_studio.settings.schema import AudioSettings, StudioSettings, audio_needs_restart

VIEW_FIELDS = frozenset({"timeline_span_s", "spectrogram", "theme"})  # what set_view may change


class Session:
    def __init__(self, deps: SessionDeps, settings: StudioSettings, generator: BlockGenerator,
                 model_spec: str = "", audio: AudioSettings | None = None, first_run: bool = False,
                 startup_message: str = "", startup: ModelStartup | None = None) -> None:
        self.deps = deps
        self.paths = deps.paths
        self.first_run = first_run
        clock = deps.clock
        self._notices: list[Notice] = []
        if startup_message:
            self.notify("warning", startup_message)
        self._settings = LiveSettings(settings, deps.settings_store, self.notify)
        self.midi: MidiLinkApi = NullMidiLink(self.notify)  # bootstrap attaches a MidiLink (midi_link.py)
        fanout = CaptureFanout()
        # the run's audio may differ from the settings (--audio)
        self.engine = EngineHost(deps.make_parts, self._settings, audio or settings.audio, fanout)
        self.recording = RecordingDesk(fanout, self._recordings_folder, lambda: self._settings.current.record_format,
                                       retro_s=deps.retro_s, notify=self.notify, metadata=self._take_metadata,
                                       engine_metrics=lambda: self.engine.runtime.live_metrics(),
                                       tracks=lambda: self.input.track_format())
        marks = ChangeMarks(self.engine, self.recording, clock)
        morph = ParamMorph()
        mixer = PromptMixer(PROMPT_SLOTS, morph_s=settings.morph_s)
        self.scenes = SceneDesk(mixer, morph, self.engine, marks, self.recording, deps.paths, self._midi,
                                self.notify, clock)
        self.prompts = PromptDesk(mixer, self.engine, marks, self._settings, deps.paths, self._midi, self.notify,
                                  clock)
        self.performance = PerformanceDesk(self.engine, marks, morph)
        self.transport = Transport(self.engine, self._settings, marks, morph, self._midi, clock, startup,
                                   gliding=lambda: mixer.morphing or morph.active)
        self._jobs = JobList()
        self.input = InputDesk(self.engine, self._settings, self._jobs, self.notify, self.performance.set_value)
        self.model = ModelDesk(deps, self._settings, self.engine, self.transport, self._jobs, marks,
                               self.recording, mixer, self._midi, self.notify, clock, model_spec, startup)
        self.timeline = TimelineView(self.engine, self.recording, self.notify)
        self.branches = BranchDesk(self.engine, self.performance.set_value, self.performance.reroll, self.notify)
        self.about = AboutDesk(deps.paths, self._recordings_folder, lambda: self.engine.runtime.audio_status(),
                               self.model.info, deps.default_model_dir)
        self.actions = self._action_router()
        self._status = StatusBuilder(self.engine, self.transport, self.recording, self.model, mixer, morph, marks,
                                     self._jobs, self._midi, self._settings, self.input)
        self._marks = marks
        self._clock = clock
        self._no_sound = NoSoundNotice(self.notify)
        self.engine.on_build(self._fit_to_engine)
        self.engine.open(generator)
        self.prompts.restore(settings, DEFAULT_PROMPT)
        self.performance.restore(settings)

    def _action_router(self) -> ActionRouter:
        """What MIDI buttons and program changes trigger, by name (`actions.run`)."""
        t, r = self.transport, self.recording
        return ActionRouter(
            {"play": t.play, "stop": t.stop, "reset": t.reset, "panic": t.panic,
             "capture_30s": lambda: r.capture_last(30.0), "capture_60s": lambda: r.capture_last(60.0),
             "capture_300s": lambda: r.capture_last(300.0), "learn_toggle": self._learn_toggle,
             "tap_tempo": t.tap_tempo, "reroll": self.performance.reroll},
            toggles={"play_toggle": t.toggle_play, "record_toggle": r.toggle_take},
            scene=self.scenes.recall, notify=self.notify)

    def _fit_to_engine(self, runtime: EngineRuntime, generator: BlockGenerator) -> None:
        """Each new engine: takes and capture in its device format, prompt mixes published once a block."""
        self.recording.configure(runtime.sample_rate_hz, runtime.channels)
        self.prompts.mixer.publish_interval_s = max(0.1, min(1.0, generator.block_frames / generator.sample_rate))

    def _midi(self) -> MidiLinkApi:
        return self.midi  # the parts ask each time: the link is attached after they are built

    # ================================================================ lifecycle
    def start(self) -> None:
        runtime = self.engine.runtime
        if self.model.startup is None:  # a stand-in is never started: no silence primed, drawn or timed
            runtime.start()
        runtime.set_safe_mode(self._settings.current.safe_mode)
        self.transport.set_volume_db(self._settings.current.volume_db)
        self.midi.start(self._settings.current.midi)
        self.recording.recover_unfinished()  # takes a crash cut off last time, repaired in the background
        if self.model.startup is None:
            self.model.restore_adapter()
        # else the model starts loading at the first tick (ModelDesk.poll_startup)

    def shutdown(self) -> None:
        """Stop everything and save what the user would expect back next time."""
        if self.recording.recording:
            job = self.recording.stop_take()
            if job is not None:
                job.wait(20.0)
            self.recording.poll()
        self.midi.close()
        self.engine.runtime.shutdown()
        self.recording.close()
        self._jobs.cancel_and_wait(20.0)
        self._settings.update(first_run_done=True, volume_db=self.transport.volume_db,
                              **self.prompts.remembered(), **self.performance.remembered(self._settings.current))
        self._settings.save()
        self.prompts.save_history()

    # ================================================================ the GUI timer
    def tick(self) -> StudioStatus:
        now = self._clock()
        self.model.poll_startup()
        self.transport.step(now)
        self._apply_midi(self.midi.poll())
        self.prompts.tick(now)
        self.scenes.tick(now)
        self.input.follow_controls()  # generative delay's Dry/Wet on the monitor, however it was moved
        self.transport.keep_landing_now()
        self._marks.flush(now)
        self.engine.sample_positions()
        self.recording.poll()
        self._jobs.finish_done()
        status = self._status.build(now)
        self._no_sound.check(status.audio_message)
        return status

    # ================================================================ notices
    def notify(self, level: str, text: str, path: Path | None = None, action: str = "") -> None:
        """A banner for the player; `action` names a fix the banner offers as a button (values.Notice)."""
        self._notices.append(Notice(level, text, path, action))

    def take_notices(self) -> list[Notice]:
        out, self._notices = self._notices, []
        return out

    # ================================================================ settings
    @property
    def settings(self) -> StudioSettings:
        return self._settings.current

    def apply_settings(self, new: StudioSettings) -> None:
        """Take new settings: the audio engine restarts only if the audio settings changed."""
        old = self._settings.current
        self._settings.current = new
        self.prompts.mixer.morph_s = new.morph_s
        if new.safe_mode != old.safe_mode:
            self.engine.runtime.set_safe_mode(new.safe_mode)
        if new.quantise != old.quantise:
            self.engine.runtime.set_quantise(new.quantise)
        if new.rewind_memory_mb != old.rewind_memory_mb:
            self.engine.runtime.set_rewind_memory(new.rewind_memory_mb)
        if audio_needs_restart(old.audio, new.audio):
            if new.audio.input_enabled != old.audio.input_enabled and self.recording.recording:
                # a take is one file or three from its start: switching the input ends it here
                self.notify("info", "The take ends here: the audio input was switched "
                                    f"{'on' if new.audio.input_enabled else 'off'}")
                self.recording.stop_take()
            self.engine.audio = new.audio
            self.model.install(self.engine.runtime.generator)
        elif new.audio != old.audio:  # monitoring, latency correction: on the running input
            self.engine.audio = new.audio
            self.input.apply_live()
        if new.midi != old.midi:
            self.midi.configure(new.midi)
        if new.torch_threads != old.torch_threads:
            self.notify("info", "Torch threads take effect the next time a model is loaded")
        self._settings.save()

    def set_view(self, **changes: Any) -> None:
        """Remember view choices (timeline_span_s, spectrogram, theme) for next time; saved on exit."""
        unknown = set(changes) - VIEW_FIELDS
        if unknown:
            raise TypeError(f"set_view takes only {sorted(VIEW_FIELDS)}, not {sorted(unknown)}")
        self._settings.update(**changes)

    def audio_device_names(self) -> list[str]:
        from lmd_studio.audio.devices import list_output_devices  # asks PortAudio: only when the dialog opens

        try:
            return [f"{d.name} ({d.host_api})" for d in list_output_devices() if d.max_output_channels > 0]
        except RuntimeError as exc:
            self.notify("warning", str(exc))
            return []

    def _recordings_folder(self) -> Path:
        return self._settings.current.recordings_path(self.paths.recordings_dir)

    # ================================================================ MIDI
    def attach_midi(self, link: MidiLinkApi) -> None:
        """Give the session its MIDI link (bootstrap does this; without one MIDI reports unavailable)."""
        self.midi = link

    def _apply_midi(self, tick: MidiTick) -> None:
        self._notices.extend(tick.notices)
        for slot, weight in tick.prompt_weights:
            if slot < self.prompts.slot_count:
                self.prompts.set_weight(slot, weight, source="midi")
        for name, count in tick.actions:
            self.actions.run(name, count)

    def _learn_toggle(self) -> None:
        """From a MIDI button: learn the control touched last on screen (or stop learning)."""
        touched = self.performance.last_touched
        if self.midi.learning_target:
            self.midi.cancel_learn()
        elif touched:
            self.midi.learn(touched)
            self.notify("info", f"MIDI learn: move a control for {touched}")

    # ================================================================ takes
    def _take_metadata(self) -> dict[str, Any]:
        """The mix when a take starts, for its sidecar."""
        mailbox = self.engine.mailbox
        snap = mailbox.snapshot().controls
        prompts = [{"slot": i, "text": p.text, "weight": p.weight, "enabled": p.enabled}
                   for i, p in enumerate(self.prompts.entries()) if p.text.strip()]  # empty slots play nothing
        # tempo and key as the model was asked for them when the take started (None: it decided itself)
        tempo = None if snap.bpm is None else {"bpm": snap.bpm, "beats_per_bar": snap.beats_per_bar}
        key = {"held_notes": [n for n, _ in snap.held_notes]} if snap.held_notes else (
            None if snap.is_auto(PITCH) else _knob_key(snap.value(PITCH)))
        knob_key = None if snap.held_notes or snap.is_auto(PITCH) else Key.from_knob(snap.value(PITCH))
        progression = _progression(snap.value(PROGRESSION), knob_key, tempo is not None)
        return {"prompts": prompts, "parameters": dict(snap.values), "seed": int(mailbox.get(SEED.name)),
                "model": self.model.name, "auto": sorted(snap.auto), "bpm": snap.bpm, "tempo": tempo, "key": key,
                "progression": progression, "safe_mode": self._settings.current.safe_mode}


def _progression(value: float, in_key: Key | None, has_tempo: bool) -> dict[str, str] | None:
    """The progression playing when the take started (None: off, or silent for want of a key or tempo, or
    under a held chord), as its preset and as the chords the key made of it."""
    found = progression_from_knob(value)
    if found is None or in_key is None or not has_tempo:
        return None
    chords = [chord_name(chord_for_bar(in_key, found, bar), in_key) for bar in range(len(found.degrees))]
    return {"name": found.name, "numerals": roman_numerals(in_key, found), "chords": " ".join(chords)}


def _knob_key(value: float) -> dict[str, int | str]:
    """The key knob in a sidecar: its tonic (pitch class, what samplers read) and the key's name."""
    key = Key.from_knob(value)
    return {"pitch_class": key.tonic, "name": key.name}
