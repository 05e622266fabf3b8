"""Clip grids from the manifest: exact for drums and bar-aligned excerpts, unknown otherwise."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lmd_studio.data.grid import beats_per_bar, clip_tempo_map
from lmd_studio.data.manifest import ManifestItem


def _item(kind: str, bpm: float | None, sig: str | None = "4/4", render: dict | None = None) -> ManifestItem:
    return ManifestItem(id=f"{kind}-x", kind=kind, split="test", audio="a.flac", features="a.npz",
                        sample_rate_hz=44100, channels=1, num_frames=44100 * 12, duration_s=12.0,
                        feature_frames=258, feature_rate_hz=21.533203125, description="a clip", tags={},
                        licences=["MIT"], commercial_ok=True, sources=["s"], groups=["s"], bpm=bpm,
                        time_signature=sig, render=render or {})


def test_drums_bar_one_at_zero() -> None:
    m = clip_tempo_map(_item("drums", 120.0))
    assert m is not None
    np.testing.assert_allclose(m.downbeats_s(0.0, 7.0), [0.0, 2.0, 4.0, 6.0], atol=1e-9)
    waltz = clip_tempo_map(_item("drums", 90.0, "3/4"))
    assert waltz is not None and waltz.bar_s_at(0.0) == pytest.approx(2.0)


def test_scores_need_a_bar_aligned_start() -> None:
    assert clip_tempo_map(_item("score", 80.0, render={"start_quarter": 21.0})) is not None
    assert clip_tempo_map(_item("score", 80.0, render={"start_quarter": 0.0})) is None  # maybe a pickup
    assert clip_tempo_map(_item("score", 80.0)) is None
    six_eight = clip_tempo_map(_item("mix", 60.0, "6/8", {"start_quarter": 12.0}))
    assert six_eight is not None and six_eight.bar_s_at(0.0) == pytest.approx(2.0)  # 2 dotted-quarter beats


def test_no_grid_for_samples_unknown_meters_or_no_tempo() -> None:
    assert clip_tempo_map(_item("sample", 120.0)) is None
    assert clip_tempo_map(_item("drums", None)) is None
    assert clip_tempo_map(dataclasses.replace(_item("drums", 100.0), time_signature="5/7")) is None
    assert beats_per_bar("12/8") == 4 and beats_per_bar("2/2") == 2 and beats_per_bar("x") is None


def test_produced_clips_use_their_stored_chart_map_and_never_an_estimate() -> None:
    exact = {"tempo_map": {"origin_beats": 2.0, "segments": [[0.0, 120.0, 4], [1.0, 90.0, 3]]},
             "tempo_estimated": False}
    m = clip_tempo_map(_item("produced", 120.0, render=exact))
    assert m is not None and m.origin_beats == 2.0 and [s.bpm for s in m.segments] == [120.0, 90.0]
    np.testing.assert_allclose(m.downbeats_s(0.0, 4.0), [1.0, 3.0], atol=1e-3)  # 3/4 at 90 from 1 s
    assert clip_tempo_map(_item("produced", 120.0, render={**exact, "tempo_estimated": True})) is None
    assert clip_tempo_map(_item("produced", 120.0, render={"tempo_estimated": True})) is None
    assert clip_tempo_map(_item("produced", None)) is None
