"""`lmd eval`'s musical meters on the tiny corpus: they pass a generator that plays the asked tempo and key,
fail one that does not, and measure the real clips beside it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest

from lmd_studio.core.fake import FakeBlockGenerator
from lmd_studio.core.generator import BlockControls
from lmd_studio.core.progression import chord_for_bar, progression_from_knob
from lmd_studio.data.manifest import ManifestItem
from lmd_studio.dsp.tonality import Key, parse_key
from lmd_studio.training.eval.generate import SamplingOverrides
from lmd_studio.training.eval.music import MusicEvalConfig, MusicRequest, evaluate_music, spread
from lmd_studio.training.eval.report import result_table, target_checks


@dataclass(frozen=True)
class _Pos:
    frame: int


class _ObedientGenerator(FakeBlockGenerator):
    """Plays exactly what it is asked through the request hook (as a model with a musical clock would be):
    a kick/hat groove at that bpm over the key's tonic triad, or over the chord held."""

    def init_state(self, seed: int) -> _Pos:  # type: ignore[override]
        return _Pos(0)

    def generate_block(self, state: _Pos, controls: BlockControls):  # type: ignore[override]  # noqa: ANN201
        bpm = controls.bpm or 120.0
        key = Key(int(controls.values["test_tonic"]), bool(controls.values["test_minor"]))
        sr, n = self.sample_rate, self.block_frames
        t = (state.frame + np.arange(n)) / sr
        beat_pos = (t * bpm / 60.0) % 1.0
        kick = np.sin(2 * np.pi * 55 * t) * np.exp(-beat_pos * 60.0 / bpm * 30)
        hat_pos = (t * bpm / 30.0) % 1.0
        hat = np.sin(2 * np.pi * 7000 * t) * np.exp(-hat_pos * 30.0 / bpm * 300) * 0.1
        third = 3 if key.minor else 4
        freqs = [440.0 * 2 ** ((key.tonic + 60 + i - 69) / 12) for i in (0, third, 7)]
        if controls.held_notes:  # a held chord is played instead
            freqs = [440.0 * 2 ** ((note - 69) / 12) for note, _ in controls.held_notes]
        chord = sum(0.1 * np.sin(2 * np.pi * f * t) for f in freqs)
        progression = progression_from_knob(controls.values.get("progression", 0.0))
        if progression is not None and not controls.held_notes:  # the progression knob: its chord each bar
            bars = np.floor(t * bpm / 60.0 / controls.beats_per_bar).astype(int)
            in_key = Key.from_knob(controls.values["pitch"])
            chord = np.zeros(n)
            for bar in np.unique(bars):
                here = bars == bar
                for pc in chord_for_bar(in_key, progression, int(bar)):
                    chord[here] += 0.1 * np.sin(2 * np.pi * 440.0 * 2 ** ((60 + pc - 69) / 12) * t[here])
        audio = (0.5 * kick + hat + chord).astype(np.float32)[:, None]
        return np.repeat(audio, self.channels, axis=1), _Pos(state.frame + n)


class _TextOnly(FakeBlockGenerator):
    """Test tones without a pitch input (as a text-only model has none to hold a chord on)."""

    @property
    def param_specs(self):  # noqa: ANN201
        return tuple(p for p in super().param_specs if p.name not in ("pitch", "progression"))


def _clock_request(item: ManifestItem) -> MusicRequest:
    key = parse_key(item.key or "C major")
    return MusicRequest(item.description, {"test_tonic": float(key.tonic), "test_minor": float(key.minor)},
                        bpm=float(item.bpm or 120.0))


def test_spread_picks_evenly_over_the_range() -> None:
    class It:
        def __init__(self, i: int, v: float) -> None:
            self.id, self.v = f"i{i}", v
    items = [It(i, v) for i, v in enumerate([70, 160, 100, 80, 90, 150, 120, 130])]
    picked = spread(items, 3, lambda it: it.v)  # type: ignore[arg-type]
    assert [it.v for it in picked] == [70, 120, 160]


def test_music_meters_pass_an_obedient_generator_and_fail_a_deaf_one(diffusion_tiny) -> None:
    cfg = MusicEvalConfig(seconds=8.0, real_seconds=5.0, follow_items=1, follow_change_s=8.0)
    corpus = str(diffusion_tiny.corpus)
    good = evaluate_music(_ObedientGenerator(44100, 1, 0.5), corpus, cfg, SamplingOverrides(),
                          request=_clock_request, log=lambda _m: None)
    deaf = evaluate_music(FakeBlockGenerator(44100, 1, 0.5), corpus, cfg, SamplingOverrides(), log=lambda _m: None)
    assert good["tempo_within_2pct"] == 1.0 and good["beat_offset_ms_median"] < 10.0
    assert good["key_accuracy"] == 1.0
    assert good["tempo_follow_locked"] == 1.0 and good["tempo_follow_bars"] < 1.0  # follows at once
    assert deaf["tempo_follow_locked"] == 0.0 and deaf["tempo_follow_bars"] == float("inf")
    assert deaf["tempo_within_2pct"] == 0.0 and deaf["key_accuracy"] == 0.0
    # the real clips are measured by the same detector, the same way, whatever the generator
    for key in ("tempo_within_2pct_real", "beat_offset_ms_median_real", "key_accuracy_real"):
        assert good[key] == pytest.approx(deaf[key], nan_ok=True)
    assert good["tempo_within_2pct_real"] == 1.0  # a drum render's own tempo is found
    assert {"rhythm", "rhythm_real", "tonal", "tonal_real", "chords"} <= set(good["music_series"])
    # held chords, one a bar (I–vi–IV–V): played, they match; the key alone (the tonic triad) does not
    assert good["chord_follow_rate"] == 1.0 and good["chord_follow_rate_unheld"] == 0.0
    # the test tones are deaf to the asked tempo and key but do play a held chord (and the progression)
    assert deaf["chord_follow_rate"] == 1.0 and deaf["progression_follow_rate"] == 1.0
    # the same chords asked through the Progression knob: played on the bar lines, and the harmony moves
    assert good["progression_follow_rate"] == 1.0 and good["harmony_change_rate_progression"] > 0.3
    text_only = evaluate_music(_TextOnly(44100, 1, 0.5), corpus, dataclasses.replace(cfg, key_items=1, tempo_items=1),
                               SamplingOverrides(), log=lambda _m: None)
    assert np.isnan(text_only["chord_follow_rate"])  # no pitch input: not measured
    good["meta"] = {"model": "obedient"}
    assert "tempo within ±2 %" in result_table(good)
    assert any("key accuracy ≥ 80 %: 100 %" in line for line in target_checks({**good, "fd_dsp_rel": 0.1}))


def test_the_clock_request_puts_the_key_on_the_knob_unless_told_not_to(diffusion_tiny) -> None:
    from lmd_studio.core.params import PITCH
    from lmd_studio.data.corpus import Corpus
    from lmd_studio.training.eval.music import clock_request

    item = next(it for it in Corpus.open(diffusion_tiny.corpus).items() if it.key and it.bpm)
    asked = clock_request(item)
    assert asked.given == {PITCH.name: float(parse_key(item.key).knob_value)} and asked.bpm == item.bpm
    auto = clock_request(item, key_knob=False)
    assert auto.given == {} and auto.key_name is None  # judged against the item's own key
    assert (auto.prompt, auto.bpm, auto.beats_per_bar) == (asked.prompt, asked.bpm, asked.beats_per_bar)
