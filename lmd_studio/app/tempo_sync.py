"""The studio's tempo shared with other gear and apps: MIDI clock out and Ableton Link (issue 16).

`TempoSync` opens and closes both as the MIDI settings say (`clock_out`, `link`, both off by default):
- clock out: a `ClockOut` thread on the virtual output "LMD Studio Clock", opened through the MIDI
  service's backend (so it lives where the studio's MIDI lives, JACK or the system's); a `NullClockOut`
  with the reason when there is no MIDI or the backend has no virtual outputs. While the studio plays with
  a tempo set, its ticks follow the engine's beat clock as heard (`beat_grid`: tempo and phase); otherwise
  it reads the tempo from the parameter mailbox. The Session's play/stop drive Start/Continue/Stop. The service never lists it as an
  input, so the studio cannot follow its own clock.
- Link: a `LinkSession` whose samples drive a `TempoBridge` between the session and the mailbox; while it
  runs, the clock out's beat grid is Link's (a drum machine on our clock plays in phase with the session).
`tempo()`/`set_tempo()` go through the app, so they follow the mailbox when the engine is rebuilt.
Runs on the caller's (GUI) thread; the clock and Link have their own threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lmd_studio.app.values import Notice
from lmd_studio.link import LinkConfig, LinkSession, NullLinkSession, TempoBridge
from lmd_studio.midi import MidiBackendError, MidiService
from lmd_studio.midi.clock_out import CLOCK_OUT_PORT, ClockOut, ClockOutConfig, NullClockOut, Timeline
from lmd_studio.settings.schema import MidiSettings


class TempoSync:
    def __init__(self, tempo: Callable[[], float | None], set_tempo: Callable[[float], None],
                 make_link: Callable[..., Any] = LinkSession, link_config: LinkConfig | None = None,
                 clock_config: ClockOutConfig | None = None, beat_grid: Timeline | None = None) -> None:
        self._tempo = tempo
        self._beat_grid = beat_grid  # the engine's clock as heard (runtime.beat_grid); Link's grid wins
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
        self.clock_out = ClockOut(port, self._tempo, self.clock_config, timeline=self._timeline())
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
        return self.link.timeline if self.link.running else self._beat_grid

    # --- both -----------------------------------------------------------------------------------------
    def configure(self, settings: MidiSettings, service: MidiService | None) -> None:
        """Open or close each as the settings say (`service`: the started MIDI service, or None)."""
        self.set_link(settings.link)
        wanted = settings.clock_out and settings.enabled
        if wanted and isinstance(self.clock_out, NullClockOut):
            self.open_clock_out(service)
        elif not wanted:
            self.close_clock_out()

    def poll(self) -> list[Notice]:
        """Notices since the last poll (GUI timer): failures, and Link peers coming and going."""
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
