"""Test and benchmark harness: a JACK dummy server, a scripted MIDI controller and a MIDI clock receiver,
each in its own process so they measure the studio through a real audio/MIDI system."""
