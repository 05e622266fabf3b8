"""`evaluate(generator, spaces, clips, cfg)`: every number of `lmd eval` for one generator.

Steps: (1) a generated clip per real clip (same prompt, same duration) and a pink-noise clip per real clip;
(2) all cut into the same windows, embedded in both spaces; (3) FD with floor/ceiling and prompt adherence;
(4) long streams for drift and seams; (5) control-curve streams; (6) speed. Returns a JSON-ready dict
whose flat keys are the issue's (`fd_dsp`, …, `rtf`) and whose `series` holds the curves the plots draw.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from lmd_studio.core.generator import BlockGenerator
from lmd_studio.data.splits import stable_hash
from lmd_studio.training.eval.data import (
    NOISE_REFERENCE,
    RealClip,
    cut_windows,
    noise_like,
    split_halves,
    window_starts,
)
from lmd_studio.training.eval.generate import (
    SamplingOverrides,
    block_controls,
    blocks_for,
    control_curve,
    control_stream,
    measure_speed,
    prompt_clip,
    run_stream,
)
from lmd_studio.training.eval.metrics import (
    MEASURED_UNITS,
    clip_level_db,
    dsp_distance,
    fd_triple,
    lagged_pearson,
    mean_seam_ratio,
    measured_control_curve,
    onset_density,
    pearson,
    prompt_scores,
    segment_fd_drift,
    slope_per_minute,
    window_rms_db,
    wrong_prompts,
)
from lmd_studio.training.eval.spaces import EvalSpaces
from lmd_studio.training.frechet import frechet_distance

CONTROLS = ("loudness", "brightness", "density")
SILENCE_DB = -60.0  # RMS below this (dBFS) counts as silence: a window, or a stream too quiet for seams


@dataclass(frozen=True, slots=True)
class EvalConfig:
    split: str = "test"
    max_s: float = 12.0  # per real clip (and its generated twin)
    max_items: int | None = None
    hop_s: float = 2.0  # analysis window hop; the window is the encoder's clip length
    drift_streams: int = 4
    drift_s: float = 120.0
    drift_segment_s: float = 30.0
    control_blocks: int = 48
    control_prompts: int = 2
    speed_blocks: int = 12
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_s <= 0 or self.hop_s <= 0 or self.drift_s <= 0 or self.drift_segment_s <= 0:
            raise ValueError("max_s, hop_s, drift_s and drift_segment_s must be positive")
        if min(self.drift_streams, self.control_blocks, self.control_prompts, self.speed_blocks) < 1:
            raise ValueError("drift_streams, control_blocks, control_prompts and speed_blocks must be >= 1")
        if self.control_blocks < 4:
            raise ValueError(f"control_blocks must be >= 4 to correlate a curve, got {self.control_blocks}")
        if self.max_items is not None and self.max_items < 3:
            raise ValueError(f"max_items must be >= 3 (two real halves + a wrong prompt), got {self.max_items}")

    @classmethod
    def quick(cls, **overrides) -> EvalConfig:
        """Minutes → seconds: short clips, one short drift stream, short control curves."""
        base = dict(max_s=6.0, max_items=12, hop_s=1.0, drift_streams=1, drift_s=12.0, drift_segment_s=4.0,
                    control_blocks=8, control_prompts=1, speed_blocks=3)
        base.update(overrides)
        return cls(**base)


def _windows(clips: list[np.ndarray], win: int, hop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All windows of all clips [n, win], the clip index of each window [n], window centres in frames [n]."""
    parts = [cut_windows(c, win, hop) for c in clips]
    owner = np.concatenate([np.full(p.shape[0], i) for i, p in enumerate(parts)])
    centres = np.concatenate([np.array(window_starts(max(len(c), win), win, hop)) + win / 2 for c in clips])
    return np.concatenate(parts), owner, centres


def _long_prompts(clips: list[RealClip], k: int) -> list[str]:
    """k distinct prompts for long streams: from the longest clips (music rather than one-shots), taking the
    kinds (score, drums, mix, ...) in turn so a few streams still cover the corpus's variety."""
    by_kind: dict[str, list[str]] = {}
    for c in sorted(clips, key=lambda c: (-c.num_frames, stable_hash("stream", c.item_id))):
        bucket = by_kind.setdefault(c.kind, [])
        if c.description not in bucket:
            bucket.append(c.description)
    kinds = sorted(by_kind, key=lambda kind: -max(c.num_frames for c in clips if c.kind == kind))
    order: list[str] = []
    for depth in range(max(len(v) for v in by_kind.values())):
        order += [by_kind[kind][depth] for kind in kinds if depth < len(by_kind[kind])
                  and by_kind[kind][depth] not in order]
    return [order[i % len(order)] for i in range(k)]


class _Context:
    """What the parts of one evaluation share: generator, spaces, window sizes, sampling, the real set."""

    def __init__(self, generator: BlockGenerator, spaces: EvalSpaces, clips: list[RealClip], cfg: EvalConfig,
                 sampling: SamplingOverrides) -> None:
        self.generator, self.spaces, self.clips, self.cfg, self.sampling = generator, spaces, clips, cfg, sampling
        self.sr = spaces.sample_rate_hz
        self.win, self.hop = spaces.encoder.cfg.clip_frames, int(round(cfg.hop_s * self.sr))
        self.prompts = [c.description for c in clips]
        unique = sorted(set(self.prompts))
        self.text = dict(zip(unique, spaces.embed_text(unique)))


def _fd_and_prompts(ctx: _Context, log: Callable[[str], None]) -> tuple[dict, dict, list]:
    sp, clips = ctx.spaces, ctx.clips
    log(f"generating {len(clips)} clips ({sum(c.num_frames for c in clips) / ctx.sr:.0f} s) with {ctx.generator.name}")
    gen = [prompt_clip(ctx.generator, c.description, c.num_frames, ctx.cfg.seed + i, ctx.sampling, ctx.sr)
           for i, c in enumerate(clips)]
    rng = np.random.default_rng(ctx.cfg.seed)
    real_w, owner, _ = _windows([c.audio for c in clips], ctx.win, ctx.hop)
    sets = {"real": real_w, "gen": _windows([s.audio for s in gen], ctx.win, ctx.hop)[0],
            "noise": _windows([noise_like(c.audio, rng) for c in clips], ctx.win, ctx.hop)[0]}
    half = split_halves(clips, ctx.win, ctx.hop)[owner]
    log(f"embedding {3 * len(real_w)} windows in both spaces")
    z = {k: sp.dsp(w, ctx.sr) for k, w in sets.items()}
    e = {k: sp.embed_audio(w, ctx.sr) for k, w in sets.items()}
    pz, pe = {k: sp.dsp_proj(v) for k, v in z.items()}, {k: sp.emb_proj(v) for k, v in e.items()}
    fd = {"dsp": fd_triple(pz["real"], pz["gen"], pz["noise"], half),
          "emb": fd_triple(pe["real"], pe["gen"], pe["noise"], half),
          # the same in the full spaces, for reference only (rank-deficient covariances: eval_spaces.Projection)
          "dsp_full": fd_triple(z["real"], z["gen"], z["noise"], half),
          "emb_full": fd_triple(e["real"], e["gen"], e["noise"], half)}
    wrong = wrong_prompts(ctx.prompts)
    own_t = np.stack([ctx.text[ctx.prompts[i]] for i in owner])
    wrong_t = np.stack([ctx.text[wrong[i]] for i in owner])
    prompt = {"gen": prompt_scores(e["gen"], own_t, wrong_t), "real": prompt_scores(e["real"], own_t, wrong_t)}
    silent = {k: float((window_rms_db(sets[k]) < SILENCE_DB).mean()) for k in ("real", "gen")}
    # the level a prompt plays at (every control left to the model) against the real clips of the same prompts
    levels = {"real": float(np.median([clip_level_db(c.audio, window=ctx.sr // 10) for c in clips])),
              "gen": float(np.median([clip_level_db(s.audio, window=ctx.sr // 10) for s in gen]))}
    onsets = {"real": float(np.mean([onset_density(c.audio, ctx.sr) for c in clips])),
              "gen": float(np.mean([onset_density(s.audio, ctx.sr) for s in gen]))}
    info = {"windows": int(len(real_w)), "windows_per_half": [int((half == 0).sum()), int((half == 1).sum())],
            "silent": silent, "onsets": onsets, "levels": levels,
            "real_dsp_distance": float(dsp_distance(z["real"]).mean()), "real_proj": pz["real"]}
    return fd, {**prompt, **info}, gen


def _drift(ctx: _Context, real_proj: np.ndarray, log: Callable[[str], None]) -> tuple[dict, list, list]:
    cfg, sp = ctx.cfg, ctx.spaces
    log(f"drift: {cfg.drift_streams} streams of {cfg.drift_s:.0f} s")
    prompts = _long_prompts(ctx.clips, cfg.drift_streams)
    n_blocks = blocks_for(cfg.drift_s, ctx.generator)
    streams, series, rows = [], [], []
    for i, p in enumerate(prompts):
        controls = block_controls(p, ctx.sampling)
        s = run_stream(ctx.generator, 1000 + cfg.seed + i, n_blocks, lambda _b, c=controls: c, ctx.sr)
        w, _, centres = _windows([s.audio], ctx.win, ctx.hop)
        z = sp.dsp(w, ctx.sr)
        dist, sim, loud = dsp_distance(z), sp.embed_audio(w, ctx.sr) @ ctx.text[p], window_rms_db(w)
        series.append({"prompt": p, "t_s": (centres / ctx.sr).tolist(), "dsp_distance": dist.tolist(),
                       "prompt_sim": sim.tolist(), "rms_db": loud.tolist()})
        rows.append((centres / ctx.sr, sp.dsp_proj(z)))
        streams.append(s)
    t = np.concatenate([np.array(s["t_s"]) for s in series])
    values = {k: np.concatenate([np.array(s[k]) for s in series]) for k in ("dsp_distance", "prompt_sim", "rms_db")}
    segments = []
    for lo in np.arange(0.0, cfg.drift_s, cfg.drift_segment_s):
        pooled = np.concatenate([pr[(c >= lo) & (c < lo + cfg.drift_segment_s)] for c, pr in rows])
        fd = frechet_distance(pooled, real_proj) if pooled.shape[0] >= 2 else math.nan
        segments.append({"start_s": float(lo), "windows": int(pooled.shape[0]), "fd_dsp": fd})
    seg = min(cfg.drift_segment_s, cfg.drift_s)
    first, last = t < seg, t >= cfg.drift_s - seg
    numbers = {"drift_slope": slope_per_minute(t, values["dsp_distance"]),
               "drift_prompt_slope": slope_per_minute(t, values["prompt_sim"]),
               "drift_rms_slope_db": slope_per_minute(t, values["rms_db"]),
               "drift_level_start": float(values["dsp_distance"][first].mean()) if first.any() else math.nan,
               "drift_level_end": float(values["dsp_distance"][last].mean()) if last.any() else math.nan,
               **segment_fd_drift(segments), "drift_segments": segments, "drift_prompts": prompts}
    return numbers, series, streams


def _controls(ctx: _Context, log: Callable[[str], None]) -> tuple[dict, list]:
    cfg = ctx.cfg
    log(f"controls: {len(CONTROLS)} curves × {cfg.control_prompts} prompt(s), {cfg.control_blocks} blocks each")
    series, corrs, lagged = [], {c: [] for c in CONTROLS}, {c: [] for c in CONTROLS}
    for j, p in enumerate(_long_prompts(ctx.clips, cfg.control_prompts)):
        for k, name in enumerate(CONTROLS):
            curve = control_curve(cfg.control_blocks, phase=0.7 * j)
            s = control_stream(ctx.generator, p, name, curve, 2000 + cfg.seed + 10 * j + k, ctx.sampling, ctx.sr)
            measured = measured_control_curve(s.audio, ctx.sr, s.block_frames, name)[:len(curve)]
            corrs[name].append(pearson(curve[:len(measured)], measured))
            lagged[name].append(lagged_pearson(curve, measured))
            series.append({"prompt": p, "control": name, "requested": curve.tolist(),
                           "measured": [None if not math.isfinite(v) else float(v) for v in measured],
                           "units": MEASURED_UNITS[name]})
    out = {f"{c}_corr": float(np.mean(v)) for c, v in corrs.items()}
    for c, v in lagged.items():  # the best lag in blocks (> 0: the audio follows late) and r there
        out[f"{c}_best_lag_blocks"] = float(np.median([lag for lag, _ in v]))
        out[f"{c}_corr_best_lag"] = float(np.mean([r for _, r in v]))
    return out | {"per_stream": corrs}, series


def evaluate(generator: BlockGenerator, spaces: EvalSpaces, clips: list[RealClip], cfg: EvalConfig,
             sampling: SamplingOverrides | None = None, log: Callable[[str], None] = print) -> dict:
    t_start = time.monotonic()
    if len(clips) < 3:
        raise ValueError(f"need at least 3 real clips to evaluate, got {len(clips)}")
    sampling = sampling or SamplingOverrides()
    ctx = _Context(generator, spaces, clips, cfg, sampling)
    fd, prompt, gen = _fd_and_prompts(ctx, log)
    drift, drift_series, drift_streams = _drift(ctx, prompt["real_proj"], log)
    controls, control_series = _controls(ctx, log)
    block = drift_streams[0].block_frames
    seam = mean_seam_ratio([s.audio for s in drift_streams], block, ctx.sr, SILENCE_DB)
    seam_real = mean_seam_ratio([c.audio for c in clips], block, ctx.sr, SILENCE_DB)
    log("speed: first audio and steady-state real-time factor")
    speed = measure_speed(generator, f"{drift['drift_prompts'][0]}, speed probe", sampling, cfg.speed_blocks,
                          warmup_blocks=generator.context_frames // max(1, generator.block_frames) + 1)
    all_block_ms = [t for s in gen + drift_streams for t in s.block_ms]
    gen_cfg = getattr(generator, "config", None)  # TorchBlockGenerator: mode, sampler, default steps
    result = {
        **{f"fd_{space}{suffix}": fd[space][key] for space in ("dsp", "emb")
           for suffix, key in (("", "fd"), ("_floor", "floor"), ("_ceiling", "ceiling"), ("_rel", "rel"))},
        "prompt_score": prompt["gen"]["score"], "prompt_score_wrong": prompt["gen"]["wrong"],
        "prompt_win_rate": prompt["gen"]["win_rate"], "prompt_score_real": prompt["real"]["score"],
        "prompt_score_real_wrong": prompt["real"]["wrong"], "prompt_win_rate_real": prompt["real"]["win_rate"],
        **{k: v for k, v in drift.items() if k not in ("drift_segments", "drift_prompts")},
        "drift_level_real": prompt["real_dsp_distance"],
        **{k: v for k, v in controls.items() if k != "per_stream"},
        "seam": seam[0], "seam_real": seam_real[0],
        "silent_fraction": prompt["silent"]["gen"], "silent_fraction_real": prompt["silent"]["real"],
        "onsets_per_s": prompt["onsets"]["gen"], "onsets_per_s_real": prompt["onsets"]["real"],
        "level_db_median": prompt["levels"]["gen"], "level_db_median_real": prompt["levels"]["real"],
        "level_db_gap": prompt["levels"]["gen"] - prompt["levels"]["real"],
        # the drift target is over 10-minute streams: named so only when the streams were that long
        **({"drift_fd_slope_10min": drift["drift_fd_slope"]} if cfg.drift_s >= 600.0 else {}),
        "rtf": speed["rtf"], "rtf_min": speed["rtf_min"], "first_audio_s": speed["first_audio_s"],
        "first_audio_max_s": speed["first_audio_max_s"],
        "ms_per_block": speed["ms_per_block"], "block_ms": speed["block_ms"],
        "rtf_during_eval": float(np.median(all_block_ms)) / speed["block_ms"],
        "meta": {"model": generator.name, "steps": sampling.steps or getattr(gen_cfg, "default_steps", None),
                 "sampler": getattr(gen_cfg, "sampler", None), "mode": getattr(gen_cfg, "mode", None),
                 "guidance": sampling.guidance,
                 "config": asdict(cfg), "clips": len(clips), "windows": prompt["windows"],
                 "windows_per_half": prompt["windows_per_half"], "window_s": ctx.win / ctx.sr,
                 "hop_s": ctx.hop / ctx.sr, "sample_rate_hz": ctx.sr, "ceiling_reference": NOISE_REFERENCE,
                 "eval_spaces": spaces.source, "fd_dims": int(spaces.dsp_proj.basis.shape[0]) + 1,
                 "fd_explained": {"dsp": spaces.dsp_proj.explained, "emb": spaces.emb_proj.explained},
                 "fd_full_dims": {"dsp": fd["dsp_full"], "emb": fd["emb_full"]},
                 "drift_prompts": drift["drift_prompts"], "drift_segments": drift["drift_segments"],
                 "seam_streams_used": seam[1], "seam_per_stream": seam[2], "silence_db": SILENCE_DB,
                 "control_corr_per_stream": controls["per_stream"], "load_avg_1m": os.getloadavg()[0],
                 "wall_s": time.monotonic() - t_start},
        "series": {"drift": drift_series, "controls": control_series},
    }
    return result
