"""The studio's tempo shared with other gear and apps: MIDI clock out and Ableton Link (issue 16).

`TempoSync` opens and closes both as the MIDI settings say (`clock_out`, `link`, both off by default):
- clock out: a `ClockOut` thread on the virtual output "LMD Studio Clock", opened through the MIDI
  service's backend (so it lives where the studio's MIDI lives, JACK or the system's); a `NullClockOut`
  with the reason when there is no MIDI or the backend has no virtual outputs. While the studio plays with
  a tempo set, its ticks follow the engine's beat clock as heard (`beat_grid`: tempo and phase); otherwise
  it reads the tempo from the parameter mailbox. The Session's play/stop drive Start/Continue/Stop. The service never lists it as an
  input, so the studio cannot follow its own clock.
- Link: a `LinkSession` whose samples drive a `TempoBridge` between the session and the mailbox; while it
  runs, the clock out's beat grid is Link's (a drum machine on our clock plays in phase with the session),
  and the engine's own bars are moved onto the session's phase (quantum = the meter) at the next block
  whenever they drift more than 1 ms (`align_to_link`, on the GUI timer), so the studio's music, its
  quantised changes and its loops fall on the session's beats.
`tempo()`/`set_tempo()` go through the app, so they follow the mailbox when the engine is rebuilt.
Runs on the caller's (GUI) thread; the clock and Link have their own threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lmd_studio.app.values import Notice
from lmd_studio.link import LinkConfig, LinkSession, NullLinkSession, TempoBridge
from lmd_studio.midi import MidiBackendError, MidiService
from lmd_studio.midi.clock_out import CLOCK_OUT_PORT, ClockOut, ClockOutConfig, NullClockOut, Timeline
from lmd_studio.settings.schema import MidiSettings

PHASE_TOLERANCE_BEATS = 0.002  # 1 ms at 120 bpm: closer than this to Link's grid counts as in phase
BlockPhase = Callable[[], "tuple[float, float, int, int] | None"]  # → (heard at s, beat in bar, per bar, position)


@dataclass(frozen=True, slots=True)
class EngineBeats:
    """The engine's musical clock as TempoSync needs it (app/runtime.py, through the running engine):
    `grid` the beat heard now (counted from a bar line), `next_block_phase` where the next block starts,
    `shift` moves the count from the next block on, `beats_per_bar` the meter (clock Start waits for a bar)."""

    grid: Timeline
    next_block_phase: BlockPhase
    shift: Callable[[float], None]
    beats_per_bar: Callable[[], int] = lambda: 4


class TempoSync:
    def __init__(self, tempo: Callable[[], float | None], set_tempo: Callable[[float], None],
                 make_link: Callable[..., Any] = LinkSession, link_config: LinkConfig | None = None,
                 clock_config: ClockOutConfig | None = None, engine: EngineBeats | None = None) -> None:
        self._tempo = tempo
        self._engine = engine
        self._aligned_at = -1  # the block position a phase shift was sent for (not sent twice)
        self.phase_shifts = 0  # times the engine's bars were moved onto Link's
        self._set_tempo = set_tempo
        self._make_link = make_link
        self._link_config = link_config or LinkConfig()
        self.clock_config = clock_config or ClockOutConfig()
        self.clock_out: Any = NullClockOut()
        self.link: Any = NullLinkSession()
        self._playing = False
        self._peers = 0
        self._pending: list[Notice] = []

    # --- clock out ------------------------------------------------------------------------------------
    def open_clock_out(self, service: MidiService | None) -> None:
        """Start sending clock on `service`'s backend (a Null twin, with a notice, when it cannot)."""
        self.close_clock_out()
        reason = "MIDI is off" if service is None else service.backend_error
        port = None
        if not reason:
            assert service is not None
            try:
                port = service.open_virtual_output(self.clock_config.port_name)
            except MidiBackendError as exc:
                reason = str(exc)
        if port is None:
            self.clock_out = NullClockOut(reason)
            self._pending.append(Notice("warning", f"MIDI clock out is off: {reason.rstrip('.')}."))
            return
        self.clock_out = ClockOut(port, self._tempo, self.clock_config, timeline=self._timeline(),
                                  beats_per_bar=self._engine.beats_per_bar if self._engine is not None else None)
        if self._playing:
            self.clock_out.play()  # the receivers join in (Start, or Continue where we stopped)
        self.clock_out.start()

    def close_clock_out(self) -> None:
        self.clock_out.close()
        self.clock_out = NullClockOut()

    def set_playing(self, playing: bool) -> None:
        """The Session's transport: Start/Continue or Stop on the clock out."""
        self._playing = playing
        self.clock_out.set_playing(playing)

    # --- Link -----------------------------------------------------------------------------------------
    def set_link(self, on: bool) -> None:
        if on == self.link.running:
            return
        if not on:
            self.link.close()
            self.link = NullLinkSession()
            self._peers = 0
            self.clock_out.set_timeline(self._timeline())
            return
        bridge = TempoBridge(self._tempo, self._set_tempo, lambda bpm: self.link.set_tempo(bpm))
        self.link = self._make_link(self._link_config, on_state=bridge.step)
        self.link.start()
        if self.link.error:
            self._pending.append(Notice("warning", self.link.error))
            self.link.close()
            self.link = NullLinkSession(self.link.error)
            return
        self._pending.append(Notice("info", "Ableton Link is on: the tempo is shared with apps on this network"))
        self.clock_out.set_timeline(self._timeline())

    def _timeline(self) -> Timeline | None:
        """The beat grid clock out follows: Link's session while Link runs, else the engine's clock as heard
        (so a drum machine's beats fall on the beats we play), else none (ticks at the mailbox's tempo)."""
        if self.link.running:
            return self.link.timeline
        return self._engine.grid if self._engine is not None else None

    # --- both -----------------------------------------------------------------------------------------
    def configure(self, settings: MidiSettings, service: MidiService | None) -> None:
        """Open or close each as the settings say (`service`: the started MIDI service, or None)."""
        self.set_link(settings.link)
        wanted = settings.clock_out and settings.enabled
        if wanted and isinstance(self.clock_out, NullClockOut):
            self.open_clock_out(service)
        elif not wanted:
            self.close_clock_out()

    def align_to_link(self) -> float | None:
        """While Link runs and the studio plays with a tempo: the engine's bar phase against the session's
        where the next block starts (beats, wrapped to ± half a bar), and if it is off by more than
        PHASE_TOLERANCE_BEATS the engine's count is moved onto it from that block on (the audio already
        queued keeps its grid). Returns the phase error found (None: nothing to compare)."""
        if not self.link.running or self._engine is None:
            return None
        phase = self._engine.next_block_phase()
        grid = self.link.timeline()
        if phase is None or grid is None:
            return None
        heard_s, in_bar, per_bar, position = phase
        if position == self._aligned_at:
            return None  # the shift sent for this block is not in the engine's clock yet
        t_s, beat, bpm = grid
        link_in_bar = (beat + (heard_s - t_s) * bpm / 60.0) % per_bar
        error = (in_bar - link_in_bar + per_bar / 2) % per_bar - per_bar / 2
        if abs(error) > PHASE_TOLERANCE_BEATS:
            self._engine.shift(-error)
            self._aligned_at = position
            self.phase_shifts += 1
        return error

    def poll(self) -> list[Notice]:
        """Notices since the last poll (GUI timer): failures, and Link peers coming and going. While Link
        runs, the engine's bars are kept on the session's (`align_to_link`)."""
        self.align_to_link()
        peers = self.link.state().peers if self.link.running else 0
        if peers != self._peers:
            self._peers = peers
            self._pending.append(Notice("info", f"Ableton Link: {peers} other app{'' if peers == 1 else 's'} "
                                                f"in the session"))
        notices, self._pending = self._pending, []
        return notices

    def close(self) -> None:
        self.close_clock_out()
        self.set_link(False)


__all__ = ["CLOCK_OUT_PORT", "TempoSync"]
