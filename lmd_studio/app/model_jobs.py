"""The work functions of long jobs the Session runs off the GUI thread: loading a model, rendering."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lmd_studio.app.bootstrap import make_mailbox
from lmd_studio.app.jobs import BackgroundJob
from lmd_studio.app.model_catalog import model_label
from lmd_studio.core.generator import BlockControls, BlockGenerator, PromptSlot
from lmd_studio.engine.render import RenderResult, render_to_file
from lmd_studio.rt.mailbox import ParamMailbox


def load_model_work(make_generator: Callable[[str, int], BlockGenerator], spec: str, threads: int,
                    controls: BlockControls) -> Callable[[BackgroundJob], BlockGenerator]:
    """Build the generator and run one block, so the first block the player hears pays no warm-up."""

    def work(job: BackgroundJob) -> BlockGenerator:
        job.progress(-1.0, f"loading {model_label(spec, '…')}")
        generator = make_generator(spec, threads)
        job.progress(0.8, "warming up")
        generator.generate_block(generator.init_state(0), controls)
        return generator

    return work


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
