"""Jam meters for `lmd eval --jam`: does the model play along with a partner it hears late?

On the held-out split's items with partner stems (data/renders.py):
- drum partner (mix items: drums → band): the model hears the drums stem `lookahead_s` late and plays;
  `jam_tempo_within_2pct` (the generated part's detected tempo within 2 % of the item's),
  `jam_beat_offset_ms` (median distance of its onsets to the *partner's* 16th grid — tempo and phase
  from the drums, so only a model that listens can land on it) and `jam_beat_offset_ms_partner_zeroed`
  (the same model and prompt with the partner channel empty: the proof that it listens is the gap);
- harmonic partner (score items: melody → accompaniment, with a key): `jam_key_accuracy` (the generated
  part's detected key = the item's) and `_partner_zeroed`.
Each with `_real`: the same meters on the item's real other stem (the ceiling for these detectors).

Who plays is an `Accompanist`, so the meters are tested with players that do and do not listen
(tests/training/eval/test_jam_eval.py) before any model is judged by them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from lmd_studio.core.musical_key import parse_key
from lmd_studio.data.corpus import Corpus
from lmd_studio.data.manifest import ManifestItem
from lmd_studio.dsp.resample import resample
from lmd_studio.dsp.rhythm import (
    best_grid_phase_s,
    estimate_tempo_bpm,
    grid_offsets_ms,
    onset_envelope,
    onset_times_s,
)
from lmd_studio.dsp.tonality import chromagram, estimate_key
from lmd_studio.training.eval.generate import SamplingOverrides, block_controls, blocks_for, run_stream
from lmd_studio.training.eval.music import MusicRequest, prompt_request, spread


class Accompanist(Protocol):
    name: str

    def play_along(self, partner: np.ndarray, request: MusicRequest, seconds: float, seed: int,
                   sample_rate_hz: int) -> np.ndarray:
        """Mono audio [N] at `sample_rate_hz` played along with `partner` (mono, same rate, from 0 s)."""
        ...


@dataclass(frozen=True, slots=True)
class JamEvalConfig:
    drum_items: int = 12
    key_items: int = 12
    seconds: float = 12.0  # the items are 12-s clips: the partner plays for all of it
    lookahead_s: float = 1.0  # how late the model hears the partner (live: the studio's look-ahead)
    min_bpm: float = 70.0
    max_bpm: float = 160.0
    tolerance: float = 0.02
    seed: int = 0

    def __post_init__(self) -> None:
        if self.drum_items < 1 or self.key_items < 1:
            raise ValueError("drum_items and key_items must be >= 1")
        if not 0.0 <= self.lookahead_s <= 3.0:
            raise ValueError(f"lookahead_s must be in [0, 3] (what training covered), got {self.lookahead_s}")
        if self.seconds < 4.0:
            raise ValueError("seconds must be >= 4 (a tempo needs a few bars)")


class ModelAccompanist:
    """A model folder's generator playing along (`listen=False`: the same model with the partner unheard)."""

    def __init__(self, generator, sampling: SamplingOverrides, lookahead_s: float,  # noqa: ANN001 — a TorchBlockGenerator
                 listen: bool = True) -> None:
        self.generator = generator
        self.sampling = sampling
        self.lookahead_s = lookahead_s
        self.listen = listen
        self.name = f"{generator.name} ({'listening' if listen else 'partner zeroed'})"

    def play_along(self, partner: np.ndarray, request: MusicRequest, seconds: float, seed: int,
                   sample_rate_hz: int) -> np.ndarray:
        from lmd_studio.model.jam import JamGenerator, partner_latents_from_audio

        player = self.generator
        if self.listen:
            latents = partner_latents_from_audio(self.generator, partner, sample_rate_hz)
            player = JamGenerator(self.generator, latents, self.lookahead_s)
        controls = dataclasses.replace(block_controls(request.prompt, self.sampling, request.given),
                                       bpm=request.bpm, beats_per_bar=request.beats_per_bar,
                                       held_notes=request.held_notes)
        stream = run_stream(player, seed, blocks_for(seconds, player), lambda _b: controls, sample_rate_hz)
        return stream.audio[: int(seconds * sample_rate_hz)]


def _items(corpus: Corpus, splits: Sequence[str]) -> list[ManifestItem]:
    return [it for split in splits for it in corpus.items(split)]


def drum_items(corpus: Corpus, splits: Sequence[str], cfg: JamEvalConfig) -> list[ManifestItem]:
    items = [it for it in _items(corpus, splits) if {"drums", "band"} <= set(it.stems) and it.bpm
             and cfg.min_bpm <= it.bpm <= cfg.max_bpm]
    return spread(items, cfg.drum_items, lambda it: float(it.bpm or 0.0))


def key_items(corpus: Corpus, splits: Sequence[str], cfg: JamEvalConfig) -> list[ManifestItem]:
    items = [it for it in _items(corpus, splits) if {"melody", "accompaniment"} <= set(it.stems) and it.key]

    def key_order(it: ManifestItem) -> float:
        key = parse_key(it.key or "C")
        return key.tonic + 12 * key.minor

    return spread(items, cfg.key_items, key_order)


def measure_along(audio: np.ndarray, partner: np.ndarray, sr: int, bpm: float, tolerance: float) -> dict:
    """The generated part's tempo against `bpm`, and its onsets against the partner's own 16th grid."""
    env = onset_envelope(audio, sr)
    detected, _ = estimate_tempo_bpm(env)
    onsets = onset_times_s(env)
    partner_onsets = onset_times_s(onset_envelope(partner, sr))
    phase = best_grid_phase_s(partner_onsets, bpm) if partner_onsets.size else 0.0
    offsets = grid_offsets_ms(onsets, bpm, phase) if onsets.size else np.zeros(0)
    ratio = abs(detected / bpm - 1.0) if np.isfinite(detected) and bpm > 0 else float("inf")
    return {"requested_bpm": bpm, "detected_bpm": float(detected), "within": bool(ratio <= tolerance),
            "partner_phase_s": float(phase), "offset_ms_median": float(np.median(offsets)) if offsets.size
            else float("nan"), "onsets": int(onsets.size)}


def measure_key(audio: np.ndarray, sr: int, key_text: str) -> dict:
    got, corr = estimate_key(chromagram(audio, sr))
    want = parse_key(key_text)
    return {"requested_key": want.name, "detected_key": got.name, "correct": got == want, "correlation": corr}


def _stem(corpus: Corpus, item: ManifestItem, name: str, seconds: float, sr: int) -> np.ndarray:
    audio = corpus.load_stem(item, name).mean(axis=0)[: int(round(seconds * item.sample_rate_hz))]
    return resample(audio, item.sample_rate_hz, sr) if item.sample_rate_hz != sr else audio


def _mean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _median_of(rows: list[dict], key: str) -> float:
    values = [r[key] for r in rows if np.isfinite(r[key])]
    return float(np.median(values)) if values else float("nan")


def evaluate_jam(listening: Accompanist, zeroed: Accompanist, corpus_dir: str, cfg: JamEvalConfig,
                 sample_rate_hz: int = 44100, splits: Sequence[str] = ("test",),
                 request: Callable[[ManifestItem], MusicRequest] = prompt_request,
                 log: Callable[[str], None] = print) -> dict:
    corpus = Corpus.open(corpus_dir)
    drums, tonal = drum_items(corpus, splits, cfg), key_items(corpus, splits, cfg)
    if not drums or not tonal:
        raise ValueError(f"{corpus_dir}: split {'+'.join(splits)} has {len(drums)} items with drums/band stems and "
                         f"{len(tonal)} with melody/accompaniment stems and a key; jam meters need both "
                         "(build stems with `lmd data build`)")
    sr = sample_rate_hz
    seconds = cfg.seconds
    log(f"jam: {len(drums)} drum partners, {len(tonal)} melody partners, {seconds:g} s each, heard "
        f"{cfg.lookahead_s:g} s late, with {listening.name}")
    rows: dict[str, list[dict]] = {"rhythm": [], "rhythm_zeroed": [], "rhythm_real": [], "key": [],
                                   "key_zeroed": [], "key_real": []}
    for i, it in enumerate(drums):
        bpm = float(it.bpm or 0.0)
        partner = _stem(corpus, it, "drums", seconds, sr)
        req = request(it)
        for name, player in (("rhythm", listening), ("rhythm_zeroed", zeroed)):
            audio = player.play_along(partner, req, seconds, cfg.seed + i, sr)
            rows[name].append({"item": it.id, **measure_along(audio, partner, sr, bpm, cfg.tolerance)})
        real = _stem(corpus, it, "band", seconds, sr)
        rows["rhythm_real"].append({"item": it.id, **measure_along(real, partner, sr, bpm, cfg.tolerance)})
    for i, it in enumerate(tonal):
        partner = _stem(corpus, it, "melody", seconds, sr)
        req = request(it)
        for name, player in (("key", listening), ("key_zeroed", zeroed)):
            audio = player.play_along(partner, req, seconds, cfg.seed + 1000 + i, sr)
            rows[name].append({"item": it.id, **measure_key(audio, sr, it.key or "C")})
        rows["key_real"].append({"item": it.id, **measure_key(_stem(corpus, it, "accompaniment", seconds, sr), sr,
                                                               it.key or "C")})
    return {
        "jam_tempo_within_2pct": _mean([float(r["within"]) for r in rows["rhythm"]]),
        "jam_tempo_within_2pct_partner_zeroed": _mean([float(r["within"]) for r in rows["rhythm_zeroed"]]),
        "jam_tempo_within_2pct_real": _mean([float(r["within"]) for r in rows["rhythm_real"]]),
        "jam_beat_offset_ms": _median_of(rows["rhythm"], "offset_ms_median"),
        "jam_beat_offset_ms_partner_zeroed": _median_of(rows["rhythm_zeroed"], "offset_ms_median"),
        "jam_beat_offset_ms_real": _median_of(rows["rhythm_real"], "offset_ms_median"),
        "jam_key_accuracy": _mean([float(r["correct"]) for r in rows["key"]]),
        "jam_key_accuracy_partner_zeroed": _mean([float(r["correct"]) for r in rows["key_zeroed"]]),
        "jam_key_accuracy_real": _mean([float(r["correct"]) for r in rows["key_real"]]),
        "jam_lookahead_s": cfg.lookahead_s,
        "jam_seconds": seconds,
        "jam_series": rows,
    }
