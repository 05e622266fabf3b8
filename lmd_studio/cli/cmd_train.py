"""`lmd train RECIPE`: one thin recipe module per training stage, dispatched from this table.

Each recipe module (lmd_studio/training/) defines `add_arguments(parser)` and `run(args) -> int`. Adding a
stage is one line in RECIPES.
"""

from __future__ import annotations

import argparse

from lmd_studio.cli.registry import Command, CommandTable

RECIPES = CommandTable("lmd train", "recipe", "RECIPE", {
    "codec": Command("lmd_studio.training.recipe_codec", "the audio codec: spectral autoencoder + streaming phase"),
    "codec2": Command("lmd_studio.training.recipe_codec2", "codec v2: learned magnitude + phase, streaming inverse STFT"),
    "latents": Command("lmd_studio.training.recipe_latents", "encode a corpus into latent shards for the DiT stages"),
    "base": Command("lmd_studio.training.recipe_base", "stage 0: the bidirectional text-conditioned flow model"),
    "lmdm": Command("lmd_studio.training.recipe_lmdm", "stage 1: the LMDM fine-tune (enc-dec or block-causal)"),
    "arc": Command("lmd_studio.training.recipe_arc", "stage 2: ARC-Forcing post-training (rollouts + adversarial)"),
    "lora": Command("lmd_studio.training.recipe_lora", "LoRA adapters on your own folder of loops"),
    "audiotext": Command("lmd_studio.training.recipe_audio_text", "the frozen audio-text encoder used by lmd eval"),
    "pack": Command("lmd_studio.cli.cmd_train_pack", "a run folder's training state as one file to commit"),
    "unpack": Command("lmd_studio.cli.cmd_train_unpack", "a run folder again from a pack (then resume it)"),
})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    RECIPES.add_to(parser)


def run(args: argparse.Namespace) -> int:
    return RECIPES.run(args)
