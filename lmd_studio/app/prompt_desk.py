"""The prompts the player mixes (`session.prompts`): text, weight and on/off per slot, morphed over
`morph_s` by the PromptMixer and published into the engine's mailbox from the GUI timer.

Each change starts a countdown and is logged for the timeline and the sidecar (change_marks.py); a weight
set on screen is told to MIDI, whose soft takeover compares a fader against the weight in use. Prompts
typed are remembered (PromptHistory) and offered back as suggestions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lmd_studio.app.change_marks import ChangeMarks
from lmd_studio.app.engine_host import EngineHost
from lmd_studio.app.live_settings import LiveSettings
from lmd_studio.app.midi_seam import MidiLinkApi
from lmd_studio.app.prompt_mixer import PromptMixer
from lmd_studio.app.vocabulary import prompt_suggestions
from lmd_studio.settings.history import PromptHistory
from lmd_studio.settings.paths import StudioPaths
from lmd_studio.settings.schema import PromptEntry, StudioSettings

PROMPT_SLOTS = 4
MAX_MORPH_S = 60.0


class PromptDesk:
    def __init__(self, mixer: PromptMixer, engine: EngineHost, marks: ChangeMarks, settings: LiveSettings,
                 paths: StudioPaths, midi: Callable[[], MidiLinkApi], notify: Callable[..., None],
                 clock: Callable[[], float]) -> None:
        self.mixer = mixer
        self._engine = engine
        self._marks = marks
        self._settings = settings
        self._midi = midi
        self._notify = notify
        self._clock = clock
        self.history = PromptHistory(paths.prompt_history_file).load()
        if self.history.message:
            notify("warning", self.history.message)

    @property
    def slot_count(self) -> int:
        return self.mixer.slot_count

    def entries(self) -> tuple[PromptEntry, ...]:
        return self.mixer.entries()

    def set_text(self, slot: int, text: str) -> None:
        if self.mixer.set_text(slot, text, self._clock()):
            entry = self.mixer.entries()[slot]
            if entry.text and self.history.add(entry.text):
                self.save_history()
            self._marks.note(f"prompt{slot}", f"“{entry.text or '—'}”",
                             {"type": "prompt", "slot": slot, "text": entry.text})

    def set_weight(self, slot: int, weight: float, source: str = "gui") -> None:
        if self.mixer.set_weight(slot, weight, self._clock()):
            w = self.mixer.entries()[slot].weight
            if source != "midi":
                self._midi().sync_prompt_weight(slot, w)  # soft takeover compares against what is in use
            self._marks.note(f"prompt{slot}", f"prompt {slot + 1} {w:.0%}",
                             {"type": "prompt", "slot": slot, "weight": w, "source": source})

    def set_enabled(self, slot: int, enabled: bool) -> None:
        if self.mixer.set_enabled(slot, enabled, self._clock()):
            self._marks.note(f"prompt{slot}", f"prompt {slot + 1} {'on' if enabled else 'off'}",
                             {"type": "prompt", "slot": slot, "enabled": enabled})

    @property
    def morph_s(self) -> float:
        return self.mixer.morph_s

    def set_morph_s(self, seconds: float) -> None:
        self.mixer.morph_s = min(MAX_MORPH_S, max(0.0, float(seconds)))
        self._settings.update(morph_s=self.mixer.morph_s)

    def suggestions(self) -> list[str]:
        return prompt_suggestions(self._engine.runtime.generator, self.history.items)

    def save_history(self) -> None:
        try:
            self.history.save()
        except OSError as exc:
            self._notify("warning", f"Prompt history not saved: {exc.strerror or exc}")

    # --- the GUI timer ---------------------------------------------------------------------------------
    def tick(self, now_s: float) -> None:
        """Publish the prompt mix when a morph step or a change is due."""
        mix = self.mixer.tick(now_s)
        if mix is not None:
            self._engine.mailbox.set_prompts(mix)
            self._engine.runtime.wake()

    # --- across runs ---------------------------------------------------------------------------------
    def restore(self, settings: StudioSettings, default_prompt: str) -> None:
        """The prompts as they were when the app closed; a first run gets a starter prompt."""
        entries = settings.prompts or (PromptEntry(default_prompt, 1.0),)
        self.mixer.load(entries, self._clock(), morph_s=0.0)
        self._engine.mailbox.set_prompts(self.mixer.mix(self._clock()))

    def remembered(self) -> dict[str, Any]:
        return {"prompts": self.mixer.entries()}
