"""`lmd train latents`: encode a corpus (train/val/test) with the codec into latent shards, resumably.

    lmd train latents --corpus runs/corpus-small --codec models/default/codec.safetensors

The diffusion recipes do this themselves when given --corpus; this command does it ahead of time (for
example before copying the latents to a GPU machine) and prints the folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lmd_studio.training.latents import LatentSet, encode_corpus
from lmd_studio.training.recipe_common import DEFAULT_CODEC, USER_ERRORS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, required=True, help="corpus folder from `lmd data build`")
    p.add_argument("--codec", type=Path, default=DEFAULT_CODEC, help="codec file")
    p.add_argument("--latents", type=Path, default=None, help="output folder (default: <corpus>/latents-<fp>)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--include-noncommercial", action="store_true",
                   help="also encode items whose licence forbids commercial use")


def run(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(args.threads)
    try:
        out = encode_corpus(args.corpus, args.codec, args.latents, commercial_only=not args.include_noncommercial,
                            log=lambda m: print(m, flush=True))
        counts = {}
        for split in ("train", "val", "test"):
            try:
                ds = LatentSet.open(out, split)
                counts[split] = f"{len(ds.items)} items, {ds.frames / ds.meta['latent_rate_hz'] / 60:.1f} min"
            except USER_ERRORS:
                counts[split] = "empty"
    except USER_ERRORS as exc:
        print(f"lmd train latents: {exc}", file=sys.stderr)
        return 2
    print(f"{out}: " + "; ".join(f"{k} {v}" for k, v in counts.items()))
    return 0
