"""Corpus control features → the model's control channels, and the "let the model decide" masking.

The knobs the studio sends (model/conditioning.py) are 0..1 values; the corpus stores physical units
(dB, Hz, onsets/s). This module is the one place that maps one onto the other, so training, inference and
evaluation agree on what "loudness 0.6" means:

- loudness  : dB in [LOUDNESS_MIN_DB, LOUDNESS_MAX_DB] → 0..1 (linear in dB);
- brightness: spectral centroid on a log-frequency scale, [BRIGHT_MIN_HZ, BRIGHT_MAX_HZ] → 0..1;
- density   : onsets per second in [0, DENSITY_MAX_HZ] → 0..1 (linear);
- pitch     : 12-bin pitch salience, already max-normalised to 0..1.

Channel layout: see model/dit_config.py (3 values, 12 chroma bins, 4 "given" bits).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lmd_studio.dsp.features import ControlFeatures
from lmd_studio.model.dit_config import CHROMA_BINS, CONTROL_CHANNELS, CONTROL_NAMES, CONTROL_VALUE_CHANNELS

LOUDNESS_MIN_DB = -60.0
LOUDNESS_MAX_DB = 0.0
BRIGHT_MIN_HZ = 100.0
BRIGHT_MAX_HZ = 8000.0
DENSITY_MAX_HZ = 8.0
RAW_CHANNELS = 3 + CHROMA_BINS  # the stored value channels (no given bits)


def loudness_to_unit(db: np.ndarray | float) -> np.ndarray:
    return np.clip((np.asarray(db, dtype=np.float64) - LOUDNESS_MIN_DB) / (LOUDNESS_MAX_DB - LOUDNESS_MIN_DB), 0, 1)


def unit_to_loudness_db(u: np.ndarray | float) -> np.ndarray:
    return LOUDNESS_MIN_DB + np.asarray(u, dtype=np.float64) * (LOUDNESS_MAX_DB - LOUDNESS_MIN_DB)


def centroid_to_unit(hz: np.ndarray | float) -> np.ndarray:
    hz = np.maximum(np.asarray(hz, dtype=np.float64), BRIGHT_MIN_HZ)
    return np.clip(np.log(hz / BRIGHT_MIN_HZ) / math.log(BRIGHT_MAX_HZ / BRIGHT_MIN_HZ), 0, 1)


def unit_to_centroid_hz(u: np.ndarray | float) -> np.ndarray:
    return BRIGHT_MIN_HZ * (BRIGHT_MAX_HZ / BRIGHT_MIN_HZ) ** np.asarray(u, dtype=np.float64)


def density_to_unit(onsets_hz: np.ndarray | float) -> np.ndarray:
    return np.clip(np.asarray(onsets_hz, dtype=np.float64) / DENSITY_MAX_HZ, 0, 1)


def features_to_values(f: ControlFeatures) -> np.ndarray:
    """[T, RAW_CHANNELS] float32 control values in the knobs' 0..1 units (what the latent shards store)."""
    out = np.zeros((f.num_frames, RAW_CHANNELS), dtype=np.float32)
    out[:, 0] = loudness_to_unit(f.loudness_db)
    out[:, 1] = centroid_to_unit(f.centroid_hz)
    out[:, 2] = density_to_unit(f.onset_density_hz)
    out[:, 3:] = np.clip(f.pitch_salience, 0, 1)
    return out


def key_chroma(values: torch.Tensor) -> torch.Tensor:
    """Values [B, T, 15] → the same with the pitch bins replaced by their mean over the whole window,
    max-normalised: the window's key profile, what the studio's key knob sends (core/musical_key.py).

    Why: a chroma held per block is one chord (entropy ≈ 1.2 nats over our corpus), a window's mean is a key
    (≈ 1.9 nats, every scale degree present); a model that only ever saw the first plays the knob's profile
    as one held chord. Seeing both, it learns that a flat scale profile leaves the harmony free to move.
    """
    mean = values[..., 3:].mean(dim=1, keepdim=True)  # [B, 1, 12]
    profile = mean / mean.amax(dim=-1, keepdim=True).clamp_min(1e-6)
    return torch.cat([values[..., :3], profile.expand_as(values[..., 3:])], dim=-1)


def masked_controls(values: torch.Tensor, given: torch.Tensor, block_frames: int | None = None,
                    hold: torch.Tensor | None = None, key: torch.Tensor | None = None,
                    key_profiles: torch.Tensor | None = None) -> torch.Tensor:
    """Values [B, T, 15] + given bits [B, 4] → control channels [B, T, CONTROL_CHANNELS].

    An ungiven control has its values zeroed (the model cannot see them) and its bit 0, exactly like an
    "auto" knob at inference. Rows where `hold` [B] is True have each control replaced by its mean over
    every chunk of `block_frames` frames, because the studio's knobs hold still within a block. Rows where
    `key` [B] is True carry the window's key profile in the pitch bins instead of its chords (`key_chroma`) —
    or, where `key_profiles` [B, 12] has a finite row, that profile: the one the studio's key knob sends for
    the item's labelled key (`Key.chroma_profile`), so training shows exactly what inference sends. Why: a
    profile measured on the window includes the target's own chords, and a model can read them back out of
    it; v2-base asked through the knob played 0.039 harmony change per bar against 0.135 with the knob on
    Auto (real clips 0.126; session 13, 6 test items each).
    """
    b, t, _ = values.shape
    if key is not None and bool(key.any()):
        keyed = key_chroma(values)
        if key_profiles is not None:
            known = torch.isfinite(key_profiles).all(dim=-1)  # [B]
            label = torch.cat([values[..., :3], torch.nan_to_num(key_profiles)[:, None, :].expand(b, t, CHROMA_BINS)
                               .to(values.dtype)], dim=-1)
            keyed = torch.where(known[:, None, None], label, keyed)
        values = torch.where(key[:, None, None], keyed, values)
    if hold is not None and block_frames and bool(hold.any()) and t % block_frames == 0:
        chunks = values.view(b, t // block_frames, block_frames, RAW_CHANNELS)  # [B, T/o, o, 15]
        held = chunks.mean(dim=2, keepdim=True).expand_as(chunks).reshape(b, t, RAW_CHANNELS)
        values = torch.where(hold[:, None, None], held, values)
    per_channel = torch.cat([given[:, :3], given[:, 3:4].expand(b, CHROMA_BINS)], dim=1)  # [B, 15]
    out = torch.zeros(b, t, CONTROL_CHANNELS, dtype=values.dtype, device=values.device)
    out[..., :CONTROL_VALUE_CHANNELS] = values * per_channel[:, None]
    out[..., CONTROL_VALUE_CHANNELS:] = given[:, None].to(values.dtype)
    return out


def draw_given(batch: int, p_given: float, generator: torch.Generator) -> torch.Tensor:
    """Which controls are given [B, len(CONTROL_NAMES)], each independently with probability `p_given`."""
    return (torch.rand(batch, len(CONTROL_NAMES), generator=generator) < p_given).float()
