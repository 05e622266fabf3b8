"""Scenes (`session.scenes`): the mix — prompts, knobs, auto flags — saved in numbered slots and recalled
with a glide (ParamMorph for the knobs, the PromptMixer's morph for the prompts).

Slots are saved at once (SceneStore); a recall marks the timeline and the take's sidecar, and tells MIDI
the recalled prompt weights (soft takeover).
"""

from __future__ import annotations

from collections.abc import Callable

from lmd_studio.app.change_marks import ChangeMarks, EventSink
from lmd_studio.app.engine_host import EngineHost
from lmd_studio.app.midi_seam import MidiLinkApi
from lmd_studio.app.prompt_mixer import PromptMixer
from lmd_studio.app.scenes import ParamMorph, capture_scene
from lmd_studio.core.params import MASTER_GAIN, STUDIO_PARAMS
from lmd_studio.settings.paths import StudioPaths
from lmd_studio.settings.scenes import SCENE_SLOTS, Scene, SceneStore


class SceneDesk:
    def __init__(self, mixer: PromptMixer, morph: ParamMorph, engine: EngineHost, marks: ChangeMarks,
                 events: EventSink, paths: StudioPaths, midi: Callable[[], MidiLinkApi],
                 notify: Callable[..., None], clock: Callable[[], float]) -> None:
        self._mixer = mixer
        self.morph = morph
        self._engine = engine
        self._marks = marks
        self._events = events
        self._midi = midi
        self._notify = notify
        self._clock = clock
        self.store = SceneStore(paths.scenes_file)
        loaded = self.store.load()
        self._scenes: list[Scene | None] = list(loaded.scenes)
        if loaded.message:
            notify("warning", loaded.message)

    def slots(self) -> tuple[Scene | None, ...]:
        """One entry per slot: its scene, or None when empty."""
        return tuple(self._scenes)

    def save(self, index: int, name: str | None = None) -> Scene:
        _check_slot(index)
        snap = self._engine.mailbox.snapshot().controls
        scene = capture_scene(name or f"Scene {index + 1}", self._mixer.entries(), snap.values, snap.auto,
                              self._mixer.morph_s, skip=_not_in_scenes)
        self._scenes[index] = scene
        self._save()
        self._notify("info", f"Saved scene {index + 1}: {scene.name}")
        return scene

    def recall(self, index: int, morph_s: float | None = None) -> bool:
        """Glide to the scene in `index` over its own morph time (or `morph_s`); False for an empty slot."""
        _check_slot(index)
        scene = self._scenes[index]
        if scene is None:
            self._notify("warning", f"Scene {index + 1} is empty: save the mix there first (Ctrl+{index + 1})")
            return False
        now = self._clock()
        duration = scene.morph_s if morph_s is None else morph_s
        self._mixer.load(scene.prompts, now, morph_s=duration)
        for slot, entry in enumerate(self._mixer.entries()):
            self._midi().sync_prompt_weight(slot, entry.weight)
        mailbox = self._engine.mailbox
        registry = mailbox.registry
        for spec in registry:
            if spec.can_auto and not _not_in_scenes(spec.name):
                mailbox.set_auto(spec.name, spec.name in scene.auto)
        current = {n: mailbox.get(n) for n in registry.names}
        self.morph.start(registry, current, scene.param_values, now, duration)
        self._marks.mark(f"scene {index + 1}: {scene.name}", "scene")
        self._events.note_event({"type": "scene", "slot": index, "name": scene.name, "morph_s": duration})
        return True

    def delete(self, index: int) -> None:
        _check_slot(index)
        self._scenes[index] = None
        self._save()

    def tick(self, now_s: float) -> None:
        """The knobs' glide towards a recalled scene, one step (the GUI timer)."""
        mailbox = self._engine.mailbox
        for name, value in self.morph.tick(now_s).items():
            mailbox.set(name, value)

    def _save(self) -> None:
        try:
            self.store.save(tuple(self._scenes))
        except OSError as exc:
            self._notify("error", f"Scenes not saved: {exc.strerror or exc}")


def _not_in_scenes(name: str) -> bool:
    """A scene is the mix: not the volume, nor the tempo and meter (a recall must not move the song's clock)."""
    return name == MASTER_GAIN.name or name in STUDIO_PARAMS


def _check_slot(index: int) -> None:
    if not 0 <= index < SCENE_SLOTS:
        raise IndexError(f"scene slot {index} outside 0..{SCENE_SLOTS - 1}")
