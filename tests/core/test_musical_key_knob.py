"""The key knob's positions and a key's pitch-class profile."""

from __future__ import annotations

import pytest

from lmd_studio.core.musical_key import KEY_KNOB_MAX, MAJOR_PROFILE, MINOR_PROFILE, Key, parse_key
from lmd_studio.core.params import PITCH


def test_knob_positions_round_trip_every_key() -> None:
    keys = [Key.from_knob(v) for v in range(KEY_KNOB_MAX + 1)]
    assert len(set(keys)) == 24 and [k.knob_value for k in keys] == list(range(24))
    assert Key.from_knob(9).name == "A major" and Key.from_knob(21).name == "A minor"
    assert parse_key("F#m").knob_value == 18 and Key.from_knob(18).short_name == "F♯m"
    assert PITCH.maximum == KEY_KNOB_MAX and PITCH.clamp(40) == KEY_KNOB_MAX


@pytest.mark.parametrize("text", ["C major", "A minor", "Eb major", "F#m"])
def test_profile_is_the_mode_rotated_to_the_tonic(text: str) -> None:
    key = parse_key(text)
    profile = key.chroma_profile()
    base = MINOR_PROFILE if key.minor else MAJOR_PROFILE
    assert [profile[(key.tonic + i) % 12] for i in range(12)] == list(base)
    assert max(profile) == profile[key.tonic] == 1.0
    assert profile[(key.tonic + 7) % 12] > 0.7  # the fifth is the next strongest, in both modes


def test_every_key_is_spelt_as_musicians_write_it_and_reads_back() -> None:
    keys = [Key.from_knob(v) for v in range(KEY_KNOB_MAX + 1)]
    assert all(parse_key(k.name) == k and parse_key(k.short_name) == k for k in keys)
    names = {k.name for k in keys}
    assert {"D♭ major", "B♭ major", "A♭ major", "E♭ major", "F♯ major", "C♯ minor", "G♯ minor", "B♭ minor"} <= names
    assert not names & {"C♯ major", "A♯ major", "G♯ major", "D♯ major", "A♭ minor", "D♭ minor"}
