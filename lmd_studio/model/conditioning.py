"""Conditioning inputs: prompt mixes → TextCondition, and frame-aligned control / accompaniment channels.

Control channel layout per latent frame (CONTROL_CHANNELS = 19), the contract with training data:
  0 loudness  1 brightness  2 onset density      — each normalised to 0..1
  3..14 pitch salience (12-bin chroma, C = 3, max-normalised to 0..1)
  15..18 "given" bits for loudness, brightness, density, pitch (0 = let the model decide; the values of
         an undecided control are zeroed, so the model cannot see them).
Accompaniment channels (latent_channels + 1): a partner's codec latents, then a visibility bit; frames
after the visibility cut-off are zeroed (jam mode, METHOD.md §4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lmd_studio.core.generator import BlockControls
from lmd_studio.core.musical_key import Key
from lmd_studio.core.params import BRIGHTNESS, DENSITY, LOUDNESS, PITCH, PROGRESSION
from lmd_studio.core.progression import progression_chroma, progression_from_knob
from lmd_studio.model.dit_config import CHROMA_BINS, CONTROL_CHANNELS, CONTROL_VALUE_CHANNELS, DiTConfig
from lmd_studio.model.text_encoder import TextEmbedding, TextEncoder


@dataclass(frozen=True, slots=True)
class TextCondition:
    """A batch of prompt mixes before the network's own projections.

    tokens [B, Q, L, E], token_mask [B, Q, L] (True = real token), weights [B, Q] (rows sum to 1),
    pooled [B, Q, E], is_null [B] (True: no prompt — CFG's unconditional row or text dropout; the network
    substitutes its learned null prompt).
    """

    tokens: torch.Tensor
    token_mask: torch.Tensor
    weights: torch.Tensor
    pooled: torch.Tensor
    is_null: torch.Tensor

    def __post_init__(self) -> None:
        b, q, length, _ = self.tokens.shape
        if self.token_mask.shape != (b, q, length) or self.weights.shape != (b, q):
            raise ValueError(f"TextCondition: inconsistent shapes tokens {tuple(self.tokens.shape)}, "
                             f"mask {tuple(self.token_mask.shape)}, weights {tuple(self.weights.shape)}")
        if self.pooled.shape[:2] != (b, q) or self.is_null.shape != (b,):
            raise ValueError("TextCondition: pooled must be [B, Q, E] and is_null [B]")

    @property
    def batch(self) -> int:
        return int(self.tokens.shape[0])

    @classmethod
    def stack(cls, rows: Sequence[TextCondition]) -> TextCondition:
        """Concatenate conditions along the batch (pads prompts and tokens to the largest)."""
        q = max(r.tokens.shape[1] for r in rows)
        length = max(r.tokens.shape[2] for r in rows)
        pad = torch.nn.functional.pad

        def grow(r: TextCondition) -> tuple[torch.Tensor, ...]:
            dq, dl = q - r.tokens.shape[1], length - r.tokens.shape[2]
            return (pad(r.tokens, (0, 0, 0, dl, 0, dq)), pad(r.token_mask, (0, dl, 0, dq), value=False),
                    pad(r.weights, (0, dq)), pad(r.pooled, (0, 0, 0, dq)))

        grown = [grow(r) for r in rows]
        return cls(*(torch.cat([g[i] for g in grown]) for i in range(4)),
                   is_null=torch.cat([r.is_null for r in rows]))

    @classmethod
    def null(cls, text_dim: int, batch: int = 1) -> TextCondition:
        return cls(tokens=torch.zeros(batch, 1, 1, text_dim), token_mask=torch.ones(batch, 1, 1, dtype=torch.bool),
                   weights=torch.ones(batch, 1), pooled=torch.zeros(batch, 1, text_dim),
                   is_null=torch.ones(batch, dtype=torch.bool))


def text_condition(embeddings: Sequence[TextEmbedding], weights: Sequence[float]) -> TextCondition:
    """One mix (batch 1) from per-prompt embeddings; weights are normalised to sum to 1."""
    if len(embeddings) != len(weights):
        raise ValueError(f"{len(embeddings)} prompt embeddings but {len(weights)} weights")
    if not embeddings:
        raise ValueError("text_condition needs at least one prompt (use TextCondition.null for none)")
    w = torch.tensor([float(x) for x in weights], dtype=torch.float32)
    if (w < 0).any() or float(w.sum()) <= 0.0:
        raise ValueError(f"prompt weights must be >= 0 with a positive sum, got {list(weights)}")
    w = w / w.sum()
    length = max(e.tokens.shape[0] for e in embeddings)
    dim = embeddings[0].tokens.shape[1]
    tokens = torch.zeros(1, len(embeddings), length, dim)
    mask = torch.zeros(1, len(embeddings), length, dtype=torch.bool)
    for i, e in enumerate(embeddings):
        tokens[0, i, : e.tokens.shape[0]] = e.tokens
        mask[0, i, : e.tokens.shape[0]] = True
    pooled = torch.stack([e.pooled for e in embeddings])[None]  # [1, Q, E]
    return TextCondition(tokens, mask, w[None], pooled, torch.zeros(1, dtype=torch.bool))


def prompt_mix_condition(encoder: TextEncoder, mix: Sequence[tuple[str, float]]) -> TextCondition:
    """A normalised prompt mix (BlockControls.prompt_mix) → TextCondition; an empty mix → the null prompt."""
    if not mix:
        return TextCondition.null(encoder.dim)
    texts = [t for t, _ in mix]
    return text_condition(encoder.encode(texts), [w for _, w in mix])


def pitch_salience(controls: BlockControls) -> torch.Tensor | None:
    """12-bin chroma: held notes (velocity-weighted) are a chord, the key knob a key's profile (the shape of a
    whole window's chroma in that key, so a model trained on both keeps the key but moves the harmony);
    None = let the model decide."""
    chroma = torch.zeros(CHROMA_BINS)
    if controls.held_notes:
        for note, velocity in controls.held_notes:
            chroma[note % CHROMA_BINS] += velocity / 127.0
    elif controls.is_auto(PITCH):
        return None
    else:
        chroma = torch.tensor(Key.from_knob(controls.value(PITCH)).chroma_profile(), dtype=torch.float32)
    return chroma / chroma.max().clamp_min(1e-6)


def progression_chroma_frames(controls: BlockControls, bars: np.ndarray | None) -> torch.Tensor | None:
    """[n_frames, 12] when the progression knob plays a chord a bar (core/progression.py): a progression is
    chosen, no keyboard chord is held (held notes win), the key knob is set (not auto) and the frames' bars
    are known (a tempo is set). None otherwise: the block's single pitch salience applies."""
    progression = progression_from_knob(controls.value(PROGRESSION))
    if progression is None or bars is None or controls.held_notes or controls.is_auto(PITCH):
        return None
    return torch.from_numpy(progression_chroma(Key.from_knob(controls.value(PITCH)), progression, bars))


def control_features(controls: BlockControls, n_frames: int, chroma_frames: torch.Tensor | None = None
                     ) -> torch.Tensor:
    """[n_frames, CONTROL_CHANNELS] for one block: the knobs hold still within a block, except the pitch
    salience when `chroma_frames` [n_frames, 12] gives it per frame (a progression changing chord on a bar
    line inside the block)."""
    feats = torch.zeros(CONTROL_CHANNELS)
    for i, spec in enumerate((LOUDNESS, BRIGHTNESS, DENSITY)):
        if not controls.is_auto(spec):
            feats[i] = controls.value(spec)
            feats[CONTROL_VALUE_CHANNELS + i] = 1.0
    chroma = pitch_salience(controls) if chroma_frames is None else None
    if chroma is not None:
        feats[3: 3 + CHROMA_BINS] = chroma
        feats[CONTROL_VALUE_CHANNELS + 3] = 1.0
    out = feats.expand(n_frames, CONTROL_CHANNELS).clone()
    if chroma_frames is not None:
        if chroma_frames.shape != (n_frames, CHROMA_BINS):
            raise ValueError(f"chroma frames must be [{n_frames}, {CHROMA_BINS}], got {tuple(chroma_frames.shape)}")
        out[:, 3: 3 + CHROMA_BINS] = chroma_frames.to(torch.float32)
        out[:, CONTROL_VALUE_CHANNELS + 3] = 1.0
    return out


def pitch_on_auto(frame_cond: torch.Tensor) -> torch.Tensor:
    """The same frame conditioning [..., F] (controls first) with the pitch control on Auto: its 12 salience
    values and its given bit zeroed, as training showed a window whose pitch was not given.

    Why: the unguided row of classifier-free guidance hears this as well as the null prompt, so Guidance
    amplifies the key, held chords and the progression, not only the prompt. Session 14: the v2 LMDM stage
    played the key asked on the knob in 1 of 6 renders — the knob reaches the model but holds it weakly.
    """
    out = frame_cond.clone()
    out[..., 3: 3 + CHROMA_BINS] = 0.0
    out[..., CONTROL_VALUE_CHANNELS + 3] = 0.0
    return out


def guided_target_rows(target_cond: torch.Tensor, text_rows: int) -> torch.Tensor:
    """The target conditioning per guidance row: [asked, pitch_on_auto(asked)] when guided (two text rows) and
    the pitch is given; otherwise the one shared row [1, o, F]."""
    if text_rows == 2:
        unguided = pitch_on_auto(target_cond)
        if not torch.equal(unguided, target_cond):
            return torch.cat([target_cond, unguided])
    return target_cond


def accompaniment_features(latents: torch.Tensor | None, n_frames: int, latent_channels: int,
                           visible_frames: int | None = None) -> torch.Tensor:
    """[n_frames, latent_channels + 1]: partner latents + visibility bit; frames ≥ visible_frames hidden."""
    out = torch.zeros(n_frames, latent_channels + 1)
    if latents is None:
        return out
    if latents.shape != (n_frames, latent_channels):
        raise ValueError(f"accompaniment latents must be [{n_frames}, {latent_channels}], got {tuple(latents.shape)}")
    visible = n_frames if visible_frames is None else max(0, min(n_frames, visible_frames))
    out[:visible, :latent_channels] = latents[:visible]
    out[:visible, latent_channels] = 1.0
    return out


def frame_conditioning(cfg: DiTConfig, n_frames: int, controls: BlockControls | None = None,
                       accompaniment: torch.Tensor | None = None, clock: torch.Tensor | None = None,
                       chroma_frames: torch.Tensor | None = None) -> torch.Tensor:
    """The additive per-frame input [n_frames, cfg.frame_cond_channels] (zeros = nothing given).
    `clock`: [n_frames, CLOCK_CHANNELS] from core/musical_clock.py (None: no clock); `chroma_frames`: a
    per-frame pitch salience (progression_chroma_frames) in place of the block's one."""
    parts = []
    if cfg.control_channels:
        parts.append(control_features(controls, n_frames, chroma_frames) if controls is not None
                     else torch.zeros(n_frames, cfg.control_channels))
    if cfg.accomp_channels:
        if accompaniment is None:
            parts.append(torch.zeros(n_frames, cfg.accomp_channels))
        elif accompaniment.shape != (n_frames, cfg.accomp_channels):
            raise ValueError(f"accompaniment features must be [{n_frames}, {cfg.accomp_channels}], "
                             f"got {tuple(accompaniment.shape)}")
        else:
            parts.append(accompaniment)
    if cfg.clock_channels:
        if clock is None:
            parts.append(torch.zeros(n_frames, cfg.clock_channels))
        elif clock.shape != (n_frames, cfg.clock_channels):
            raise ValueError(f"clock channels must be [{n_frames}, {cfg.clock_channels}], got {tuple(clock.shape)}")
        else:
            parts.append(clock.to(torch.float32))
    return torch.cat(parts, dim=-1) if parts else torch.zeros(n_frames, 0)
