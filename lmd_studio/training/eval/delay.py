"""Generative-delay meters for `lmd eval --delay`: does the model play the input back, `delay_s` later?

On the held-out split's items with part stems (data/renders.py), one part (the melody of a score item, the
drums of a mix) stands in for what a player plays; the model hears it as generative delay's partner (the
input delayed by d, heard `lookahead_s` late, model/jam.py) and plays. From the onset envelopes
(dsp/rhythm.onset_envelope, ≈ 5.8-ms frames):
- `delay_measured_s`: the lag of the output's best match with the input (cross-correlation of the two
  envelopes over 0…d + `search_margin_s`, refined between frames) — `delay_error_ms` its median distance
  to d, `delay_within_20ms` the share within ±20 ms;
- `delay_onset_corr`: the correlation of the output's envelope with the input's delayed by exactly d, and
  `delay_onset_corr_shuffled`: the same against another item's input (the baseline a deaf player reaches).
Who plays is a `Delayer`, so the meters are tested with players that do and do not echo
(tests/training/eval/test_delay_eval.py) before a model is judged by them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from lmd_studio.data.corpus import Corpus
from lmd_studio.data.manifest import ManifestItem
from lmd_studio.dsp.resample import resample
from lmd_studio.dsp.rhythm import onset_envelope
from lmd_studio.training.eval.generate import SamplingOverrides, block_controls, blocks_for, run_stream
from lmd_studio.training.eval.music import MusicRequest, prompt_request, spread

PLAYED_PARTS = ("melody", "drums")  # the stem that stands in for the player, by what the item has


class Delayer(Protocol):
    name: str

    def delay_back(self, played: np.ndarray, request: MusicRequest, seconds: float, seed: int,
                   sample_rate_hz: int, delay_s: float) -> np.ndarray:
        """Mono audio [N] at `sample_rate_hz`: `played` (mono, same rate, from 0 s) answered `delay_s` later."""
        ...


@dataclass(frozen=True, slots=True)
class DelayEvalConfig:
    items: int = 12
    seconds: float = 12.0
    delay_s: float = 1.0  # the set delay
    lookahead_s: float = 0.3  # how late the model hears the input (the studio's look-ahead in delay mode)
    search_margin_s: float = 0.5  # lags searched: 0 … delay_s + this
    tolerance_ms: float = 20.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.items < 2:
            raise ValueError("items must be >= 2 (the shuffled baseline pairs each item with another)")
        if not 0.5 <= self.delay_s <= 4.0:
            raise ValueError(f"delay_s must be in [0.5, 4] (the studio's range), got {self.delay_s}")
        if not 0.0 <= self.lookahead_s <= 3.0:
            raise ValueError(f"lookahead_s must be in [0, 3], got {self.lookahead_s}")
        if self.seconds < self.delay_s + 4.0:
            raise ValueError(f"seconds must leave >= 4 s after the delay, got {self.seconds} for {self.delay_s}")


class ModelDelayer:
    """A model folder's generator as generative delay (model/jam.JamGenerator with `delay_s`)."""

    def __init__(self, generator, sampling: SamplingOverrides, lookahead_s: float) -> None:  # noqa: ANN001
        self.generator = generator
        self.sampling = sampling
        self.lookahead_s = lookahead_s
        self.name = f"{generator.name} (generative delay)"

    def delay_back(self, played: np.ndarray, request: MusicRequest, seconds: float, seed: int,
                   sample_rate_hz: int, delay_s: float) -> np.ndarray:
        from lmd_studio.model.jam import JamGenerator, partner_latents_from_audio

        latents = partner_latents_from_audio(self.generator, played, sample_rate_hz)
        player = JamGenerator(self.generator, latents, self.lookahead_s, delay_s=delay_s)
        controls = dataclasses.replace(block_controls(request.prompt, self.sampling, request.given),
                                       bpm=request.bpm, beats_per_bar=request.beats_per_bar,
                                       held_notes=request.held_notes)
        stream = run_stream(player, seed, blocks_for(seconds, player), lambda _b: controls, sample_rate_hz)
        return stream.audio[: int(seconds * sample_rate_hz)]


def delay_items(corpus: Corpus, splits: Sequence[str], cfg: DelayEvalConfig) -> list[tuple[ManifestItem, str]]:
    """(item, the part that stands in for the player: its melody, else its drums), spread over the items."""
    parts = {it.id: next(p for p in PLAYED_PARTS if p in it.stems)
             for split in splits for it in corpus.items(split) if any(p in it.stems for p in PLAYED_PARTS)}
    items = [it for split in splits for it in corpus.items(split) if it.id in parts]
    return [(it, parts[it.id]) for it in spread(items, cfg.items, lambda it: 0.0)]


def _normalised(v: np.ndarray) -> np.ndarray:
    v = v - v.mean()
    norm = float(np.sqrt((v * v).sum()))
    return v / norm if norm > 0 else v


def onset_corr(output_env: np.ndarray, input_env: np.ndarray, lag_frames: int) -> float:
    """Pearson correlation of the output's envelope with the input's delayed by `lag_frames`, over their overlap."""
    n = min(len(output_env) - lag_frames, len(input_env))
    if lag_frames < 0 or n < 8:
        return float("nan")
    a, b = _normalised(output_env[lag_frames:lag_frames + n]), _normalised(input_env[:n])
    return float((a * b).sum())


def measured_lag_s(output_env: np.ndarray, input_env: np.ndarray, frame_rate_hz: float, max_lag_s: float) -> float:
    """The lag (s) at which the output's envelope best matches the input's, refined between frames by a
    parabola through the peak and its neighbours."""
    max_lag = min(int(max_lag_s * frame_rate_hz), len(output_env) - 8)
    scores = np.array([onset_corr(output_env, input_env, lag) for lag in range(max_lag + 1)])
    scores = np.where(np.isfinite(scores), scores, -np.inf)
    k = int(np.argmax(scores))
    shift = 0.0
    if 0 < k < len(scores) - 1 and np.isfinite(scores[k - 1]) and np.isfinite(scores[k + 1]):
        y0, y1, y2 = scores[k - 1], scores[k], scores[k + 1]
        denom = y0 - 2 * y1 + y2
        shift = 0.5 * (y0 - y2) / denom if denom < 0 else 0.0
    return (k + shift) / frame_rate_hz


def measure_delay(output: np.ndarray, played: np.ndarray, other: np.ndarray, sr: int, cfg: DelayEvalConfig
                  ) -> dict:
    out_env = onset_envelope(output, sr)
    rate = out_env.frame_rate_hz
    in_env, other_env = onset_envelope(played, sr).values, onset_envelope(other, sr).values
    lag = int(round(cfg.delay_s * rate))
    measured = measured_lag_s(out_env.values, in_env, rate, cfg.delay_s + cfg.search_margin_s)
    return {"measured_delay_s": measured, "error_ms": 1000.0 * abs(measured - cfg.delay_s),
            "onset_corr": onset_corr(out_env.values, in_env, lag),
            "onset_corr_shuffled": onset_corr(out_env.values, other_env, lag)}


def _load(corpus: Corpus, item: ManifestItem, part: str, seconds: float, sr: int) -> np.ndarray:
    audio = corpus.load_stem(item, part).mean(axis=0)[: int(round(seconds * item.sample_rate_hz))]
    return resample(audio, item.sample_rate_hz, sr) if item.sample_rate_hz != sr else audio


def _finite(values: list[float]) -> list[float]:
    return [v for v in values if np.isfinite(v)]


def evaluate_delay(player: Delayer, corpus_dir: str, cfg: DelayEvalConfig, sample_rate_hz: int = 44100,
                   splits: Sequence[str] = ("test",),
                   request: Callable[[ManifestItem], MusicRequest] = prompt_request,
                   log: Callable[[str], None] = print) -> dict:
    corpus = Corpus.open(corpus_dir)
    picked = delay_items(corpus, splits, cfg)
    if len(picked) < 2:
        raise ValueError(f"{corpus_dir}: split {'+'.join(splits)} has {len(picked)} items with a melody or drums "
                         "stem; the delay meters need at least 2 (build stems with `lmd data build`)")
    sr = sample_rate_hz
    log(f"delay: {len(picked)} played parts, {cfg.seconds:g} s each, answered {cfg.delay_s:g} s later, heard "
        f"{cfg.lookahead_s:g} s late, by {player.name}")
    played = [_load(corpus, it, part, cfg.seconds, sr) for it, part in picked]
    rows = []
    for i, (it, part) in enumerate(picked):
        other = played[(i + 1) % len(played)]  # the shuffled baseline: the next item's part
        output = player.delay_back(played[i], request(it), cfg.seconds, cfg.seed + 2000 + i, sr, cfg.delay_s)
        rows.append({"item": it.id, "part": part, **measure_delay(output, played[i], other, sr, cfg)})
    errors = _finite([r["error_ms"] for r in rows])
    corr, shuffled = _finite([r["onset_corr"] for r in rows]), _finite([r["onset_corr_shuffled"] for r in rows])
    return {
        "delay_set_s": cfg.delay_s,
        "delay_measured_s": float(np.median(_finite([r["measured_delay_s"] for r in rows]))),
        "delay_error_ms": float(np.median(errors)) if errors else float("nan"),
        "delay_within_20ms": float(np.mean([e <= cfg.tolerance_ms for e in errors])) if errors else float("nan"),
        "delay_onset_corr": float(np.mean(corr)) if corr else float("nan"),
        "delay_onset_corr_shuffled": float(np.mean(shuffled)) if shuffled else float("nan"),
        "delay_lookahead_s": cfg.lookahead_s,
        "delay_series": rows,
    }
