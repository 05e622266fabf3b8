"""The model (`session.model`): which one plays, switching to another off the GUI thread, its LoRA
adapter, and an offline render with the current mix.

A model loads in a background job while the old one plays on; when it is in, `install` builds a new engine
for it (EngineHost.swap), MIDI follows the new mailbox, the music plays on if it was playing, and the
timeline is marked. At start-up the model may still be loading (startup.py): until then a silent stand-in
holds its place, and a play pressed meanwhile starts when the model is in. The adapter chosen last time
goes into every model that can take one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from lmd_studio.app.change_marks import ChangeMarks, EventSink
from lmd_studio.app.engine_host import EngineHost
from lmd_studio.app.jobs import BackgroundJob, JobList
from lmd_studio.app.live_settings import LiveSettings
from lmd_studio.app.midi_seam import MidiLinkApi
from lmd_studio.app.model_card import read_model_card
from lmd_studio.app.model_catalog import MODEL_MARKER, discover_adapters, discover_models, model_label
from lmd_studio.app.model_errors import missing_default_message
from lmd_studio.app.model_jobs import load_model_work, mailbox_like, render_work
from lmd_studio.app.prompt_mixer import PromptMixer
from lmd_studio.app.session_deps import SessionDeps
from lmd_studio.app.startup import ModelStartup
from lmd_studio.app.transport import Transport
from lmd_studio.app.values import ModelChoice, ModelInfo
from lmd_studio.core.compute import ReportsCompute
from lmd_studio.core.generator import BlockGenerator


@runtime_checkable
class TakesAdapters(Protocol):
    """A generator a LoRA adapter can be mixed into (the torch model; not the test tones)."""

    def set_adapter(self, path: Path | None, strength: float) -> None: ...


class ModelDesk:
    def __init__(self, deps: SessionDeps, settings: LiveSettings, engine: EngineHost, transport: Transport,
                 jobs: JobList, marks: ChangeMarks, events: EventSink, mixer: PromptMixer,
                 midi: Callable[[], MidiLinkApi], notify: Callable[..., None], clock: Callable[[], float],
                 spec: str = "", startup: ModelStartup | None = None) -> None:
        self._deps = deps  # read at each load: make_generator is looked up then
        self._settings = settings
        self._engine = engine
        self._transport = transport
        self._jobs = jobs
        self._marks = marks
        self._events = events
        self._mixer = mixer
        self._midi = midi
        self._notify = notify
        self._clock = clock
        self._spec = spec
        self._startup = startup  # the model still to load, a stand-in playing its part (startup.py)
        self._adapter_loaded = ""  # the adapter really mixed into the current generator

    @property
    def name(self) -> str:
        return model_label(self._spec, self._engine.runtime.generator.name)

    @property
    def spec(self) -> str:
        return self._spec

    @property
    def startup(self) -> ModelStartup | None:
        """The start-up load (None when the model was there from the start)."""
        return self._startup

    def choices(self) -> list[ModelChoice]:
        return discover_models((*self._deps.model_folders, self._deps.paths.models_dir), self._deps.default_model_dir)

    def info(self) -> ModelInfo:
        """The model playing as plain values: its folder's card and what it computes on."""
        generator = self._engine.runtime.generator
        loading = self._startup is not None and self._startup.loading
        folder = None if self._spec == "fake" else (Path(self._spec) if self._spec else self._deps.default_model_dir)
        if folder is not None and not (folder / MODEL_MARKER).is_file():
            folder = None  # a default model that is not installed: the test tones play
        return ModelInfo(self.name, self._spec, folder, read_model_card(folder) if folder is not None else None,
                         generator.compute_info() if isinstance(generator, ReportsCompute) else None,
                         loading)

    # --- switching ------------------------------------------------------------------------------------
    def load(self, spec: str) -> BackgroundJob:
        """Load a model off the GUI thread; the running one keeps playing until the new one is ready."""
        if self._startup is not None and self._startup.loading:
            self._startup.supersede()  # chosen before the start-up model was in: this one wins
        work = load_model_work(self._deps.make_generator, spec, self._settings.current.torch_threads,
                               self._engine.mailbox.snapshot().controls)
        return self._jobs.start(BackgroundJob("load model", work), lambda job: self._loaded(job, spec))

    def _loaded(self, job: BackgroundJob, spec: str) -> None:
        if job.error:
            self._notify("error", f"{job.error[:1].upper()}{job.error[1:]}; still playing {self.name}")
            return
        self._spec = spec
        self.install(job.result)
        self._settings.update(model=spec)
        self._settings.save()
        missing = missing_default_message(self._deps.default_model_dir) if not spec else ""
        if missing:
            self._notify("warning", missing)
        else:
            self._notify("info", f"Model ready: {self.name}")
        self._adapter_loaded = ""
        self.restore_adapter()

    def install(self, generator: BlockGenerator, mark: bool = True) -> None:
        """A new engine for `generator` (the same one again after an audio-settings change): MIDI drives
        its mailbox, it plays if the transport was playing, and the timeline marks the switch."""
        was_playing = self._transport.playing
        runtime = self._engine.swap(generator)
        self._midi().rebind(runtime.mailbox)
        if was_playing:
            runtime.play()
        if mark:
            self._marks.mark(f"model: {self.name}", "model")

    def poll_startup(self) -> None:
        """Start the start-up load at the first tick: the window is built by then, and the loader's
        imports do not compete with it for the interpreter."""
        if self._startup is not None and self._startup.job is None:
            controls = self._engine.mailbox.snapshot().controls
            self._jobs.start(self._startup.start(controls), self._startup_done)

    def _startup_done(self, job: BackgroundJob) -> None:
        """The model loaded after the window opened (or its fallback) takes over from the stand-in; a
        play pressed meanwhile starts now."""
        assert self._startup is not None
        if self._startup.superseded:
            return
        self._startup.loaded()
        if job.error:  # cancelled (quitting) or a bug: the load's own fallbacks are inside the job
            self._transport.cancel_pending_play()
            self._notify("error", f"The model did not load ({job.error}); choose one from the Model list")
            return
        loaded = job.result
        if loaded.message:
            self._notify("warning", loaded.message)
        self._spec = loaded.spec
        self.install(loaded.generator, mark=False)  # plays at once if play was pressed meanwhile
        if self._transport.playing:
            self._midi().set_transport(True)
        self.restore_adapter()

    # --- adapters -------------------------------------------------------------------------------------
    @property
    def adapter_supported(self) -> bool:
        return isinstance(self._engine.runtime.generator, TakesAdapters)

    def adapter_choices(self) -> list[Path]:
        folders = [self._deps.paths.adapters_dir]
        if self._spec not in ("", "fake"):
            folders.append(Path(self._spec) / "adapters")
        return discover_adapters(folders)

    def restore_adapter(self) -> None:
        """The adapter chosen last time goes into the model now playing. One it cannot take (no adapter
        support, a missing or incompatible file) is shown unselected, with a message."""
        path = self._settings.current.adapter
        if not path or path == self._adapter_loaded:
            return
        if not self.adapter_supported:
            self._settings.update(adapter="")
            self._notify("info", f"The adapter {Path(path).stem} is off: {self.name} cannot take adapters")
            return
        self.set_adapter(path, self._settings.current.adapter_strength)

    def set_adapter(self, path: str, strength: float) -> BackgroundJob | None:
        """Mix a LoRA adapter in at `strength` ("" = none), off the GUI thread (the model swaps weights
        between two blocks). None when the model cannot take adapters."""
        generator = self._engine.runtime.generator
        if not isinstance(generator, TakesAdapters):
            return None

        def work(job: BackgroundJob) -> None:
            job.progress(-1.0, f"adapter {Path(path).stem if path else 'off'}")
            generator.set_adapter(Path(path) if path else None, float(strength))

        return self._jobs.start(BackgroundJob("load adapter", work),
                                lambda job: self._adapter_set(job, path, float(strength)))

    def _adapter_set(self, job: BackgroundJob, path: str, strength: float) -> None:
        if job.error:
            self._notify("error", f"Adapter not loaded: {job.error}")
            # the model is unchanged: the settings (and the adapter list) name what it really has
            self._settings.update(adapter=self._adapter_loaded)
            return
        self._adapter_loaded = path
        self._settings.update(adapter=path, adapter_strength=strength)
        self._marks.mark(f"adapter {Path(path).stem if path else 'off'} {strength:.2f}", "control")
        self._events.note_event({"type": "adapter", "path": path, "strength": strength})

    # --- offline render --------------------------------------------------------------------------------
    def render_offline(self, seconds: float, path: Path) -> BackgroundJob:
        """Render `seconds` with the current mix to a file, off the GUI thread."""
        generator = self._engine.runtime.generator
        mailbox = mailbox_like(generator, self._engine.mailbox.snapshot().controls, self._mixer.mix(self._clock()))
        return self._jobs.start(BackgroundJob("render", render_work(generator, mailbox, seconds, path)),
                                self._rendered)

    def _rendered(self, job: BackgroundJob) -> None:
        if job.error:
            self._notify("error", f"Render failed: {job.error}")
        else:
            r = job.result
            self._notify("info", f"Rendered {r.path.name} ({r.seconds:.1f} s, {r.speed_x_realtime:.1f}× real time)",
                         r.path)
