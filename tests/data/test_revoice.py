"""Re-voiced renders (data/revoice.py): the same notes and hits on other instruments, beside a clip and its part
stems that stay bit for bit what they were without re-voicing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lmd_studio.data import renders
from lmd_studio.data.drum_kits import load_kit
from lmd_studio.data.gm import BAND_PALETTES, PALETTES, STYLES
from lmd_studio.data.plan import SIZES, build_catalogue, plan_jobs
from lmd_studio.data.renders import RENDERERS, RenderContext
from lmd_studio.data.revoice import (
    PEAK_CEILING,
    REVOICED_STEM,
    choose_kit,
    choose_palette,
    fit_peak,
    programs_of,
    revoice_rng,
)
from lmd_studio.data.sources import SourcePaths
from lmd_studio.data.splits import SplitConfig

CLIP_S = 5.0
ROLE_SETS = (["melody"], ["melody", "bass"], ["melody", "inner", "inner", "bass"])


@pytest.fixture(scope="module")
def setting():
    cat = build_catalogue(SourcePaths(), SplitConfig(seed=0), include_noncommercial=False)
    jobs = plan_jobs(cat, SIZES["small"], 0)
    kit_splits = {k.name: cat.split_of[k.source_id] for k in cat.kits}

    def context(revoice: bool = True, stems: bool = True) -> RenderContext:
        return RenderContext(SourcePaths(), {p.key: p for p in cat.pieces}, {s.name: s for s in cat.samples},
                             {k.name: k for k in cat.kits}, {}, None, {}, stems, revoice, kit_splits)

    def first(kind: str, **params: str) -> object:
        job = next(j for j in jobs if j.kind == kind and j.split == "train" and j.params["piece"].startswith("bach")
                   and all(j.params.get(k) == v for k, v in params.items()))
        return dataclasses.replace(job, clip_s=CLIP_S)

    # a chorale (four parts) on each soundfont; a mix whose kit has other acoustic kits in its split
    picked = {"score_sf2": first("score", soundfont="FluidR3_GM"),
              "score_sf3": first("score", soundfont="MuseScore_General"),
              "mix": first("mix", kit="ColomboAcousticDrumkit")}
    return cat, context, picked


def _render(job, ctx):  # noqa: ANN001, ANN202
    return RENDERERS[job.kind](job, ctx, np.random.default_rng(job.seed))


# --- choices ---------------------------------------------------------------------------------------------------

def test_a_score_palette_changes_every_part_within_its_style_when_the_style_allows():
    rng = np.random.default_rng(0)
    for style in STYLES.values():
        for name in style.palettes:
            for roles in ROLE_SETS:
                original = PALETTES[name]
                for _ in range(5):
                    other = choose_palette(original, roles, style.palettes, tuple(PALETTES), rng)
                    mine, theirs = programs_of(original, roles), programs_of(other, roles)
                    assert other.name != name and theirs != mine, (style.name, name, roles)
                    in_style = [p for p in style.palettes if p != name
                                and all(a != b for a, b in zip(programs_of(PALETTES[p], roles), mine, strict=True))]
                    if in_style:
                        assert other.name in in_style, (style.name, name, roles, other.name)
                    elif len(style.palettes) == 1:  # e.g. Chopin: piano only, so any other palette
                        assert all(a != b for a, b in zip(theirs, mine, strict=True))


def test_a_band_palette_stays_a_band_palette_with_other_programs():
    rng = np.random.default_rng(1)
    for name in BAND_PALETTES:
        for roles in ROLE_SETS:
            seen = {choose_palette(PALETTES[name], roles, BAND_PALETTES, (), rng).name for _ in range(40)}
            assert seen <= set(BAND_PALETTES) - {name} and len(seen) >= 2
            for other in seen:
                assert programs_of(PALETTES[other], roles) != programs_of(PALETTES[name], roles)


def test_a_kit_is_swapped_for_one_of_its_kind_that_has_every_role_the_hits_use():
    cat = build_catalogue(SourcePaths(), SplitConfig(seed=0), include_noncommercial=False)
    kits = {k.name: load_kit(k) for k in cat.kits}
    train = [k for k in kits.values() if cat.split_of[k.ref.source_id] == "train"]
    colombo, rng = kits["ColomboAcousticDrumkit"], np.random.default_rng(2)
    needed = {"kick", "snare", "hat_closed"}
    seen = {choose_kit(colombo, needed, train, rng).ref.name for _ in range(60)}
    want = {k.ref.name for k in train if k.kind == "acoustic" and k.ref.name != colombo.ref.name and needed <= k.roles}
    assert seen == want and len(want) >= 3
    # roles no other kit of the kind has: the same kit plays them
    assert choose_kit(colombo, needed | {"hand_low"}, train, rng) is colombo
    assert choose_kit(colombo, needed, [], rng) is colombo
    hand = kits["Gimme A Hand 1.0"]
    assert choose_kit(hand, {"hand_low"}, train, rng).ref.name == "circAfrique v4"  # the other hand kit


def test_the_revoice_stream_is_its_own_and_a_loud_revoice_is_lowered_not_clipped():
    assert revoice_rng(5).integers(1 << 30) == revoice_rng(5).integers(1 << 30)
    assert revoice_rng(5).integers(1 << 30) != np.random.default_rng(5).integers(1 << 30)
    quiet = np.full(10, 0.5, np.float32)
    assert fit_peak(quiet) == (quiet, 0.0)
    loud, trim_db = fit_peak(np.array([0.1, -1.9], np.float32))
    assert np.abs(loud).max() == pytest.approx(PEAK_CEILING) and trim_db == pytest.approx(-6.02, abs=0.01)


# --- renders ---------------------------------------------------------------------------------------------------

def test_revoicing_leaves_the_clip_and_its_part_stems_bit_identical(setting):
    _, context, picked = setting
    on, off = context(revoice=True), context(revoice=False)
    for job in picked.values():
        a, b = _render(job, off), _render(job, on)
        assert np.array_equal(a.audio, b.audio), job.id
        assert set(b.stems) == set(a.stems) | {REVOICED_STEM} and len(a.stems) == 2, job.id
        for name, stem in a.stems.items():
            assert np.array_equal(stem, b.stems[name]), (job.id, name)
        assert (a.description, a.tags, a.bpm, a.key) == (b.description, b.tags, b.bpm, b.key)
        assert np.array_equal(a.notes, b.notes)
        assert a.drum_hits is None or np.array_equal(a.drum_hits, b.drum_hits)
        assert {k: v for k, v in b.render.items() if k != REVOICED_STEM} == a.render and REVOICED_STEM not in a.render
        # the part stems alone (no re-voice) render the same clip too
        c = _render(job, context(revoice=True, stems=False))
        assert np.array_equal(a.audio, c.audio) and set(c.stems) == {REVOICED_STEM}
        assert np.array_equal(c.stems[REVOICED_STEM], b.stems[REVOICED_STEM])


class _Recorder:
    """The synth pool, recording what every render was asked to play."""

    def __init__(self, pool) -> None:  # noqa: ANN001
        self.pool, self.calls = pool, []

    def get(self, name: str):  # noqa: ANN201
        synth, calls = self.pool.get(name), self.calls

        class Synth:
            def render(self, notes, programs, duration_s, **kw):  # noqa: ANN001, ANN201
                calls.append((name, np.array(notes), list(programs), duration_s, kw))
                return synth.render(notes, programs, duration_s, **kw)

        return Synth()


def _long_term_spectrum_db(x: np.ndarray) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(x, 2048)[::1024] * np.hanning(2048)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)[1:]
    db = 10 * np.log10(np.array([band.sum() for band in np.array_split(power, 48)]) + 1e-12)
    return db - db.max()


def _rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64))))


def test_the_revoice_plays_the_same_notes_and_hits_on_other_instruments(setting, monkeypatch):
    _, context, picked = setting
    hits_calls = []
    real_render_hits = renders.render_hits

    def recording_render_hits(kit, hits, duration_s, rng, sample_rate_hz=44100):  # noqa: ANN001, ANN202
        hits_calls.append((kit.ref.name, list(hits), duration_s))
        return real_render_hits(kit, hits, duration_s, rng, sample_rate_hz)

    monkeypatch.setattr(renders, "render_hits", recording_render_hits)
    for key, job in picked.items():
        ctx = context()
        ctx.synths = _Recorder(ctx.synths)
        hits_calls.clear()
        res = _render(job, ctx)
        record, revoiced = res.render[REVOICED_STEM], res.stems[REVOICED_STEM]
        # the full render, (the part stems,) then the re-voice: same soundfont, notes, length and reverb
        clip_call, revoice_call = ctx.synths.calls[0], ctx.synths.calls[-1]
        assert len(ctx.synths.calls) == (4 if key.startswith("score") else 2)
        assert revoice_call[0] == clip_call[0] == res.render["soundfont"]
        assert np.array_equal(revoice_call[1], clip_call[1]) and revoice_call[3] == clip_call[3]
        assert revoice_call[4] == clip_call[4]
        assert clip_call[2] == res.render["programs"] and revoice_call[2] == record["programs"]
        assert record["programs"] != res.render["programs"] and record["palette"] != res.render["palette"]
        assert revoiced.shape == res.audio.shape and revoiced.dtype == np.float32
        assert np.abs(revoiced).max() <= PEAK_CEILING
        # other timbre: the long-term spectra differ by decibels (a render of itself differs by none)
        distance_db = np.mean(np.abs(_long_term_spectrum_db(res.audio) - _long_term_spectrum_db(revoiced)))
        assert distance_db > 2.0, (job.id, distance_db)
        if key == "mix":
            (kit, hits, duration_s), (other_kit, other_hits, other_duration_s) = hits_calls
            assert other_hits == hits and other_duration_s == duration_s and kit == res.render["kit"]
            assert other_kit == record["kit"] != kit
            # the other kit's sounds are in the training data: its licence and sources are credited with the item
            assert ctx.kits[other_kit].licence in res.licences and record["kit_licence"] == ctx.kits[other_kit].licence.spdx
            assert record["kit_sources"][0] == ctx.kits[other_kit].source_id and set(record["kit_sources"]) <= set(res.sources)
            assert abs(_rms_db(revoiced) - _rms_db(res.audio)) < 1.5  # balanced and normalised as the mix
            assert record["palette"] in BAND_PALETTES
        else:
            assert abs(_rms_db(revoiced) - _rms_db(res.audio)) < 12.0  # the mix's gain; instruments differ


def test_the_revoice_is_deterministic_whatever_was_rendered_before(setting):
    _, context, picked = setting
    jobs = list(picked.values())
    first = {job.id: _render(job, context()) for job in jobs}
    again = {job.id: _render(job, context()) for job in reversed(jobs)}  # other order, fresh worker state
    for job in jobs:
        a, b = first[job.id], again[job.id]
        assert np.array_equal(a.stems[REVOICED_STEM], b.stems[REVOICED_STEM]), job.id
        assert a.render[REVOICED_STEM] == b.render[REVOICED_STEM]


def test_a_failed_revoice_costs_only_the_revoiced_stem(setting, monkeypatch):
    _, context, picked = setting
    job = picked["mix"]
    plain = _render(job, context(revoice=False))

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise ValueError("no palette to re-voice with")

    monkeypatch.setattr(renders, "choose_palette", broken)
    res = _render(job, context())
    assert np.array_equal(res.audio, plain.audio) and set(res.stems) == {"drums", "band"}
    assert res.render[REVOICED_STEM] == {"error": "ValueError: no palette to re-voice with"}
