"""Control and accompaniment channels: layout, 'let the model decide' masks, held notes as pitch salience."""

from __future__ import annotations

import pytest
import torch

from lmd_studio.core.generator import BlockControls
from lmd_studio.model.conditioning import accompaniment_features, control_features, frame_conditioning
from lmd_studio.model.dit_config import CONTROL_CHANNELS, DiTConfig

GIVEN = slice(15, 19)


def test_given_controls_fill_values_and_bits() -> None:
    feats = control_features(BlockControls(values={"loudness": 0.8, "brightness": 0.2, "density": 0.4,
                                                   "pitch": 2}), 5)
    assert feats.shape == (5, CONTROL_CHANNELS)
    assert torch.allclose(feats[:, :3], torch.tensor([0.8, 0.2, 0.4]).expand(5, 3))
    assert feats[0, GIVEN].tolist() == [1.0, 1.0, 1.0, 1.0]
    chroma = feats[0, 3:15]
    assert chroma.argmax().item() == 2 and chroma[2 + 7] > chroma[2 + 4] > 0  # D with its fifth and third


def test_auto_controls_are_hidden_from_the_model() -> None:
    auto = frozenset({"loudness", "density", "pitch"})
    feats = control_features(BlockControls(values={"loudness": 0.9, "density": 0.9, "pitch": 5}, auto=auto), 2)
    assert feats[0, 0] == 0 and feats[0, 2] == 0 and not feats[0, 3:15].any()
    assert feats[0, GIVEN].tolist() == [0.0, 1.0, 0.0, 0.0]


def test_held_notes_become_velocity_weighted_chroma_even_when_pitch_is_auto() -> None:
    controls = BlockControls(held_notes=((60, 127), (64, 64), (79, 32)), auto=frozenset({"pitch"}))
    chroma = control_features(controls, 1)[0, 3:15]
    assert chroma[0] == 1.0 and abs(chroma[4] - 64 / 127) < 1e-6 and abs(chroma[7] - 32 / 127) < 1e-6
    assert control_features(controls, 1)[0, 18] == 1.0


def test_accompaniment_visibility_and_frame_conditioning_shapes() -> None:
    lat = torch.randn(6, 8)
    acc = accompaniment_features(lat, 6, 8, visible_frames=4)
    assert torch.equal(acc[:4, :8], lat[:4]) and not acc[4:].any() and acc[:4, 8].eq(1).all()
    cfg = DiTConfig.tiny()
    fc = frame_conditioning(cfg, 6, BlockControls(), acc)
    assert fc.shape == (6, cfg.frame_cond_channels)
    with pytest.raises(ValueError, match="accompaniment"):
        frame_conditioning(cfg, 6, None, torch.zeros(6, 3))
    bare = DiTConfig.tiny(control_channels=0, accomp_channels=0)
    assert frame_conditioning(bare, 6).shape == (6, 0)


def test_config_validation_names_the_problem() -> None:
    with pytest.raises(ValueError, match="divisible"):
        DiTConfig(d_model=100, n_heads=3)
    with pytest.raises(ValueError, match="multiple"):
        DiTConfig(context_frames=50, block_frames=16)
    with pytest.raises(ValueError, match="window_chunks"):
        DiTConfig(window_chunks=9)
    cfg = DiTConfig.tiny()
    assert DiTConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.window_chunks == 4 and cfg.cached_chunks == 3
    with pytest.raises(ValueError, match="unknown DiT config keys"):
        DiTConfig.from_dict({"d_model": 32, "colour": "blue"}, source="x.json")
    assert cfg.replace(context_frames=12).window_chunks == 6


def _entropy(chroma: torch.Tensor) -> float:
    p = chroma / chroma.sum()
    return float(-(p * (p + 1e-12).log()).sum())


def test_the_key_knob_sends_a_key_profile_not_a_chord() -> None:
    """0..11 major, 12..23 minor; every scale degree present, flatter than a held triad (what the model
    learnt a whole window in a key looks like, training/controls.key_chroma)."""
    major = control_features(BlockControls(values={"pitch": 9}), 1)[0, 3:15]  # A major
    minor = control_features(BlockControls(values={"pitch": 21}), 1)[0, 3:15]  # A minor
    for chroma, scale in ((major, (9, 11, 1, 2, 4, 6, 8)), (minor, (9, 11, 0, 2, 4, 5, 7))):
        assert chroma.argmax().item() == 9 and chroma.max() == 1.0
        outside = [pc for pc in range(12) if pc not in scale]
        assert min(chroma[list(scale)].tolist()[:5]) > max(chroma[outside].tolist())  # the scale's core
    assert minor[0] > minor[1] and major[1] > major[0]  # C (minor third) vs C# (major third) of A
    triad = control_features(BlockControls(held_notes=((57, 100), (61, 100), (64, 100))), 1)[0, 3:15]
    assert _entropy(major) > _entropy(triad) + 0.5
    held = BlockControls(values={"pitch": 21}, held_notes=((60, 100), (64, 100), (67, 100)))
    assert control_features(held, 1)[0, 3:15].nonzero().flatten().tolist() == [0, 4, 7]  # the held chord wins
