"""`lmd jam --input FILE --out FILE [--mode accompany|delay]`: the model plays with a recorded part, offline.

The partner file is encoded once; each block then hears it only up to `--lookahead-s` before the block,
as a live input would arrive (model/jam.py). `--mode accompany` plays along with it; `--mode delay`
(generative delay) plays it back re-imagined by the prompt, `--delay-s` later. The generated part goes to
`--out` through the same engine, limiter and safe file writer as `lmd render`; `--mix-out` also writes
partner + generated part together (in delay mode balanced by `--dry-wet`, the studio's Dry/Wet law).
Every flag is checked before anything loads; failures end with one line naming the file and the reason.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lmd_studio.app.engine_parts import make_generator, make_mailbox
from lmd_studio.app.model_errors import MODEL_HINT, ModelLoadError, load_generator
from lmd_studio.cli import arg_types
from lmd_studio.cli.cmd_render import apply_musical_args, musical_args_error
from lmd_studio.core.generator import PromptSlot
from lmd_studio.core.params import STANDARD_PARAMS
from lmd_studio.dsp.dry_wet import dry_wet_gains

JAM_PROMPT = "add bass and drums that follow the part"
DELAY_PROMPT = "the same notes played by a string section"
DEFAULT_LOOKAHEAD_S = {"accompany": 1.0, "delay": 0.3}  # delay mode runs the studio with a short look-ahead


def _input_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{path}: no such file (give a WAV or FLAC recording of your part)")
    return path


_lookahead = arg_types.number_between("--lookahead-s", 0.0, 3.0, "seconds; training covered 0–3")
_delay_s = arg_types.number_between("--delay-s", 0.5, 4.0, "seconds; the studio's range")
_dry_wet = arg_types.number_between("--dry-wet", 0.0, 1.0, "0: your part only, 1: the model only")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", type=_input_file, required=True, help="your part: a WAV or FLAC file")
    p.add_argument("--out", type=arg_types.audio_out_path, required=True, help="the generated part (.wav/.flac)")
    p.add_argument("--mix-out", type=arg_types.audio_out_path, default=None,
                   help="also write your part and the generated part mixed")
    p.add_argument("--mode", choices=("accompany", "delay"), default="accompany",
                   help="accompany: play along with the part; delay: play it back re-imagined by the prompt")
    p.add_argument("--delay-s", type=_delay_s, default=1.0, help="delay mode: how much later the answer comes (s)")
    p.add_argument("--dry-wet", type=_dry_wet, default=0.5,
                   help="delay mode, --mix-out: your part (0) against the model (1), equal power")
    p.add_argument("--model", default=None, help="a model folder (default: models/default)")
    p.add_argument("--prompt", type=arg_types.prompt, action="append", default=None,
                   help=f"the style of the part to add (default: {JAM_PROMPT!r}); TEXT@WEIGHT to mix several")
    p.add_argument("--seconds", type=arg_types.render_seconds, default=None,
                   help="length (s; default: the input's length)")
    p.add_argument("--lookahead-s", type=_lookahead, default=None,
                   help="how late the model hears your part, as a live input would arrive (s, 0–3; default 1 "
                        "when accompanying, 0.3 in delay mode)")
    p.add_argument("--set", type=arg_types.param_assignment(STANDARD_PARAMS), action="append", default=[],
                   metavar="NAME=VALUE", help="set a parameter (e.g. steps=6)")
    p.add_argument("--seed", type=arg_types.seed, default=0)
    p.add_argument("--bpm", type=arg_types.tempo_bpm, default=None, help="tempo of your part (clocked models)")
    p.add_argument("--meter", type=arg_types.meter_beats, default=4, metavar="4/4")
    p.add_argument("--key", type=arg_types.musical_key, default=None, metavar='"A minor"',
                   help="the key to play in, as the studio's key knob")
    p.add_argument("--chord", type=arg_types.musical_key, default=None, metavar='"A minor"',
                   help="hold this chord (its triad) under your part, as held keyboard notes do; wins over --key")
    p.add_argument("--progression", type=arg_types.progression, default=None, metavar='"I-V-vi-IV"',
                   help="one chord a bar in the --key (needs --bpm): I-V-vi-IV, I-vi-IV-V, vi-IV-I-V, I-IV-V-IV, "
                        "ii-V-I-I, I-IV-I-V, '12-bar blues' (or 1..7; 0 = off)")
    p.add_argument("--threads", type=arg_types.thread_count, default=2, help="torch threads")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import soundfile as sf

    from lmd_studio.engine.audio_file import AudioFileError
    from lmd_studio.engine.render import RenderError, render_to_file
    from lmd_studio.model.generator import TorchBlockGenerator
    from lmd_studio.model.jam import JamGenerator, partner_latents_from_audio

    bad = musical_args_error(args)
    if bad:
        print(f"lmd jam: {bad}", file=sys.stderr)
        return 2
    try:
        part, part_rate = sf.read(str(args.input), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        print(f"lmd jam: {args.input}: cannot read it as audio ({exc}); give a WAV or FLAC file", file=sys.stderr)
        return 1
    if len(part) == 0 or not np.isfinite(part).all():
        print(f"lmd jam: {args.input}: the file is empty or holds NaN/inf samples", file=sys.stderr)
        return 1
    try:
        inner = load_generator(make_generator, args.model, threads=args.threads)
    except ModelLoadError as exc:
        print(f"lmd jam: {exc}\n  what to do: {MODEL_HINT}", file=sys.stderr)
        return 1
    if not isinstance(inner, TorchBlockGenerator) or not inner.dit.cfg.accomp_channels:
        print(f"lmd jam: model {inner.name} cannot hear a partner (no accompaniment channels); "
              "use a jam-trained model folder with --model", file=sys.stderr)
        return 1
    delay = args.mode == "delay"
    if delay and not inner.delay_trained:
        print(f"lmd jam: note: model {inner.name} was not trained for generative delay, so it plays but does not "
              "answer your part yet", file=sys.stderr)
    elif not delay and not inner.jam_trained:
        print(f"lmd jam: note: model {inner.name} was not jam-trained, so it plays but does not listen yet",
              file=sys.stderr)
    lookahead_s = args.lookahead_s if args.lookahead_s is not None else DEFAULT_LOOKAHEAD_S[args.mode]
    partner = partner_latents_from_audio(inner, part, int(part_rate))
    generator = JamGenerator(inner, partner, lookahead_s, delay_s=args.delay_s if delay else None)
    seconds = len(part) / float(part_rate) + (args.delay_s if delay else 0.0)  # the answer ends d after the part
    seconds = args.seconds if args.seconds is not None else seconds
    mailbox = make_mailbox(generator, prompt=None)
    mailbox.set_prompts(tuple(args.prompt or (PromptSlot(DELAY_PROMPT if delay else JAM_PROMPT, 1.0),)))
    for name, value in args.set:
        mailbox.set(name, value)
    apply_musical_args(mailbox, args)
    try:
        result = render_to_file(generator, mailbox, seconds, args.out, seed=args.seed)
        if args.mix_out is not None:
            dry, wet = dry_wet_gains(args.dry_wet) if delay else (1.0, 1.0)
            _write_mix(args.out, part, int(part_rate), args.mix_out, dry, wet)
    except (RenderError, AudioFileError) as exc:
        print(f"lmd jam: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"lmd jam: interrupted; {args.out} was not written", file=sys.stderr)
        return 130
    mixed = f"; mix in {args.mix_out}" if args.mix_out is not None else ""
    how = f"answering {args.input.name} {args.delay_s:.2f} s later" if delay else f"playing along with {args.input.name}"
    print(f"wrote {result.path} ({result.seconds:.1f} s, {result.speed_x_realtime:.1f}× real time, {how}, "
          f"hearing it {lookahead_s:.2f} s late) with model {inner.name}{mixed}")
    return 0


def _write_mix(generated_path: Path, part, part_rate: int, out: Path, dry: float = 1.0,  # noqa: ANN001 — numpy
               wet: float = 1.0) -> None:
    """Partner (× `dry`) + generated part (× `wet`) at the generated file's rate, through the studio's limiter,
    written safely."""
    import numpy as np
    import soundfile as sf

    from lmd_studio.dsp.limiter import LimiterConfig, PeakLimiter
    from lmd_studio.dsp.resample import resample
    from lmd_studio.engine.audio_file import write_whole_file

    gen, rate = sf.read(str(generated_path), dtype="float32", always_2d=True)
    x = part if part_rate == rate else resample(part, part_rate, rate)
    if x.shape[1] != gen.shape[1]:
        x = np.repeat(x.mean(axis=1, keepdims=True), gen.shape[1], axis=1)
    n = len(gen)
    x = np.pad(x[:n], ((0, max(0, n - len(x))), (0, 0)))
    mix = np.ascontiguousarray(wet * gen + dry * x, dtype=np.float32)
    PeakLimiter(LimiterConfig(), rate, mix.shape[1]).process(mix)
    write_whole_file(out, mix, rate, out.suffix.lstrip(".").lower())  # like every render: never half a file
