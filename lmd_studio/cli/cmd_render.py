"""`lmd render --seconds S --out FILE`: offline rendering through the engine, faster than real time.

Every flag is checked by argparse before anything loads (status 2 with a message saying what is allowed);
a model that cannot be loaded, a failed render or a file that cannot be written ends with one line
naming the file and the reason (status 1), never a traceback, and never a damaged `--out`.
"""

from __future__ import annotations

import argparse
import sys

from lmd_studio.app.engine_parts import DEFAULT_PROMPT, make_generator, make_mailbox
from lmd_studio.app.model_errors import MODEL_HINT, ModelLoadError, load_generator
from lmd_studio.cli import arg_types
from lmd_studio.core.generator import PromptSlot
from lmd_studio.core.params import PITCH, PROGRESSION, STANDARD_PARAMS
from lmd_studio.rt.mailbox import ParamMailbox


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=arg_types.render_seconds, default=30.0,
                   help=f"length of the render (s, at most {arg_types.MAX_RENDER_S:.0f})")
    p.add_argument("--out", type=arg_types.audio_out_path, required=True, help="output file (.wav or .flac)")
    p.add_argument("--model", default=None, help="'fake', or a model folder (default: models/default)")
    p.add_argument("--prompt", type=arg_types.prompt, action="append", default=None,
                   help="prompt text, optionally TEXT@WEIGHT (a trailing @number); repeat to mix several")
    p.add_argument("--set", type=arg_types.param_assignment(STANDARD_PARAMS), action="append", default=[],
                   metavar="NAME=VALUE", help="set a parameter (e.g. brightness=0.8, steps=6)")
    p.add_argument("--seed", type=arg_types.seed, default=0)
    p.add_argument("--bpm", type=arg_types.tempo_bpm, default=None,
                   help="tempo the model plays at (models with a musical clock; others read it from the prompt)")
    p.add_argument("--meter", type=arg_types.meter_beats, default=4, metavar="4/4",
                   help="time signature for --bpm: 4/4 (default), 3/4, 6/8 …")
    p.add_argument("--key", type=arg_types.musical_key, default=None, metavar='"A minor"',
                   help="the key the music stays in, as the studio's key knob (harmony free to move within it)")
    p.add_argument("--chord", type=arg_types.musical_key, default=None, metavar='"A minor"',
                   help="hold this chord (its triad), as held keyboard notes do; wins over --key")
    p.add_argument("--progression", type=arg_types.progression, default=None, metavar='"I-V-vi-IV"',
                   help="one chord a bar in the --key (needs --bpm): I-V-vi-IV, I-vi-IV-V, vi-IV-I-V, I-IV-V-IV, "
                        "ii-V-I-I, I-IV-I-V, '12-bar blues' (or 1..7; 0 = off)")
    p.add_argument("--rate", type=arg_types.sample_rate, default=None,
                   help="output sample rate in Hz (default: the model's)")
    p.add_argument("--threads", type=arg_types.thread_count, default=2, help="torch threads")


def apply_musical_args(mailbox: ParamMailbox, args: argparse.Namespace) -> None:
    """--bpm/--meter become the clock a clocked model counts; --key the key knob; --chord held triad notes;
    --progression the progression knob."""
    mailbox.set_bpm(args.bpm)
    mailbox.set_beats_per_bar(args.meter)
    if args.key is not None and PITCH.name in mailbox.registry:
        mailbox.set(PITCH.name, float(args.key.knob_value))
        mailbox.set_auto(PITCH.name, False)
    if args.chord is not None:
        mailbox.set_held_notes(args.chord.triad_notes())
    if args.progression is not None and PROGRESSION.name in mailbox.registry:
        mailbox.set(PROGRESSION.name, float(args.progression))


def musical_args_error(args: argparse.Namespace) -> str | None:
    """A flag combination that would silently do nothing, said before anything loads."""
    if args.progression and (args.bpm is None or args.key is None):
        return ("--progression needs --bpm and --key: its chords change on that tempo's bar lines, in that key "
                "(e.g. --bpm 100 --key \"A minor\" --progression I-V-vi-IV)")
    return None


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lmd_studio.engine.audio_file import AudioFileError
    from lmd_studio.engine.render import RenderError, render_to_file

    bad = musical_args_error(args)
    if bad:
        print(f"lmd render: {bad}", file=sys.stderr)
        return 2
    try:
        generator = load_generator(make_generator, args.model, threads=args.threads)
    except ModelLoadError as exc:
        print(f"lmd render: {exc}\n  what to do: {MODEL_HINT}", file=sys.stderr)
        return 1
    mailbox = make_mailbox(generator, prompt=None)
    mailbox.set_prompts(tuple(args.prompt or (PromptSlot(DEFAULT_PROMPT, 1.0),)))
    for name, value in args.set:
        mailbox.set(name, value)
    apply_musical_args(mailbox, args)
    try:
        with tqdm(total=100, unit="%", desc=f"render {args.out.name}", file=sys.stderr) as bar:
            def progress(fraction: float) -> None:
                bar.update(int(fraction * 100) - bar.n)

            result = render_to_file(generator, mailbox, args.seconds, args.out, sample_rate_hz=args.rate,
                                    seed=args.seed, progress=progress)
    except (RenderError, AudioFileError) as exc:
        print(f"lmd render: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"lmd render: interrupted; {args.out} was not written", file=sys.stderr)
        return 130
    limited = ""
    if result.clipped_samples_pre_limiter:
        limited = (f"; the limiter caught {result.clipped_samples_pre_limiter} samples over full scale "
                   f"(peak {result.peak_pre_limiter:.2f} before it)")
    print(f"wrote {result.path} ({result.seconds:.1f} s at {result.sample_rate_hz} Hz, "
          f"{result.speed_x_realtime:.1f}× real time, peak {result.peak:.2f}{limited}) with model {generator.name}")
    return 0
