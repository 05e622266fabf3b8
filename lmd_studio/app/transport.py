"""The transport (`session.transport`): play, stop, a fresh start, panic; the output volume, safe mode,
tap tempo (a MIDI button), and where changes land while a tempo is set (quantise, and "now").

`playing` is the transport as the player set it; the engine follows within milliseconds. A play pressed
while the start-up model still loads is remembered (the status shows it pending) and the music starts
when the model is in (model_desk.py). Panic fades to silence over PANIC_FADE_S, then stops, then brings
the volume back for the next play (`step`, from the GUI timer). MIDI clock out follows play and stop.
"""

from __future__ import annotations

from collections.abc import Callable

from lmd_studio.app.change_marks import ChangeMarks
from lmd_studio.app.engine_host import EngineHost
from lmd_studio.app.live_settings import LiveSettings
from lmd_studio.app.midi_seam import MidiLinkApi
from lmd_studio.app.scenes import ParamMorph
from lmd_studio.app.startup import ModelStartup
from lmd_studio.app.tap_tempo import TapTempo
from lmd_studio.core.params import MASTER_GAIN, SEED

PANIC_FADE_S = 0.15


class Transport:
    def __init__(self, engine: EngineHost, settings: LiveSettings, marks: ChangeMarks, morph: ParamMorph,
                 midi: Callable[[], MidiLinkApi], clock: Callable[[], float],
                 startup: ModelStartup | None = None, gliding: Callable[[], bool] = lambda: False) -> None:
        self._engine = engine
        self._settings = settings
        self._marks = marks
        self._morph = morph
        self._midi = midi
        self._clock = clock
        self._startup = startup  # the model still loading at start-up (startup.py), or None
        self._playing = False
        self._panic_until_s: float | None = None
        self._gliding = gliding  # a scene or prompt morph is under way (its steps are changes too)
        self._landing_now = False  # a change made with "now" glides on: its steps land at once as well
        self.underflows_at_play = 0  # device glitches counted before the last play (start-up is not playing)
        self.taps = TapTempo(clock)

    @property
    def playing(self) -> bool:
        """The transport as the player set it (the engine follows within a few milliseconds)."""
        return self._playing

    def play(self) -> None:
        self._panic_until_s = None
        if self._startup is not None and self._startup.loading:  # plays the moment the model is in
            self._playing = True  # the status says so: play_pending
            return
        if not self._playing:  # device glitches count from here (stream start-up is not playing)
            self.underflows_at_play = self._engine.runtime.metrics.device_underflows + self._engine.underflows_before
        self._playing = True
        self._engine.runtime.play()
        self._midi().set_transport(True)  # MIDI clock out: Start / Continue

    def stop(self) -> None:
        self._playing = False
        self._engine.runtime.stop()
        self._midi().set_transport(False)
        self._marks.countdowns.clear()

    def toggle_play(self) -> None:
        if self._playing:
            self.stop()
        else:
            self.play()

    def cancel_pending_play(self) -> None:
        """The start-up model did not load: a play pressed meanwhile will not happen."""
        self._playing = False

    def reset(self) -> None:
        """Fresh start: the model forgets its context and begins again from the current seed."""
        self._engine.runtime.reset(int(self._engine.mailbox.get(SEED.name)))
        self._marks.countdowns.clear()
        self._marks.mark("fresh start", "reset")

    def panic(self) -> None:
        """Fade to silence, release held notes, stop. The volume setting is kept for the next play."""
        self._morph.cancel()
        mailbox = self._engine.mailbox
        mailbox.set_held_notes(())
        self._midi().panic()
        mailbox.set(MASTER_GAIN.name, MASTER_GAIN.minimum)
        self._engine.runtime.wake()
        self._panic_until_s = self._clock() + PANIC_FADE_S

    def step(self, now_s: float) -> None:
        """After a panic's fade: stop, and once the engine has stopped, bring the volume back."""
        if self._panic_until_s is None or now_s < self._panic_until_s:
            return
        if self._engine.runtime.playing:
            self.stop()
            return  # restore the volume only once the engine has really stopped
        self._panic_until_s = None
        self._engine.mailbox.set(MASTER_GAIN.name, self._settings.current.volume_db)
        self._marks.countdowns.clear()

    # --- output -----------------------------------------------------------------------------------------
    @property
    def volume_db(self) -> float:
        if self._panic_until_s is None:
            return self._engine.mailbox.get(MASTER_GAIN.name)
        return self._settings.current.volume_db

    def set_volume_db(self, gain_db: float) -> None:
        stored = self._engine.mailbox.set(MASTER_GAIN.name, gain_db)
        self._panic_until_s = None
        self._settings.update(volume_db=stored)
        self._engine.runtime.wake()

    def set_safe_mode(self, enabled: bool) -> None:
        self._engine.runtime.set_safe_mode(enabled)
        self._settings.update(safe_mode=bool(enabled))

    @property
    def quantise(self) -> str:
        """Where changes land while a tempo is set: "off" (at once), "beat" or "bar"."""
        return self._settings.current.quantise

    def set_quantise(self, grid: str) -> None:
        self._settings.update(quantise=grid)  # validated there: a bad name raises before the engine hears it
        self._engine.runtime.set_quantise(grid)

    def land_now(self) -> None:
        """The changes made so far land at once, whatever the quantise setting (made with Shift held); a
        scene or prompt morph it started lands each of its steps at once too (`keep_landing_now`)."""
        runtime = self._engine.runtime
        runtime.land_now()
        self._landing_now = True
        self._marks.countdowns.hurry(self._clock(), runtime.metrics.now_change_s)

    def keep_landing_now(self) -> None:
        """From the GUI timer, after the morphs stepped: while a morph started "now" runs, land its steps."""
        if self._landing_now:
            self._engine.runtime.land_now()
            self._landing_now = self._gliding()

    def tap_tempo(self) -> None:
        """One tap of the tempo button: from the second tap on, the tempo follows the taps."""
        bpm = self.taps.tap()
        if bpm is not None:
            self._engine.mailbox.set_bpm(bpm)
            self._engine.runtime.wake()
