"""`lmd eval --jam`'s meters on the tiny corpus's partner stems: they pass a player that listens to the
partner and fail one that does not, and measure the real other stem beside them."""

from __future__ import annotations

import numpy as np
import pytest

from lmd_studio.core.musical_key import Key
from lmd_studio.core.params import PITCH
from lmd_studio.dsp.tonality import chromagram, estimate_key
from lmd_studio.training.eval.jam import JamEvalConfig, evaluate_jam
from lmd_studio.training.eval.music import MusicRequest, clock_request


def _triad(key: Key, seconds: float, sr: int) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    third = 3 if key.minor else 4
    return sum(0.2 * np.sin(2 * np.pi * 440.0 * 2 ** ((key.tonic + 60 + i - 69) / 12) * t) for i in (0, third, 7))


class Listener:
    """Plays the partner's own onsets back (drums) and holds the triad of the key it is asked for (the key
    knob of a clock request), else of the key it hears in the partner."""

    name = "listener"

    def play_along(self, partner: np.ndarray, request: MusicRequest, seconds: float, seed: int,
                   sample_rate_hz: int) -> np.ndarray:
        n = int(seconds * sample_rate_hz)
        key, _ = estimate_key(chromagram(partner, sample_rate_hz))
        if PITCH.name in request.given:
            key = Key.from_knob(request.given[PITCH.name])
        return (0.3 * partner[:n] + 2.0 * _triad(key, seconds, sample_rate_hz)[: len(partner[:n])]).astype(np.float32)


class Deaf:
    """Clicks at 97 bpm and an F# major chord, whatever it hears."""

    name = "deaf"

    def play_along(self, partner: np.ndarray, request: MusicRequest, seconds: float, seed: int,
                   sample_rate_hz: int) -> np.ndarray:
        t = np.arange(int(seconds * sample_rate_hz)) / sample_rate_hz
        beat = (t * 97 / 60.0 + 0.37) % 1.0
        clicks = np.sin(2 * np.pi * 1000 * t) * np.exp(-beat * 40)
        return (0.5 * clicks + _triad(Key(6, False), seconds, sample_rate_hz)).astype(np.float32)


def test_jam_meters_pass_a_listener_and_fail_a_deaf_player(diffusion_tiny) -> None:
    cfg = JamEvalConfig(drum_items=4, key_items=4, seconds=8.0)
    corpus = str(diffusion_tiny.corpus)
    splits = ("train", "test")  # the tiny corpus has one item of each kind, one in each split
    good = evaluate_jam(Listener(), Deaf(), corpus, cfg, splits=splits, request=clock_request, log=lambda _m: None)
    bad = evaluate_jam(Deaf(), Deaf(), corpus, cfg, splits=splits, request=clock_request, log=lambda _m: None)
    # the listener lands on the partner's grid at its tempo; the deaf player neither
    assert good["jam_tempo_within_2pct"] >= 0.75 and good["jam_beat_offset_ms"] < 10.0
    assert bad["jam_tempo_within_2pct"] == 0.0 and bad["jam_beat_offset_ms"] > 2 * good["jam_beat_offset_ms"]
    assert good["jam_beat_offset_ms_partner_zeroed"] == pytest.approx(bad["jam_beat_offset_ms"])
    assert good["jam_key_accuracy"] == 1.0 and bad["jam_key_accuracy"] == 0.0
    # the real other stem is measured the same way whoever plays
    for key in ("jam_tempo_within_2pct_real", "jam_beat_offset_ms_real", "jam_key_accuracy_real"):
        assert good[key] == pytest.approx(bad[key], nan_ok=True)
    assert len(good["jam_series"]["rhythm"]) == len(good["jam_series"]["rhythm_real"]) >= 1


def test_jam_config_rejects_lookahead_outside_training() -> None:
    with pytest.raises(ValueError, match="what training covered"):
        JamEvalConfig(lookahead_s=5.0)
