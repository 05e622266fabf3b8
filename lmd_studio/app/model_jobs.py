"""The work functions of long jobs the Session runs off the GUI thread: loading a model, rendering."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from lmd_studio.app.engine_parts import make_mailbox
from lmd_studio.app.jobs import BackgroundJob
from lmd_studio.app.model_catalog import model_label
from lmd_studio.app.model_errors import ModelLoadError, describe_load_failure, load_generator
from lmd_studio.core.generator import BlockControls, BlockGenerator, PromptSlot
from lmd_studio.engine.render import RenderResult, render_to_file
from lmd_studio.rt.mailbox import ParamMailbox


def load_model_work(make_generator: Callable[[str, int], BlockGenerator], spec: str, threads: int,
                    controls: BlockControls) -> Callable[[BackgroundJob], BlockGenerator]:
    """Build the generator and run one block, so the first block the player hears pays no warm-up. Any
    failure, including a first block that raises or comes out NaN, is a ModelLoadError naming the model:
    the running model keeps playing."""

    def work(job: BackgroundJob) -> BlockGenerator:
        job.progress(-1.0, f"loading {model_label(spec, '…')}")
        generator = load_generator(make_generator, spec, threads)
        job.progress(0.8, "warming up")
        warm_up(generator, spec, controls)
        return generator

    return work


def warm_up(generator: BlockGenerator, spec: str, controls: BlockControls) -> None:
    """One block for `controls` (its text encoder loaded, its prompts encoded and cached); a block that
    raises or comes out NaN is a ModelLoadError naming the model."""
    try:
        audio, _ = generator.generate_block(generator.init_state(0), controls)
    except Exception as exc:  # noqa: BLE001 — reported as a model problem, the old model plays on
        raise ModelLoadError(spec, f"its first block failed ({describe_load_failure(exc)})") from exc
    if not np.isfinite(np.asarray(audio)).all():
        raise ModelLoadError(spec, "its first block came out as NaN or inf (damaged weights?)")


def mailbox_like(generator: BlockGenerator, controls: BlockControls, prompts: tuple[PromptSlot, ...]) -> ParamMailbox:
    """A fresh mailbox holding the same values, auto flags and prompts (for an offline render)."""
    mailbox = make_mailbox(generator, prompt=None)
    for name, value in controls.values.items():
        if name in mailbox.registry:
            mailbox.set(name, value)
    for name in controls.auto:
        if name in mailbox.registry and mailbox.registry.spec(name).can_auto:
            mailbox.set_auto(name, True)
    mailbox.set_prompts(prompts)
    mailbox.set_held_notes(controls.held_notes)
    mailbox.set_bpm(controls.bpm)
    return mailbox


def render_work(generator: BlockGenerator, mailbox: ParamMailbox, seconds: float,
                path: Path) -> Callable[[BackgroundJob], RenderResult]:
    def work(job: BackgroundJob) -> RenderResult:
        job.progress(0.0, f"rendering {seconds:.0f} s")
        return render_to_file(generator, mailbox, seconds, path, progress=lambda f: job.progress(f))

    return work
