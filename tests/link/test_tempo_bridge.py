"""The Link tempo bridge (issue 16): the studio leads with its own changes, follows the session's, and on
joining a session with peers takes its tempo. Pure: no network."""

from __future__ import annotations

import pytest

from lmd_studio.link.session import OFF, LinkConfig, LinkState, NullLinkSession
from lmd_studio.link.tempo_bridge import TempoBridge


def state(bpm: float, peers: int = 0, beat: float = 0.0, t_s: float = 0.0) -> LinkState:
    return LinkState(True, peers, bpm, beat, t_s)


class Studio:
    def __init__(self, bpm: float | None) -> None:
        self.bpm = bpm
        self.published: list[float] = []

    def bridge(self) -> TempoBridge:
        return TempoBridge(lambda: self.bpm, self.set_bpm, self.published.append)

    def set_bpm(self, bpm: float) -> None:
        self.bpm = bpm


def test_alone_the_studio_publishes_its_tempo_and_its_changes():
    studio = Studio(120.0)
    bridge = studio.bridge()
    bridge.step(state(100.0))
    assert studio.published == [120.0] and studio.bpm == 120.0
    bridge.step(state(120.0))  # Link now has ours: nothing to do
    studio.bpm = 97.5  # the BPM control, tap tempo or MIDI clock in
    bridge.step(state(120.0))
    assert studio.published == [120.0, 97.5]
    bridge.step(state(97.5000001))  # Link's whole-microsecond tempo is not a change
    assert studio.published == [120.0, 97.5] and studio.bpm == 97.5


def test_joining_a_session_takes_its_tempo_and_follows_its_changes():
    studio = Studio(120.0)
    bridge = studio.bridge()
    bridge.step(state(100.0, peers=1))
    assert studio.bpm == 100.0 and studio.published == []
    bridge.step(state(90.0, peers=1))  # a peer moved it
    assert studio.bpm == 90.0
    studio.bpm = 130.0
    bridge.step(state(90.0, peers=1))
    assert studio.published == [130.0]
    assert (bridge.published, bridge.followed) == (1, 2)


def test_a_studio_without_a_tempo_waits_for_a_peer_or_a_choice():
    studio = Studio(None)
    bridge = studio.bridge()
    bridge.step(state(120.0))
    assert studio.bpm is None and studio.published == []  # alone: the model keeps deciding the tempo
    bridge.step(state(120.0, peers=1))  # a peer joined
    assert studio.bpm == 120.0


def test_both_changed_in_one_sample_the_studio_wins():
    studio = Studio(120.0)
    bridge = studio.bridge()
    bridge.step(state(120.0, peers=1))
    studio.bpm = 140.0
    bridge.step(state(80.0, peers=1))
    assert studio.published == [140.0] and studio.bpm == 140.0


def test_a_stopped_session_does_nothing_and_the_null_twin_is_silent():
    studio = Studio(120.0)
    studio.bridge().step(OFF)
    assert studio.published == []
    null = NullLinkSession("off")
    null.start()
    null.set_tempo(100.0)
    assert null.timeline() is None and not null.state().running and null.error == "off"
    null.close()


def test_link_state_phase_and_config_checks():
    s = LinkState(True, 1, 120.0, 9.5, 10.0, quantum_beats=4.0)
    assert s.beat_at(10.5) == pytest.approx(10.5) and s.phase_beats == pytest.approx(1.5)
    with pytest.raises(ValueError, match="quantum"):
        LinkConfig(quantum_beats=0.5)
    with pytest.raises(ValueError, match="initial_bpm"):
        LinkConfig(initial_bpm=5.0)
