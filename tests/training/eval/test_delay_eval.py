"""`lmd eval --delay`'s meters on the tiny corpus's part stems: they pass a player that answers the input
d later in another voice, fail a deaf one, and measure the delay a player really has."""

from __future__ import annotations

import numpy as np
import pytest

from lmd_studio.dsp.rhythm import onset_envelope, onset_times_s
from lmd_studio.training.eval.delay import DelayEvalConfig, evaluate_delay
from lmd_studio.training.eval.music import MusicRequest


class Echo:
    """Answers every onset of the input `lag_s` later with a 660-Hz bell (another timbre, same rhythm)."""

    def __init__(self, lag_s: float | None = None) -> None:
        self.lag_s = lag_s
        self.name = "echo"

    def delay_back(self, played: np.ndarray, request: MusicRequest, seconds: float, seed: int,
                   sample_rate_hz: int, delay_s: float) -> np.ndarray:
        n = int(seconds * sample_rate_hz)
        out = np.zeros(n, np.float32)
        bell = (np.sin(2 * np.pi * 660 * np.arange(4000) / sample_rate_hz) * np.exp(-np.arange(4000) / 600.0))
        lag = delay_s if self.lag_s is None else self.lag_s
        for t in onset_times_s(onset_envelope(played, sample_rate_hz)):
            i = int(round((t + lag) * sample_rate_hz))
            if i < n:
                out[i:i + 4000] += bell[: n - i].astype(np.float32)
        return out


class Deaf:
    """A steady 103-bpm bell, whatever it hears."""

    name = "deaf"

    def delay_back(self, played: np.ndarray, request: MusicRequest, seconds: float, seed: int,
                   sample_rate_hz: int, delay_s: float) -> np.ndarray:
        return Echo(0.0).delay_back(_clicks(seconds, sample_rate_hz, 103.0, 0.21), request, seconds, seed,
                                    sample_rate_hz, 0.0)


def _clicks(seconds: float, sr: int, bpm: float, phase_s: float) -> np.ndarray:
    x = np.zeros(int(seconds * sr), np.float32)
    for t in np.arange(phase_s, seconds, 60.0 / bpm):
        i = int(t * sr)
        x[i:i + 200] = np.hanning(400)[200:].astype(np.float32)
    return x


def test_delay_meters_pass_an_echo_and_fail_a_deaf_player(diffusion_tiny) -> None:
    cfg = DelayEvalConfig(items=4, seconds=8.0, delay_s=1.0)
    corpus, splits = str(diffusion_tiny.corpus), ("train", "test")
    good = evaluate_delay(Echo(), corpus, cfg, splits=splits, log=lambda _m: None)
    bad = evaluate_delay(Deaf(), corpus, cfg, splits=splits, log=lambda _m: None)
    late = evaluate_delay(Echo(lag_s=1.25), corpus, cfg, splits=splits, log=lambda _m: None)
    assert len(good["delay_series"]) >= 2
    assert good["delay_error_ms"] <= 20.0 and good["delay_within_20ms"] == 1.0
    assert good["delay_onset_corr"] > 0.3 and good["delay_onset_corr"] > good["delay_onset_corr_shuffled"] + 0.2
    assert bad["delay_onset_corr"] < good["delay_onset_corr"] - 0.2
    # a player 250 ms late is measured as such, and fails the ±20 ms target
    assert late["delay_measured_s"] == pytest.approx(1.25, abs=0.02) and late["delay_within_20ms"] == 0.0


def test_delay_config_keeps_to_the_studio_range() -> None:
    with pytest.raises(ValueError, match="studio's range"):
        DelayEvalConfig(delay_s=6.0)
    with pytest.raises(ValueError, match="at least|>= 2"):
        DelayEvalConfig(items=1)


def test_a_model_answers_through_the_delay_meters(diffusion_tiny) -> None:
    """The real player: a tiny (untrained) model as generative delay, end to end through the meters."""
    import torch

    from lmd_studio.model.generator import TorchBlockGenerator
    from lmd_studio.model.model_io import GeneratorConfig
    from lmd_studio.model.text_encoder import FakeTextEncoder
    from lmd_studio.training.eval.delay import ModelDelayer
    from lmd_studio.training.eval.generate import SamplingOverrides
    from tests.model.lmdm_support import LinearTestCodec, tiny_dit

    torch.set_num_threads(1)
    dit = tiny_dit(seed=4)
    gen = TorchBlockGenerator(dit, LinearTestCodec(), FakeTextEncoder(dit.cfg.text_dim),
                              config=GeneratorConfig(jam_trained=True, delay_trained=True))
    cfg = DelayEvalConfig(items=2, seconds=5.0, delay_s=0.5)
    result = evaluate_delay(ModelDelayer(gen, SamplingOverrides(2, None), cfg.lookahead_s), str(diffusion_tiny.corpus),
                            cfg, sample_rate_hz=16000, splits=("train", "test"), log=lambda _m: None)
    assert len(result["delay_series"]) == 2
    assert all(np.isfinite(r["onset_corr"]) and 0.0 <= r["measured_delay_s"] <= 1.0 for r in result["delay_series"])
