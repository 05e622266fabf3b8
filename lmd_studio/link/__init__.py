"""Ableton Link for LMD Studio: tempo and beat phase shared with other apps on the local network.

aalink (GPL-3.0-or-later, wrapping Ableton's Link) is imported only inside this package, and only when a
session starts. Opt-in (settings: midi.link, default off). Qt-free; the app composes it (app/midi_link.py)
with the studio's tempo (the parameter mailbox) and the MIDI clock out's beat grid.

    session = LinkSession(LinkConfig(), on_state=bridge.step)   # or NullLinkSession()
    session.start()            # joins; never raises: session.error says what is wrong
    session.timeline()         # (perf_counter s, beat, bpm) for the MIDI clock out
    session.close()

Tests run peers only inside a network namespace they create (netns.py): loopback only, never a real
network.
"""

from lmd_studio.link.session import LinkConfig, LinkSession, LinkState, NullLinkSession
from lmd_studio.link.tempo_bridge import TempoBridge

__all__ = ["LinkConfig", "LinkSession", "LinkState", "NullLinkSession", "TempoBridge"]
