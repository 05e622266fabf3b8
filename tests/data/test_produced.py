"""Produced recordings (data/produced.py): discovery and licences from copyright files, MIDI tempo maps, clip
cutting, exact vs estimated tempo, splits by track — on a small package tree built here."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from lmd_studio.data.grid import clip_tempo_map
from lmd_studio.data.midi_tempo import MidiTimingError, read_midi_timing, read_track_grid
from lmd_studio.data.plan import SIZES, Job, build_catalogue, plan_jobs
from lmd_studio.data.produced import clip_starts_s, missing_packages, plan_clips, produced_tracks
from lmd_studio.data.sources import SourcePaths
from lmd_studio.data.splits import SplitConfig, check_no_leakage
from lmd_studio.data.worker import WorkerSetup, init_worker, run_job

SR = 44100
DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: {name}

Files: *
Copyright: 2011 Someone
License: {default}

Files: music/hr3-*.ogg
Copyright: A Composer
License: CC-BY-SA-3.0
"""
MIT_TEXT = """The songs are Copyright (c) 2007 Someone

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
"""


def _clicks(bpm: float, seconds: float, seed: int = 0) -> np.ndarray:
    """[N, 2] a click track over a quiet A-minor drone: a decaying noise burst on every beat, louder on the bar."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = (0.02 * sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))).astype(np.float32)
    burst = (rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)).astype(np.float32)
    for k, beat_s in enumerate(np.arange(0.0, seconds - 0.1, 60.0 / bpm)):
        i = int(beat_s * SR)
        x[i:i + 2000] += burst[: x.size - i] * (0.6 if k % 4 == 0 else 0.3)
    return np.stack([x, x], axis=1)


def _notes_mid(path: Path, changes: list[tuple[int, str, tuple]], tpq: int = 480) -> None:
    """A format-1 chart: a tempo track with (tick, 'tempo'|'meter', value) events, and a track of notes."""
    mid = mido.MidiFile(type=1, ticks_per_beat=tpq)
    tempo_track, notes = mido.MidiTrack(), mido.MidiTrack()
    last = 0
    for tick, what, value in sorted(changes, key=lambda c: c[0]):
        if what == "tempo":
            tempo_track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(value[0]), time=tick - last))
        else:
            tempo_track.append(mido.MetaMessage("time_signature", numerator=value[0], denominator=value[1],
                                                time=tick - last))
        last = tick
    for _ in range(8):  # running status on purpose: note_on with velocity 0 as note off
        notes.append(mido.Message("note_on", note=60, velocity=100, time=tpq))
        notes.append(mido.Message("note_on", note=60, velocity=0, time=tpq // 2))
    mid.tracks += [tempo_track, notes]
    mid.save(str(path))


def _ogg(path: Path, audio: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, SR, format="OGG", subtype="VORBIS")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    r = tmp_path_factory.mktemp("root")
    doc = r / "usr/share/doc"
    # a Frets on Fire pack (free-form MIT copyright): one charted song with a tempo change, one chart delayed
    songs = r / "usr/share/games/fretsonfire/data/songs/sectoid"
    song = songs / "Tempo Change"
    _ogg(song / "song.ogg", _clicks(120.0, 16.0))
    _ogg(song / "guitar.ogg", 0.5 * _clicks(120.0, 16.0, seed=1))
    # 120 bpm for two bars (4 s), then 90 bpm; 3/4 from bar 5
    _notes_mid(song / "notes.mid", [(0, "tempo", (120.0,)), (0, "meter", (4, 4)), (3840, "tempo", (90.0,)),
                                    (7680, "meter", (3, 4))])
    (song / "song.ini").write_text("[song]\nname = Tempo Change\nartist = Sectoid\n")
    late = songs / "Late Chart"
    _ogg(late / "song.ogg", _clicks(100.0, 9.0))
    _notes_mid(late / "notes.mid", [(0, "tempo", (100.0,))])
    (late / "song.ini").write_text("[song]\nname = Late Chart\ndelay = 35\n")
    (doc / "fretsonfire-songs-sectoid").mkdir(parents=True)
    (doc / "fretsonfire-songs-sectoid/copyright").write_text(MIT_TEXT)
    # a DEP-5 package: per-file licences, the last matching paragraph wins
    music = r / "usr/share/hyperrogue/music"
    _ogg(music / "hr3-caves.ogg", _clicks(100.0, 26.0))
    _ogg(music / "other.ogg", _clicks(100.0, 9.0))
    _ogg(music / "quiet.ogg", np.zeros((SR * 13, 2), np.float32))
    (doc / "hyperrogue-music").mkdir(parents=True)
    (doc / "hyperrogue-music/copyright").write_text(DEP5.format(name="HyperRogue", default="GPL-2+"))
    # a non-commercial licence, and a free-form file that does not say what we expect
    _ogg(r / "usr/share/scummvm/drascula/audio/track1.ogg", _clicks(90.0, 13.0))
    (doc / "drascula-music").mkdir(parents=True)
    (doc / "drascula-music/copyright").write_text(DEP5.format(name="Drascula", default="Drascula-License"))
    _ogg(r / "usr/share/games/wesnoth/1.16/data/core/music/battle.ogg", _clicks(110.0, 13.0))
    (doc / "wesnoth-1.16-music").mkdir(parents=True)
    (doc / "wesnoth-1.16-music/copyright").write_text("All rights reserved.\n")
    return r


def test_discovery_and_licences_per_file(root: Path) -> None:
    tracks = {t.key: t for t in produced_tracks(root)}
    assert missing_packages(root) == ["fretsonfire-songs-muldjord"]
    song = tracks["fretsonfire-songs-sectoid/Tempo Change"]
    assert [p.name for p in song.stems] == ["song.ogg", "guitar.ogg"] and song.grid_path is not None
    assert song.licence.spdx == "MIT" and song.licence.commercial_ok and song.title == "Tempo Change"
    assert song.duration_s == pytest.approx(16.0, abs=0.01)
    late = tracks["fretsonfire-songs-sectoid/Late Chart"]
    assert late.grid_path is None and "35 ms" in late.note  # a delayed chart is not the audio's grid
    assert tracks["hyperrogue-music/hr3-caves"].licence.spdx == "CC-BY-SA-3.0"  # its own paragraph
    assert tracks["hyperrogue-music/other"].licence.spdx == "GPL-2.0-or-later"  # the Files: * paragraph
    drascula = tracks["drascula-music/track1"]
    assert drascula.licence.spdx == "LicenseRef-Drascula" and not drascula.licence.commercial_ok
    wesnoth = tracks["wesnoth-1.16-music/battle"]
    assert wesnoth.licence.spdx == "LicenseRef-unknown" and not wesnoth.licence.commercial_ok
    assert wesnoth.moods == ("battle music",)
    assert all(t.group == t.source_id for t in tracks.values())


def test_midi_tempo_map_with_tempo_and_meter_changes(root: Path) -> None:
    path = root / "usr/share/games/fretsonfire/data/songs/sectoid/Tempo Change/notes.mid"
    timing = read_midi_timing(path)
    assert timing.ticks_per_quarter == 480 and [t for t, _ in timing.tempos] == [0, 3840]
    grid = read_track_grid(path)
    assert grid is not None
    starts = [(round(s.start_s, 6), round(s.bpm, 3), s.beats_per_bar) for s in grid.tempo.segments]
    # bars 1–2 at 120 (4 s), bars 3–4 at 90 (8 quarters = 5.333 s), then 3/4 at 90
    assert starts == [(0.0, 120.0, 4), (4.0, 90.0, 4), (pytest.approx(9.333333), 90.0, 3)]
    assert grid.meter_at(1.0) == "4/4" and grid.meter_at(10.0) == "3/4"
    np.testing.assert_allclose(grid.downbeats_s(13.0)[:6], [0, 2, 4, 4 + 8 / 3, 4 + 16 / 3, 4 + 16 / 3 + 2],
                               atol=2e-3)
    # a clip from 3 s: beat 3 of bar 2 at 120, the change to 90 one second in, 3/4 later
    clip = grid.clip(3.0, 8.0)
    assert clip.origin_beats == pytest.approx(2.0)
    assert [(round(s.start_s, 6), round(s.bpm, 3), s.beats_per_bar) for s in clip.segments] == [
        (0.0, 120.0, 4), (1.0, 90.0, 4), (pytest.approx(6.333333), 90.0, 3)]
    np.testing.assert_allclose(clip.downbeats_s(0.0, 8.0), [1.0, 1.0 + 8 / 3, 6.333333], atol=2e-3)
    with pytest.raises(MidiTimingError):
        read_midi_timing(root / "usr/share/doc/wesnoth-1.16-music/copyright")


def test_compound_meter_counts_dotted_quarters(tmp_path: Path) -> None:
    path = tmp_path / "jig.mid"
    _notes_mid(path, [(0, "tempo", (120.0,)), (0, "meter", (6, 8))])
    seg = read_track_grid(path).tempo.segments[0]
    assert seg.beats_per_bar == 2 and seg.bpm == pytest.approx(80.0)  # 120 quarters = 80 dotted quarters


def test_clips_start_on_bar_lines_with_a_grid_and_back_to_back_without(root: Path) -> None:
    tracks = {t.key: t for t in produced_tracks(root)}
    starts, exact = clip_starts_s(tracks["fretsonfire-songs-sectoid/Tempo Change"], 5.0)
    assert exact and starts == pytest.approx([0.0, 6.666667], abs=1e-5)  # next bar line after 5 s: 4 + 8/3
    starts, exact = clip_starts_s(tracks["hyperrogue-music/hr3-caves"], 12.0)
    assert not exact and starts == [0.0, 12.0]  # 26 s: two whole clips, the 2-s tail is dropped
    clips = plan_clips(list(tracks.values()), 4.0, 3 * 4.0, seed=0)  # a budget of 3 clips: tracks take turns
    assert len(clips) == 3 and len({c.track.key for c in clips}) == 3


def _render(root: Path, key: str, start_s: float, exact: bool, clip_s: float = 5.0) -> dict:
    tracks = {t.key: t for t in produced_tracks(root)}
    init_worker(WorkerSetup(root / "out", (SourcePaths(produced_root=root), {}, {}, {}, {}, None, tracks)))
    job = Job(f"produced-{key.replace('/', '_').replace(' ', '_')}-t", "produced", "train", 3, clip_s,
              {"track": key, "start_s": start_s, "exact_grid": exact})
    return run_job((0, job))


def test_exact_grid_from_the_chart(root: Path) -> None:
    track = next(t for t in produced_tracks(root) if t.key == "fretsonfire-songs-sectoid/Tempo Change")
    start_s = clip_starts_s(track, 5.0)[0][1]  # bar 4
    item = _render(root, track.key, start_s, True)["item"]
    assert item.kind == "produced" and item.bpm == pytest.approx(90.0) and item.time_signature == "4/4"
    assert not item.render["tempo_estimated"] and item.render["key_estimated"]
    assert "~" not in item.description and item.licences == ["MIT"] and item.commercial_ok
    grid = clip_tempo_map(item)
    assert grid is not None and grid.origin_beats == 0.0 and len(grid.segments) == 2  # 3/4 from 2.667 s
    assert item.num_frames == 5 * SR and item.groups == ["produced:fretsonfire-songs-sectoid/Tempo Change"]


def test_estimated_tempo_is_marked_and_has_no_grid(root: Path) -> None:
    item = _render(root, "hyperrogue-music/hr3-caves", 12.0, False, clip_s=12.0)["item"]
    assert item.render["tempo_estimated"] and item.time_signature is None
    assert clip_tempo_map(item) is None  # the model is told "let the model decide"
    assert item.render["tempo_detected_bpm"] == pytest.approx(100.0, rel=0.02)
    if item.bpm is not None:  # kept only when the clip and its context agree; then said as approximate
        assert item.bpm == pytest.approx(100.0, rel=0.02) and "~100 bpm" in item.description
    assert "instrumental" in item.description and item.licences == ["CC-BY-SA-3.0"]
    assert json.loads(item.to_json())["kind"] == "produced"


def test_silent_clips_are_skipped(root: Path) -> None:
    res = _render(root, "hyperrogue-music/quiet", 0.0, False)
    assert "mostly silent" in res["skip"]["reason"] and res["skip"]["file"].endswith("quiet.ogg")


def test_produced_jobs_split_by_track_and_leave_the_other_sources_alone(root: Path, tmp_path: Path) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    with_music = build_catalogue(SourcePaths(produced_root=root), SplitConfig(), include_noncommercial=False)
    without = build_catalogue(SourcePaths(produced_root=empty), SplitConfig(), include_noncommercial=False)
    assert "drascula-music/track1" not in {t.key for t in with_music.tracks}  # non-commercial: left out
    assert {t.key for t in with_music.tracks} >= {"hyperrogue-music/hr3-caves", "hyperrogue-music/other"}
    for size in ("small", "full"):
        a = plan_jobs(with_music, SIZES[size], 0)
        b = plan_jobs(without, SIZES[size], 0)
        # the plan of the existing sources is unchanged, job for job and position for position
        assert a[: len(b)] == b and all(j.kind == "produced" for j in a[len(b):]) and len(a) > len(b)
        produced = a[len(b):]
        assert len({j.id for j in a}) == len(a)
        split_of_track = {}
        for j in produced:
            assert split_of_track.setdefault(j.params["track"], j.split) == j.split
        groups = {t.key: t.group for t in with_music.tracks}
        assert check_no_leakage((j.id, j.split, [groups[j.params["track"]]]) for j in produced) == []
