"""The evaluation's building blocks: windows, disjoint halves, noise, projections, retrieval, metrics, card."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmd_studio.training.audio_text import AudioTextConfig, AudioTextEncoder
from lmd_studio.training.audio_text_data import retrieval_metrics
from lmd_studio.training.eval.data import RealClip, cut_windows, pink_noise, split_halves, window_starts
from lmd_studio.training.eval.metrics import (
    clip_level_db,
    measured_control_curve,
    pearson,
    segment_fd_curve,
    segment_fd_drift,
    slope_per_minute,
    wrong_prompts,
)
from lmd_studio.training.eval.report import update_card_section
from lmd_studio.training.eval.spaces import Projection

SR = 44100


def test_windows_cover_each_clip_and_pad_short_ones():
    assert window_starts(10, 4, 2) == [0, 2, 4, 6]
    assert window_starts(11, 4, 2) == [0, 2, 4, 6, 7]  # the tail gets a window ending at the clip's end
    assert window_starts(3, 4, 2) == [0]
    w = cut_windows(np.arange(1, 4, dtype=np.float32), 5, 2)
    np.testing.assert_array_equal(w, [[1, 2, 3, 0, 0]])
    assert cut_windows(np.ones(11), 4, 2).shape == (5, 4)
    with pytest.raises(ValueError, match="positive"):
        window_starts(10, 0, 2)


def test_halves_share_no_source_and_balance_windows():
    def clip(i: int, groups: tuple[str, ...], seconds: float) -> RealClip:
        return RealClip(f"c{i}", f"clip {i}", groups, np.zeros(int(seconds * 100), np.float32))

    clips = [clip(0, ("kit:a",), 12), clip(1, ("kit:a", "piece:x"), 12), clip(2, ("piece:x",), 4),
             clip(3, ("piece:y",), 12), clip(4, ("sample:z",), 12), clip(5, ("piece:w",), 4)]
    half = split_halves(clips, 400, 200)
    for i, a in enumerate(clips):
        for j, b in enumerate(clips):
            if set(a.groups) & set(b.groups):
                assert half[i] == half[j], (a.item_id, b.item_id)
    counts = [sum(len(window_starts(c.num_frames, 400, 200)) for c, h in zip(clips, half) if h == side)
              for side in (0, 1)]
    assert abs(counts[0] - counts[1]) <= 5 and min(counts) > 0
    with pytest.raises(ValueError, match="disjoint"):
        split_halves([clip(0, ("a",), 4), clip(1, ("a",), 4)], 400, 200)


def test_pink_noise_has_a_one_over_f_spectrum_and_unit_rms():
    x = pink_noise(SR * 4, np.random.default_rng(0))
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)
    power = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / SR)
    low = power[(f > 100) & (f < 200)].mean()
    high = power[(f > 1000) & (f < 2000)].mean()
    assert 10 * np.log10(low / high) == pytest.approx(10.0, abs=1.5)  # -10 dB per decade


def test_projection_keeps_leading_directions_and_sees_what_lies_off_them():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((200, 2)) @ np.array([[3.0, 0, 0, 0], [0, 2.0, 0, 0]]) + 0.01 * rng.standard_normal((200, 4))
    proj = Projection.fit(data, 2)
    assert proj.explained > 0.99
    inside, off = proj(np.array([[1.0, 1.0, 0, 0]])), proj(np.array([[0, 0, 5.0, 0]]))
    assert inside.shape == (1, 3) and inside[0, 2] < 0.1 and off[0, 2] > 4.9
    with pytest.raises(ValueError, match="principal"):
        Projection.fit(data, 4)


def test_retrieval_metrics_rank_own_descriptions():
    text = torch.eye(3)
    audio = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0.9, 0.1, 0], [0, 0, 1.0]])
    ids = torch.tensor([0, 1, 1, 2])
    m = retrieval_metrics(torch.nn.functional.normalize(audio, dim=1), ids, text, "x_")
    assert m["x_r1_a2t"] == pytest.approx(0.75) and m["x_r5_a2t"] == 1.0
    assert m["x_r1_t2a"] == 1.0 and m["x_chance_r1_a2t"] == pytest.approx(1 / 3)
    assert m["x_mrr_a2t"] == pytest.approx((1 + 1 + 0.5 + 1) / 4)


def test_encoder_masks_and_dropout_only_while_training():
    torch.manual_seed(0)
    enc = AudioTextEncoder(AudioTextConfig(clip_s=0.5, width=16, embed_dim=8))
    audio = torch.randn(2, enc.cfg.clip_frames)
    enc.train()
    assert not torch.allclose(enc.embed_audio(audio), enc.embed_audio(audio))
    enc.eval()
    torch.testing.assert_close(enc.embed_audio(audio), enc.embed_audio(audio))


def test_metric_helpers():
    assert wrong_prompts(["a", "a", "b"]) == ["b", "b", "a"]
    with pytest.raises(ValueError, match="two different"):
        wrong_prompts(["a", "a"])
    t = np.arange(0, 120, 2.0)
    assert slope_per_minute(t, 3 + 0.5 * t / 60) == pytest.approx(0.5)
    assert np.isnan(slope_per_minute([1.0], [2.0]))
    assert pearson([1, 2, 3, 4], [2, 4, 6, 8]) == pytest.approx(1.0)
    assert pearson([1, 2, 3, 4], [5, 5, 5, 5]) == 0.0


def test_segment_fd_drift_is_the_slope_of_segment_fds_over_their_centres():
    segments = [{"start_s": 0.0, "windows": 60, "fd_dsp": 40.0}, {"start_s": 30.0, "windows": 60, "fd_dsp": 45.0},
                {"start_s": 60.0, "windows": 60, "fd_dsp": 50.0}, {"start_s": 90.0, "windows": 60, "fd_dsp": None}]
    d = segment_fd_drift(segments)  # +5 per 30 s = +10 per minute; the segment without an FD is skipped
    assert d["drift_fd_slope"] == pytest.approx(10.0)
    assert (d["drift_fd_start"], d["drift_fd_end"]) == (40.0, 50.0)
    assert np.isnan(segment_fd_drift([])["drift_fd_slope"])
    assert np.isnan(segment_fd_drift(segments[:1])["drift_fd_slope"])  # one segment has no slope
    gap = [dict(segments[0], fd_dsp=None), *segments[1:3]]  # a skipped first segment keeps the others' centres
    assert segment_fd_curve(gap) == ([45.0, 75.0], [45.0, 50.0])


def test_lagged_correlation_finds_a_late_response_and_onsets_are_counted():
    from lmd_studio.training.eval.generate import control_curve
    from lmd_studio.training.eval.metrics import lagged_pearson, onset_density

    requested = control_curve(48)
    late = np.concatenate([[requested[0]] * 2, requested[:-2]])  # the audio follows two blocks late
    lag, r = lagged_pearson(requested, late)
    assert lag == 2 and r > 0.99 and pearson(requested, late) < r - 0.02
    assert lagged_pearson(requested, requested) == (0, pytest.approx(1.0))
    clicks = np.zeros(4 * SR, np.float32)
    for start in range(0, clicks.size - 2000, SR // 4):  # 4 clicks per second
        clicks[start:start + 2000] = np.random.default_rng(start).standard_normal(2000) * np.exp(-np.arange(2000) / 200)
    assert onset_density(clicks, SR) == pytest.approx(4.0, abs=1.0)
    assert onset_density(np.zeros(4 * SR, np.float32), SR) == 0.0


def test_measured_loudness_follows_a_level_ramp_per_block():
    block = 8 * 2048
    rng = np.random.default_rng(0)
    levels_db = np.linspace(-40, -10, 8)
    audio = np.concatenate([rng.standard_normal(block) * 10 ** (db / 20) for db in levels_db]).astype(np.float32)
    measured = measured_control_curve(audio, SR, block, "loudness")
    assert measured.shape == (8,)
    assert np.diff(measured).min() > 2.0 and pearson(levels_db, measured) > 0.99
    bright = measured_control_curve(audio, SR, block, "brightness")
    assert np.isfinite(bright).all()


def test_card_section_replaced_in_place_or_appended(tmp_path):
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# m\n\n## Data\nd\n\n## Evaluation\nold\n\n## Licence\nMIT\n")
    update_card_section(card, "## Evaluation\n\nnew numbers\n")
    text = card.read_text()
    assert "old" not in text and "new numbers" in text and text.index("## Data") < text.index("## Evaluation")
    assert text.index("## Evaluation") < text.index("## Licence")
    update_card_section(card, "## Evaluation\n\nnewer\n")
    assert card.read_text().count("## Evaluation") == 1 and "newer" in card.read_text()
    nested = tmp_path / "NESTED.md"  # an Evaluation subsection inside a model's own section
    nested.write_text("# m\n\n## Model\nx\n\n### Evaluation\nTODO\n\n### Examples\ne\n\n## Other\no\n")
    update_card_section(nested, "## Evaluation\n\nnumbers\n\n### Stages\n\nt\n")
    text = nested.read_text()
    assert "TODO" not in text and "### Evaluation\n\nnumbers" in text and "#### Stages" in text
    assert text.index("#### Stages") < text.index("### Examples") < text.index("## Other")
    assert text.count("Evaluation") == 1
    fresh = tmp_path / "NEW.md"
    update_card_section(fresh, "## Evaluation\n\nx\n")
    assert fresh.read_text().startswith("## Evaluation")


def test_clip_level_ignores_pauses_and_reads_dbfs():
    sr = 8000
    tone = np.sin(2 * np.pi * 440 * np.arange(sr) / sr)  # RMS 1/√2: −3.01 dBFS
    assert clip_level_db(tone, window=sr // 10) == pytest.approx(-3.01, abs=0.05)
    with_pause = np.concatenate([tone, np.zeros(sr)])
    assert clip_level_db(with_pause, window=sr // 10) == pytest.approx(-3.01, abs=0.05)
    assert clip_level_db(np.zeros(sr), window=sr // 10) == -60.0
