"""Oracle tests of `evaluate`: replayed real audio scores at the floor, noise at the ceiling, a drifting
generator drifts, an obedient generator follows the knobs.

The "real" set is a synthetic family of music-like clips (notes with harmonics at a tempo, optional
percussion), large enough (24 clips, 72 windows) that FD's covariances are meaningful; the tiny built
corpus has 3 test clips, where any FD is noise (tests/training/eval/test_eval_cli.py runs the CLI on it).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.signal import lfilter

from lmd_studio.core.params import BRIGHTNESS, DENSITY, LOUDNESS
from lmd_studio.model.text_encoder import FakeTextEncoder
from lmd_studio.training.audio_text import AudioTextConfig, AudioTextEncoder
from lmd_studio.training.eval.data import RealClip, cut_windows, pink_noise
from lmd_studio.training.eval.dsp import standardizer
from lmd_studio.training.eval.report import target_checks
from lmd_studio.training.eval.run import EvalConfig, evaluate
from lmd_studio.training.eval.spaces import EvalSpaces, Projection, dsp_matrix

SR = 44100
BLOCK = 8192


def synthetic_piece(seed: int, seconds: float = 6.0) -> np.ndarray:
    """Notes with decaying harmonics on a beat grid, sometimes with noise-burst percussion."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros(n)
    beat = int(SR * 60 / rng.uniform(80, 150))
    harmonics = rng.uniform(0.2, 0.9, size=rng.integers(2, 7))
    scale = 110.0 * 2 ** (rng.choice([0, 2, 4, 5, 7, 9, 11], size=8) / 12 + rng.integers(0, 3))
    t = np.arange(int(1.5 * beat)) / SR
    for start in range(0, n, beat):
        f0 = rng.choice(scale)
        note = sum(a ** k * np.sin(2 * np.pi * f0 * (k + 1) * t) for k, a in enumerate(harmonics))
        note *= np.exp(-t * rng.uniform(2, 8))
        end = min(n, start + note.size)
        out[start:end] += note[:end - start]
        if rng.random() < 0.5:
            hit = np.diff(rng.standard_normal(2001)) * np.exp(-np.arange(2000) / 300)
            out[start:start + 2000] += 0.5 * hit[:min(2000, n - start)]
    return (out / np.sqrt(np.mean(out ** 2)) * 10 ** (rng.uniform(-26, -16) / 20)).astype(np.float32)


def synthetic_clips(count: int, first_seed: int) -> list[RealClip]:
    return [RealClip(f"syn{s}", f"synthetic piece number {s}", (f"group{s}",), synthetic_piece(s))
            for s in range(first_seed, first_seed + count)]


@pytest.fixture(scope="module")
def spaces() -> EvalSpaces:
    """Frozen spaces built in code: a random small encoder, statistics of 'training' pieces."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    encoder = AudioTextEncoder(AudioTextConfig(width=32, embed_dim=16)).eval()
    train = np.concatenate([cut_windows(c.audio, 4 * SR, SR) for c in synthetic_clips(20, 1000)])
    raw = dsp_matrix(train, SR)
    mean, std = standardizer(raw)
    with torch.no_grad():
        emb = encoder.embed_audio(torch.from_numpy(train)).double().numpy()
    return EvalSpaces(encoder, mean, std, Projection.fit((raw - mean) / std, 4), Projection.fit(emb, 4),
                      FakeTextEncoder(384), "built in test")


class ReplayGenerator:
    """The oracle: plays the real clip of the prompt from a seed-dependent offset, looping; optionally
    mixes in noise that grows block by block (a model that drifts)."""

    def __init__(self, clips: list[RealClip], noise_growth: float = 0.0, gain: float = 1.0) -> None:
        self.by_prompt = {c.description: gain * c.audio for c in clips}
        self.sample_rate, self.channels, self.block_frames = SR, 1, BLOCK
        self.param_specs, self.context_frames = (), 0
        self.name = "drifting replay" if noise_growth else "replay oracle"
        self.noise_growth = noise_growth

    def init_state(self, seed: int):
        return (int(seed), 0)

    def generate_block(self, state, controls):
        seed, b = state
        text = controls.prompts[0].text
        audio = self.by_prompt.get(text, next(iter(self.by_prompt.values())))
        idx = ((seed * 7919) + b * BLOCK + np.arange(BLOCK)) % audio.shape[0]
        out = audio[idx].astype(np.float64)
        if self.noise_growth:
            rms = np.sqrt(np.mean(audio ** 2))
            out += self.noise_growth * b * rms * np.random.default_rng([seed, b]).standard_normal(BLOCK)
        return out.astype(np.float32)[:, None], (seed, b + 1)


class NoiseGenerator:
    """Pink noise at a fixed typical level, whatever the prompt."""

    def __init__(self, level_db: float = -21.0) -> None:
        self.sample_rate, self.channels, self.block_frames = SR, 1, BLOCK
        self.param_specs, self.context_frames, self.name = (), 0, "pink noise"
        self.gain = 10 ** (level_db / 20)

    def init_state(self, seed: int):
        return (int(seed), 0)

    def generate_block(self, state, controls):
        seed, b = state
        return (pink_noise(BLOCK, np.random.default_rng([seed, b])) * self.gain)[:, None], (seed, b + 1)


class ObedientGenerator:
    """Clicks whose level, brightness and rate follow the knobs (0..1) exactly: a perfect controls model."""

    def __init__(self) -> None:
        self.sample_rate, self.channels, self.block_frames = SR, 1, 4 * BLOCK
        self.param_specs, self.context_frames, self.name = (), 0, "obedient"

    def init_state(self, seed: int):
        return (int(seed), 0)

    def generate_block(self, state, controls):
        seed, b = state
        rng = np.random.default_rng([seed, b])
        value = {s.name: (0.5 if controls.is_auto(s) else controls.value(s)) for s in (LOUDNESS, BRIGHTNESS, DENSITY)}
        clicks = int(round(2 + 14 * value["density"]))  # per block of 0.74 s
        x = np.zeros(self.block_frames)
        for start in np.linspace(0, self.block_frames - 4000, clicks).astype(int):
            x[start:start + 4000] += rng.standard_normal(4000) * np.exp(-np.arange(4000) / 400)
        a = 0.97 * (1 - value["brightness"])  # one-pole low-pass: brighter = less smoothing
        y = lfilter([1 - a], [1, -a], x)
        y /= np.sqrt(np.mean(y ** 2)) + 1e-12
        return (y * 10 ** ((-50 + 40 * value["loudness"]) / 20)).astype(np.float32)[:, None], (seed, b + 1)


CFG = EvalConfig(max_s=6.0, hop_s=1.0, drift_streams=2, drift_s=24.0, drift_segment_s=8.0, control_blocks=16,
                 control_prompts=1, speed_blocks=2)


def quiet(_msg: str) -> None:
    pass


def test_replayed_real_audio_scores_near_the_floor_and_noise_near_the_ceiling(spaces):
    clips = synthetic_clips(24, 0)
    oracle = evaluate(ReplayGenerator(clips), spaces, clips, CFG, log=quiet)
    noise = evaluate(NoiseGenerator(), spaces, clips, CFG, log=quiet)
    for space in ("dsp", "emb"):
        floor, ceiling = oracle[f"fd_{space}_floor"], oracle[f"fd_{space}_ceiling"]
        assert 0 <= floor < ceiling
        assert noise[f"fd_{space}_floor"] == pytest.approx(floor) and noise[f"fd_{space}_ceiling"] == pytest.approx(ceiling)
        assert oracle[f"fd_{space}_rel"] < 0.25, (space, oracle[f"fd_{space}"], floor, ceiling)
        assert noise[f"fd_{space}_rel"] > 0.6, (space, noise[f"fd_{space}"], floor, ceiling)
    assert oracle["meta"]["windows_per_half"] == [36, 36]
    # prompt adherence: replayed audio sits as close to its prompt as the real audio does
    assert oracle["prompt_score"] == pytest.approx(oracle["prompt_score_real"], abs=0.05)
    # replayed real audio has no seams of its own; the real-audio reference agrees
    assert oracle["seam"] == pytest.approx(1.0, abs=0.15) and oracle["seam_real"] == pytest.approx(1.0, abs=0.15)
    assert oracle["rtf"] < 1.0 and oracle["first_audio_s"] >= 0


SMALL = replace(CFG, max_s=4.0)  # drift and control tests: few short clips, the streams are what matters


def test_a_generator_that_accumulates_noise_shows_drift(spaces):
    clips = synthetic_clips(6, 100)
    steady = evaluate(ReplayGenerator(clips), spaces, clips, SMALL, log=quiet)
    drifting = evaluate(ReplayGenerator(clips, noise_growth=0.05), spaces, clips, SMALL, log=quiet)
    assert drifting["drift_slope"] > 5 * max(abs(steady["drift_slope"]), 0.05)
    assert drifting["drift_rms_slope_db"] > 3.0 > abs(steady["drift_rms_slope_db"])
    assert drifting["drift_level_end"] > drifting["drift_level_start"]
    segments = drifting["meta"]["drift_segments"]
    assert len(segments) == 3 and segments[-1]["fd_dsp"] > segments[0]["fd_dsp"]
    series = drifting["series"]["drift"]
    assert len(series) == 2 and len(series[0]["t_s"]) == len(series[0]["dsp_distance"]) > 10
    assert "drift_fd_slope_10min" not in steady  # only streams of 10 minutes earn the 10-minute name


def test_the_level_gap_to_real_clips_of_the_same_prompts(spaces):
    clips = synthetic_clips(6, 200)
    same = evaluate(ReplayGenerator(clips), spaces, clips, SMALL, log=quiet)
    quieter = evaluate(ReplayGenerator(clips, gain=0.5), spaces, clips, SMALL, log=quiet)
    assert abs(same["level_db_gap"]) < 0.5
    assert quieter["level_db_gap"] == pytest.approx(same["level_db_gap"] - 6.02, abs=0.3)
    assert quieter["level_db_median_real"] == pytest.approx(same["level_db_median_real"])
    assert any("level within 3 dB" in line and "not met" in line for line in target_checks(
        {**quieter, "level_db_gap": -4.0}))


def test_control_adherence_follows_an_obedient_generator_not_a_deaf_one(spaces):
    clips = synthetic_clips(6, 200)
    obedient = evaluate(ObedientGenerator(), spaces, clips, SMALL, log=quiet)
    assert obedient["loudness_corr"] > 0.95
    assert obedient["brightness_corr"] > 0.8
    assert obedient["density_corr"] > 0.8
    deaf = evaluate(ReplayGenerator(clips), spaces, clips, SMALL, log=quiet)
    assert deaf["loudness_corr"] < obedient["loudness_corr"] - 0.3
    curves = obedient["series"]["controls"]
    assert [c["control"] for c in curves] == ["loudness", "brightness", "density"]
    assert len(curves[0]["requested"]) == len(curves[0]["measured"]) == CFG.control_blocks
