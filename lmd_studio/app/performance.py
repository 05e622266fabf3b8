"""What the player changes while playing: knobs, prompts and scenes.

`PerformanceDesk` writes controls into the running engine's parameter mailbox, morphs prompts and scene
recalls, and for each change starts a "heard in …" countdown, logs it for the take's sidecar and marks the
timeline where it will be heard. It reaches the engine only through the `EngineRuntime` the Session gives
it (a callable, because the runtime is replaced on a model switch).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from lmd_studio.app.change_log import ChangeLog
from lmd_studio.app.countdown import CountdownTracker
from lmd_studio.app.prompt_mixer import PromptMixer
from lmd_studio.app.recording import RecordingDesk
from lmd_studio.app.runtime import EngineRuntime
from lmd_studio.app.scenes import ParamMorph, capture_scene
from lmd_studio.app.timeline_model import TimelineModel
from lmd_studio.app.vocabulary import prompt_suggestions
from lmd_studio.core.params import MASTER_GAIN, SEED
from lmd_studio.rt.mailbox import ParamMailbox
from lmd_studio.settings.history import PromptHistory
from lmd_studio.settings.paths import StudioPaths
from lmd_studio.settings.scenes import SCENE_SLOTS, Scene, SceneStore
from lmd_studio.settings.schema import PromptEntry, StudioSettings

PROMPT_SLOTS = 4
Notify = Callable[..., None]


class PerformanceDesk:
    def __init__(self, runtime: Callable[[], EngineRuntime], timeline: Callable[[], TimelineModel],
                 recording: RecordingDesk, paths: StudioPaths, morph_s: float, notify: Notify,
                 clock: Callable[[], float], midi: Callable[[], Any]) -> None:
        self._runtime = runtime
        self._timeline = timeline
        self._recording = recording
        self._notify = notify
        self._clock = clock
        self._midi = midi
        self.mixer = PromptMixer(PROMPT_SLOTS, morph_s=morph_s)
        self.morph = ParamMorph()
        self.changes = ChangeLog()
        self.countdowns = CountdownTracker()
        self.last_touched = ""  # the control moved last on screen (MIDI "learn_toggle" binds it)
        self.scene_store = SceneStore(paths.scenes_file)
        loaded = self.scene_store.load()
        self._scenes: list[Scene | None] = list(loaded.scenes)
        if loaded.message:
            notify("warning", loaded.message)
        self.history = PromptHistory(paths.prompt_history_file).load()
        if self.history.message:
            notify("warning", self.history.message)

    @property
    def mailbox(self) -> ParamMailbox:
        return self._runtime().mailbox

    # --- the GUI timer -------------------------------------------------------------------------------
    def tick(self, now_s: float) -> None:
        """Publish the prompt mix and scene glides due now; turn the change log into markers and events."""
        mix = self.mixer.tick(now_s)
        if mix is not None:
            self.mailbox.set_prompts(mix)
            self._runtime().wake()
        for name, value in self.morph.tick(now_s).items():
            self.mailbox.set(name, value)
        batch = self.changes.flush(now_s)
        if batch is not None:
            self.mark(batch.label, batch.kind)
            for event in batch.events:
                self._recording.note_event(event)

    def mark(self, label: str, kind: str) -> None:
        """A timeline marker where a change made now will be heard."""
        runtime = self._runtime()
        m = runtime.metrics
        at = runtime.stream_play_position + int(m.pending_change_s * runtime.sample_rate_hz if m.playing else 0)
        self._timeline().add_marker(at, label, kind)

    def _note_change(self, key: str, label: str, event: dict[str, Any]) -> None:
        now = self._clock()
        m = self._runtime().metrics
        self.countdowns.note_change(key, now, m.pending_change_s, m.playing and m.primed)
        self.changes.note(key, label, event, now)

    # --- knobs ------------------------------------------------------------------------------------------
    def set_value(self, name: str, value: float, source: str = "gui") -> float:
        self.morph.cancel(name)
        if source == "gui":
            self.last_touched = name
        stored = self.mailbox.set(name, value)
        self._runtime().wake()
        spec = self.mailbox.registry.spec(name)
        if spec.block_boundary:
            text = f"{int(stored)}" if spec.integer else f"{stored:.2f}"
            self._note_change(name, f"{spec.label} {text}",
                              {"type": "param", "name": name, "value": stored, "source": source})
        return stored

    def set_auto(self, name: str, auto: bool) -> None:
        self.mailbox.set_auto(name, auto)
        self._runtime().wake()
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

    # --- prompts ---------------------------------------------------------------------------------------
    def set_prompt_text(self, slot: int, text: str) -> None:
        if self.mixer.set_text(slot, text, self._clock()):
            entry = self.mixer.entries()[slot]
            if entry.text and self.history.add(entry.text):
                self.save_history()
            self._note_change(f"prompt{slot}", f"“{entry.text or '—'}”",
                              {"type": "prompt", "slot": slot, "text": entry.text})

    def set_prompt_weight(self, slot: int, weight: float, source: str = "gui") -> None:
        if self.mixer.set_weight(slot, weight, self._clock()):
            w = self.mixer.entries()[slot].weight
            if source != "midi":
                self._midi().sync_prompt_weight(slot, w)  # soft takeover compares against what is in use
            self._note_change(f"prompt{slot}", f"prompt {slot + 1} {w:.0%}",
                              {"type": "prompt", "slot": slot, "weight": w, "source": source})

    def set_prompt_enabled(self, slot: int, enabled: bool) -> None:
        if self.mixer.set_enabled(slot, enabled, self._clock()):
            self._note_change(f"prompt{slot}", f"prompt {slot + 1} {'on' if enabled else 'off'}",
                              {"type": "prompt", "slot": slot, "enabled": enabled})

    def suggestions(self) -> list[str]:
        return prompt_suggestions(self._runtime().generator, self.history.items)

    def save_history(self) -> None:
        try:
            self.history.save()
        except OSError as exc:
            self._notify("warning", f"Prompt history not saved: {exc.strerror or exc}")

    def restore(self, settings: StudioSettings, default_prompt: str) -> None:
        """The prompts and knobs as they were when the app closed; a first run gets a starter prompt."""
        entries = settings.prompts or (PromptEntry(default_prompt, 1.0),)
        self.mixer.load(entries, self._clock(), morph_s=0.0)
        self.mailbox.set_prompts(self.mixer.mix(self._clock()))
        registry = self.mailbox.registry
        for name, value in settings.params:
            if name in registry and name != MASTER_GAIN.name:
                self.mailbox.set(name, value)
        for name in settings.auto_params:
            if name in registry and registry.spec(name).can_auto:
                self.mailbox.set_auto(name, True)

    def remembered(self, settings: StudioSettings) -> dict[str, Any]:
        """Settings fields that bring this mix back next time (another model's knobs are kept too)."""
        snap = self.mailbox.snapshot().controls
        kept = {k: v for k, v in settings.params if k not in snap.values}
        params = {**kept, **{k: v for k, v in snap.values.items() if k != MASTER_GAIN.name}}
        return {"prompts": self.mixer.entries(), "params": tuple(sorted(params.items())),
                "auto_params": tuple(sorted(snap.auto))}

    # --- scenes ------------------------------------------------------------------------------------------
    def scenes(self) -> tuple[Scene | None, ...]:
        return tuple(self._scenes)

    def save_scene(self, index: int, name: str | None = None) -> Scene:
        _check_scene(index)
        snap = self.mailbox.snapshot().controls
        scene = capture_scene(name or f"Scene {index + 1}", self.mixer.entries(), snap.values, snap.auto,
                              self.mixer.morph_s, skip=lambda n: n == MASTER_GAIN.name)
        self._scenes[index] = scene
        self._save_scenes()
        self._notify("info", f"Saved scene {index + 1}: {scene.name}")
        return scene

    def recall_scene(self, index: int, morph_s: float | None = None) -> bool:
        _check_scene(index)
        scene = self._scenes[index]
        if scene is None:
            self._notify("warning", f"Scene {index + 1} is empty: save the mix there first (Ctrl+{index + 1})")
            return False
        now = self._clock()
        duration = scene.morph_s if morph_s is None else morph_s
        self.mixer.load(scene.prompts, now, morph_s=duration)
        for slot, entry in enumerate(self.mixer.entries()):
            self._midi().sync_prompt_weight(slot, entry.weight)
        registry = self.mailbox.registry
        for spec in registry:
            if spec.can_auto:
                self.mailbox.set_auto(spec.name, spec.name in scene.auto)
        current = {n: self.mailbox.get(n) for n in registry.names}
        self.morph.start(registry, current, scene.param_values, now, duration)
        self.mark(f"scene {index + 1}: {scene.name}", "scene")
        self._recording.note_event({"type": "scene", "slot": index, "name": scene.name, "morph_s": duration})
        return True

    def delete_scene(self, index: int) -> None:
        _check_scene(index)
        self._scenes[index] = None
        self._save_scenes()

    def _save_scenes(self) -> None:
        try:
            self.scene_store.save(tuple(self._scenes))
        except OSError as exc:
            self._notify("error", f"Scenes not saved: {exc.strerror or exc}")


def _check_scene(index: int) -> None:
    if not 0 <= index < SCENE_SLOTS:
        raise IndexError(f"scene slot {index} outside 0..{SCENE_SLOTS - 1}")
