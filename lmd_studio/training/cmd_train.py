"""`lmd train RECIPE`: one thin recipe module per training stage, dispatched from this table.

Each recipe module defines `add_arguments(parser)` and `run(args) -> int`. Adding a stage (base, lmdm, arc,
lora) is one line in RECIPES.
"""

from __future__ import annotations

import argparse
import importlib

RECIPES: dict[str, tuple[str, str]] = {
    "codec": ("lmd_studio.training.recipe_codec", "the audio codec: spectral autoencoder + streaming phase"),
    "codec2": ("lmd_studio.training.recipe_codec2", "codec v2: learned magnitude + phase, streaming inverse STFT"),
    "latents": ("lmd_studio.training.recipe_latents", "encode a corpus into latent shards for the DiT stages"),
    "base": ("lmd_studio.training.recipe_base", "stage 0: the bidirectional text-conditioned flow model"),
    "lmdm": ("lmd_studio.training.recipe_lmdm", "stage 1: the LMDM fine-tune (enc-dec or block-causal)"),
    "arc": ("lmd_studio.training.recipe_arc", "stage 2: ARC-Forcing post-training (rollouts + adversarial)"),
    "lora": ("lmd_studio.training.recipe_lora", "LoRA adapters on your own folder of loops"),
    "audiotext": ("lmd_studio.training.recipe_audio_text", "the frozen audio-text encoder used by lmd eval"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="recipe", metavar="RECIPE", required=True)
    for name, (module_name, help_text) in RECIPES.items():
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(_recipe_module=module_name)
        importlib.import_module(module_name).add_arguments(p)


def run(args: argparse.Namespace) -> int:
    return int(importlib.import_module(args._recipe_module).run(args) or 0)
