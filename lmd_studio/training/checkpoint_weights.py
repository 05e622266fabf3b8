"""A stage's network from one of its training checkpoints, for a look at a stage that is still training.

A run folder's `model.safetensors` is what the stage chose (its best checkpoint by its monitor) when it last
stopped; on a run that trains for hours across sessions that can be thousands of steps old. `last.pt` and
`best.pt` hold the weights as of their step. Why this exists: session 14 probed the Model v2 LMDM stage at
steps 3,400 and 4,000 while it trained, and the musical meters of those steps (not of the stale export) were
what decided how long the stage should run.
"""

from __future__ import annotations

from pathlib import Path

import torch

from lmd_studio.core.model_files import CheckpointError
from lmd_studio.model.dit import DiT
from lmd_studio.model.model_io import GeneratorConfig, load_dit
from lmd_studio.training.loop import load_training_checkpoint

CHECKPOINTS = ("export", "last", "best")  # "export": the run's model.safetensors, as before
STAGE_FILE = "model.safetensors"
# an ARC run checkpoints generator, discriminator and the generator's EMA together (training/arc.py ArcPair);
# the EMA is what that stage evaluates and exports, so it is what a look at the stage should hear
_ARC_SHIPPED_PREFIXES = ("ema.", "gen.")


def _generator_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The DiT's own tensors out of a checkpoint's `model` state (plain for base/LMDM, prefixed for ARC)."""
    for prefix in _ARC_SHIPPED_PREFIXES:
        picked = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if picked:
            return picked
    return state


def stage_weights(run: Path, checkpoint: str = "export") -> tuple[DiT, GeneratorConfig, Path, int | None]:
    """(DiT, its generator config, the file the weights came from, the checkpoint's step or None).

    The architecture and generator config always come from the run's model.safetensors (a checkpoint holds
    tensors only); `checkpoint` "last" or "best" then loads that checkpoint's weights into it.
    """
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"checkpoint must be one of {', '.join(CHECKPOINTS)}, got {checkpoint!r}")
    if not run.is_dir():
        raise CheckpointError(f"{run}: no such run folder (give the folder `lmd train … --out` wrote)")
    template = run / STAGE_FILE
    if not template.is_file():
        raise CheckpointError(f"{template}: missing; a run writes it when a stage stops (--max-minutes or its "
                              f"last step), and it is needed for the network's shape")
    dit, generator = load_dit(template)
    if checkpoint == "export":
        return dit, generator, template, None
    source = run / f"{checkpoint}.pt"
    if not source.is_file():
        raise CheckpointError(f"{source}: missing; this run has no {checkpoint} checkpoint yet")
    payload = load_training_checkpoint(source)
    state = payload.get("model")
    if not isinstance(state, dict):
        raise CheckpointError(f"{source}: not a training checkpoint (no model state)")
    try:
        dit.load_state_dict(_generator_state(state), strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(f"{source}: its weights do not fit the network of {template} ({first})") from None
    step = payload.get("step")
    return dit, generator, source, int(step) if step is not None else None
