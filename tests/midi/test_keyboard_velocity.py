"""Note velocity steers the velocity target (Loudness) only while notes sound: it never moves the knob
for good (issue 12: "a note's velocity permanently moves the Loudness knob")."""

from __future__ import annotations

import pytest

from lmd_studio.core.params import LOUDNESS
from lmd_studio.midi.keyboard import Keyboard, KeyboardConfig

KNOB = 0.45  # the player's own Loudness setting


def velocity_value(velocity: int, lo: float = 0.2, hi: float = 1.0) -> float:
    return LOUDNESS.from_normalized(lo + (hi - lo) * velocity / 127)


@pytest.fixture
def kb(sink, catalog, params):
    params.set("loudness", KNOB)
    return Keyboard(KeyboardConfig(velocity_lo=0.2, velocity_hi=1.0), sink, catalog)


def test_loudness_follows_velocity_while_held_and_returns_to_the_knob(kb, params):
    kb.note(0, 60, 127)
    assert params.get("loudness") == pytest.approx(velocity_value(127))
    kb.note(0, 64, 30)  # the newest note-on steers
    assert params.get("loudness") == pytest.approx(velocity_value(30))
    kb.note(0, 64, 0)
    assert params.get("loudness") == pytest.approx(velocity_value(30))  # a note still sounds
    kb.note(0, 60, 0)
    assert params.get("loudness") == KNOB  # every note released: the knob's own value again
    kb.note(0, 67, 100)  # and the next phrase starts from it again
    kb.note(0, 67, 0)
    assert params.get("loudness") == KNOB


def test_sustained_notes_keep_steering_until_the_pedal_lifts(kb, params):
    kb.control(0, 64, 127)
    kb.note(0, 60, 100)
    kb.note(0, 60, 0)
    assert params.get("loudness") == pytest.approx(velocity_value(100))  # still ringing under the pedal
    kb.control(0, 64, 0)
    assert params.get("loudness") == KNOB


def test_panic_and_all_notes_off_give_the_knob_back(kb, params):
    kb.note(0, 60, 100)
    kb.release_all()
    assert params.get("loudness") == KNOB
    kb.note(0, 62, 10)
    kb.control(0, 123, 0)
    assert params.get("loudness") == KNOB


def test_a_knob_moved_while_notes_are_held_is_the_new_knob_value(kb, params):
    kb.note(0, 60, 100)
    params.set("loudness", 0.3)  # the player turns Loudness (or a bound CC moves it) mid-chord
    kb.note(0, 60, 0)
    assert params.get("loudness") == 0.3  # their move stays
    kb.note(0, 61, 100)
    params.set("loudness", 0.7)
    kb.note(0, 62, 20)  # a later note steers again, and the release returns to the moved value
    kb.note(0, 61, 0), kb.note(0, 62, 0)
    assert params.get("loudness") == 0.7


def test_a_new_velocity_target_returns_the_old_one(kb, params, catalog):
    kb.note(0, 60, 127)
    kb.configure(KeyboardConfig(velocity_target=None))
    assert params.get("loudness") == KNOB
    kb.note(0, 60, 0)
    assert params.get("loudness") == KNOB
