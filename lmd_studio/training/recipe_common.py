"""Command-line plumbing the diffusion recipes share: arguments, config loading, the latent data."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from lmd_studio.data.corpus import CorpusError
from lmd_studio.data.revoice import REVOICED_STEM
from lmd_studio.model.checkpoint import CheckpointError
from lmd_studio.model.dit_config import DiTConfig
from lmd_studio.training import ddp
from lmd_studio.training.batches import WindowSampler
from lmd_studio.training.latents import LatentSet, encode_corpus
from lmd_studio.training.partner import PartnerPlan, part_stems
from lmd_studio.training.stage_config import CONFIG_DIR, TrainConfig, load_stage_config
from lmd_studio.training.text_bank import TextBank, make_text_encoder

DEFAULT_CODEC = Path("models/default/codec.safetensors")


def add_common_arguments(p: argparse.ArgumentParser, stage: str) -> None:
    p.add_argument("--corpus", type=Path, default=None, help="corpus folder from `lmd data build`")
    p.add_argument("--codec", type=Path, default=DEFAULT_CODEC, help="codec file the latents come from")
    p.add_argument("--latents", type=Path, default=None,
                   help="latents folder (default: <corpus>/latents-<codec fingerprint>, encoded if missing)")
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, metrics.csv, loss.png")
    p.add_argument("--config", type=Path, default=CONFIG_DIR / f"{stage}.json", help="JSON training config")
    p.add_argument("--steps", type=int, default=None, help="override steps")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and export) after this wall time")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--no-resume", action="store_true", help="start fresh even if the run folder has a checkpoint")


def load_config(cls: type[TrainConfig], args: argparse.Namespace) -> TrainConfig:
    return load_stage_config(cls, args.config, steps=args.steps, max_minutes=args.max_minutes,
                             batch_size=args.batch_size, threads=args.threads)


def resolve_latents(args: argparse.Namespace, info: ddp.DistInfo, log=print) -> Path:
    """The latents folder: given and ready, or encoded now from --corpus with --codec (rank 0 encodes)."""
    ready = args.latents is not None and (args.latents / "latents.json").is_file() and args.corpus is None
    if ready:
        return args.latents
    if args.corpus is None:
        raise CorpusError("pass --corpus (and --codec) or an encoded --latents folder")
    if info.is_main:
        path = encode_corpus(args.corpus, args.codec, args.latents, log=log)
    if info.enabled:
        torch.distributed.barrier()
    if not info.is_main:
        path = encode_corpus(args.corpus, args.codec, args.latents, log=lambda _m: None)  # all done: a scan
    return path


@dataclass(frozen=True, slots=True)
class StageData:
    train: WindowSampler
    val: WindowSampler
    bank: TextBank
    latents: Path


def stage_data(latents: Path, model: DiTConfig, cfg: TrainConfig, frames: int,
               partner: PartnerPlan | None = None) -> StageData:
    """Train/val window samplers over the latents; `partner` (jam training) applies to training windows only,
    so the validation loss keeps measuring solo generation across stages."""
    train = LatentSet.open(latents, "train")
    try:
        val = LatentSet.open(latents, "val")
    except CorpusError:
        val = train  # tiny corpora may have no validation items
    if train.latent_channels != model.latent_channels:
        raise CorpusError(f"{latents}: latents have {train.latent_channels} channels, the model expects "
                          f"{model.latent_channels}")
    encoder = make_text_encoder(cfg.text_encoder, model.text_dim, model.max_text_tokens)
    if encoder.dim != model.text_dim:
        raise ValueError(f"text encoder {cfg.text_encoder!r} gives {encoder.dim}-d tokens, the model expects "
                         f"{model.text_dim}")
    texts = train.descriptions + val.descriptions
    cache = latents / f"text-{cfg.text_encoder}-{model.text_dim}-{model.max_text_tokens}.npz"
    bank = TextBank.build(texts, encoder, model.max_text_tokens, cache)
    if partner is not None and partner.p_partner > 0 and not any(len(part_stems(it)) == 2 for it in train.items):
        raise CorpusError(f"{latents}: no item has partner stems; rebuild the corpus with `lmd data build` and "
                          f"re-run `lmd train latents`, or set p_partner to 0")
    if partner is not None and partner.p_delay > 0 and not any(REVOICED_STEM in it.stems for it in train.items):
        raise CorpusError(f"{latents}: no item has a re-voiced render; add them with `lmd data build` (it backfills "
                          f"existing corpora) and re-run `lmd train latents`, or set p_delay to 0")
    if cfg.key_from_label and not any(it.key for it in train.items):
        raise CorpusError(f"{latents}: no training item has a key from its notes (is the corpus it was encoded from, "
                          f"{train.meta.get('corpus')}, still there?); set key_from_label to false")
    return StageData(WindowSampler(train, bank, frames, cfg.seed, partner),
                     WindowSampler(val, bank, frames, cfg.seed + 1), bank, latents)


def per_rank_batch(cfg: TrainConfig, info: ddp.DistInfo) -> int:
    if cfg.batch_size % info.world_size:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by {info.world_size} replicas")
    return cfg.batch_size // info.world_size


def fail(stage: str, exc: Exception) -> int:
    print(f"lmd train {stage}: {exc}", file=sys.stderr)
    return 2


USER_ERRORS = (ValueError, CorpusError, CheckpointError, FileNotFoundError)
