"""`lmd render --seconds S --out FILE`: offline rendering through the engine, faster than real time."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lmd_studio.app.bootstrap import DEFAULT_PROMPT, make_generator, make_mailbox
from lmd_studio.core.generator import PromptSlot


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=30.0, help="length of the render (s)")
    p.add_argument("--out", type=Path, required=True, help="output file (.wav or .flac)")
    p.add_argument("--model", default=None, help="'fake', or a model folder (default: models/default)")
    p.add_argument("--prompt", action="append", default=None,
                   help="prompt text, optionally TEXT@WEIGHT; repeat to mix several")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="set a parameter")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rate", type=int, default=None, help="output sample rate (default: the model's)")
    p.add_argument("--threads", type=int, default=2, help="torch threads")


def parse_prompts(items: list[str] | None) -> tuple[PromptSlot, ...]:
    slots = []
    for item in items or [DEFAULT_PROMPT]:
        text, _, weight = item.rpartition("@") if "@" in item else (item, "", "1")
        try:
            slots.append(PromptSlot(text, float(weight)))
        except ValueError as exc:
            raise SystemExit(f"lmd render: bad --prompt {item!r}: {exc}") from None
    return tuple(slots)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lmd_studio.engine.render import render_to_file

    if args.out.suffix.lower() not in (".wav", ".flac"):
        print(f"lmd render: --out must end in .wav or .flac, got {args.out}", file=sys.stderr)
        return 2
    generator = make_generator(args.model, threads=args.threads)
    mailbox = make_mailbox(generator, prompt=None)
    mailbox.set_prompts(parse_prompts(args.prompt))
    for item in args.set:
        name, _, value = item.partition("=")
        try:
            mailbox.set(name.strip(), float(value))
        except (KeyError, ValueError) as exc:
            print(f"lmd render: bad --set {item!r}: {exc}", file=sys.stderr)
            return 2
    with tqdm(total=100, unit="%", desc=f"render {args.out.name}", file=sys.stderr) as bar:
        def progress(fraction: float) -> None:
            bar.update(int(fraction * 100) - bar.n)

        result = render_to_file(generator, mailbox, args.seconds, args.out, sample_rate_hz=args.rate,
                                seed=args.seed, progress=progress)
    print(f"wrote {result.path} ({result.seconds:.1f} s at {result.sample_rate_hz} Hz, "
          f"{result.speed_x_realtime:.1f}× real time, peak {result.peak:.2f}) with model {generator.name}")
    return 0
