"""`lmd eval`: evaluate a model folder on the held-out test split, or compare two models side by side.

    lmd eval --model models/default --json [--corpus DIR] [--steps K] [--seconds S] [--quick] [--out DIR]
    lmd eval --compare A B          (A, B: model folders or saved eval.json files)

Writes `eval.json` and PNG plots (fd, drift, controls) to --out; `--card` also writes the model card's
Evaluation section (plots copied next to it under `eval/`). torch is imported only inside run().
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lmd_studio.model.cpu_features import CpuProbe


def add_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--model", type=Path, help="a models/<name>/ folder (dit.safetensors + codec.safetensors)")
    what.add_argument("--compare", type=Path, nargs=2, metavar=("A", "B"),
                      help="two model folders, saved eval.json files or --out folders of earlier runs, side by side")
    p.add_argument("--corpus", type=Path, default=None,
                   help="corpus folder (default: the corpus the evaluation encoder was trained on)")
    p.add_argument("--split", default="test", help="split to evaluate on: test (default), val, train or all")
    p.add_argument("--eval-dir", type=Path, default=None, help="frozen evaluation spaces (default models/eval)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps per block (default: the model's)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance (default: the model's)")
    p.add_argument("--sampler", choices=("euler", "pingpong", "pingpong++"), default=None,
                   help="sampler (default: the model's); e.g. stage 1 with ping-pong to compare with ARC")
    p.add_argument("--seconds", type=float, default=None, help="seconds per real/generated clip (default 12)")
    p.add_argument("--drift-seconds", type=float, default=None, help="length of each drift stream (default 120)")
    p.add_argument("--drift-streams", type=int, default=None,
                   help="number of drift streams (default 4; more streams make the per-segment FD steadier)")
    p.add_argument("--quick", action="store_true", help="short clips and streams: a smoke run in seconds")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2, the target laptop)")
    p.add_argument("--bf16", action="store_true", help="run the model in bf16 (oneDNN on CPU)")
    p.add_argument("--out", type=Path, default=None, help="folder for eval.json and the PNG plots")
    p.add_argument("--card", action="store_true", help="write the Evaluation section of the model's MODEL_CARD.md")
    p.add_argument("--card-compare", type=Path, nargs="+", default=(), metavar="RESULT",
                   help="with --card: also tabulate these saved results (eval.json files or --out folders)")
    p.add_argument("--from-result", type=Path, default=None, metavar="RESULT",
                   help="with --model: reuse a saved result (eval.json or --out folder) instead of evaluating again")
    p.add_argument("--card-note", type=Path, default=None, metavar="FILE",
                   help="with --card: markdown appended to the Evaluation section (e.g. what the numbers mean)")
    p.add_argument("--json", action="store_true", help="print JSON (without the plotted series) instead of a table")
    p.add_argument("--no-music", action="store_true",
                   help="skip the musical meters (tempo, 16th-grid onsets, key, harmony change; ~2 min)")
    p.add_argument("--music-only", action="store_true",
                   help="only the musical meters (and --jam/--delay if given): no FD, drift, controls or speed; "
                        "a quick look at what a training run plays (~1 min per model with --music-items 6)")
    p.add_argument("--music-items", type=int, default=None,
                   help="rhythmic and tonal test items for the musical meters (default 16 and 12)")
    p.add_argument("--bpm", type=float, default=None,
                   help="musical meters: ask every render for this tempo (models with a musical clock)")
    p.add_argument("--meter", default=None, help="with --bpm: the time signature (4/4, 3/4, 6/8 …)")
    p.add_argument("--key", default=None, help='musical meters: ask every tonal render for this key ("A minor")')
    p.add_argument("--no-key-knob", action="store_true",
                   help="musical meters: leave the key knob on Auto (the prompt and clock only), the key still "
                        "judged against the item's: does a still harmony come from the knob or the model?")
    p.add_argument("--jam", action="store_true",
                   help="also the jam meters: play along with held-out partner stems heard --jam-lookahead-s late")
    p.add_argument("--jam-items", type=int, default=None, help="drum and melody partners for --jam (default 12)")
    p.add_argument("--jam-lookahead-s", type=float, default=1.0, help="how late the model hears the partner (0–3 s)")
    p.add_argument("--delay", action="store_true",
                   help="also the generative-delay meters: held-out parts answered --delay-s later (measured "
                        "delay, onset correlation with the input vs a shuffled input)")
    p.add_argument("--delay-s", type=float, default=1.0, help="the set delay for --delay (0.5–4 s)")
    p.add_argument("--delay-items", type=int, default=None, help="played parts for --delay (default 12)")


def _fail(msg: str) -> int:
    print(f"lmd eval: {msg}", file=sys.stderr)
    return 2


def _clean(obj):  # noqa: ANN001, ANN202 - JSON has no NaN: write null
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _default_corpus(eval_dir: Path | None) -> Path:
    from lmd_studio.model.checkpoint import read_metadata
    from lmd_studio.training.eval.spaces import DEFAULT_EVAL_DIR, ENCODER_FILE

    meta = read_metadata((eval_dir or DEFAULT_EVAL_DIR) / ENCODER_FILE)
    if not meta.get("corpus"):
        raise ValueError("no --corpus given and the evaluation encoder does not record its corpus")
    return Path(meta["corpus"])


def evaluate_folder(args: argparse.Namespace, model: Path, log,  # noqa: ANN001
                    cpu_probe: CpuProbe | None = None) -> dict:
    """`cpu_probe`: what this CPU runs (default: model/cpu_features.py's probe); a --bf16 it cannot run
    is said in one line and evaluated in fp32 (recorded in meta as bf16 false + bf16_skipped)."""
    import torch

    from lmd_studio.model.cpu_features import bf16_fallback_note, probe_cpu_features
    from lmd_studio.model.generator import TorchBlockGenerator
    from lmd_studio.training.eval.data import load_real_clips
    from lmd_studio.training.eval.generate import SamplingOverrides
    from lmd_studio.training.eval.run import EvalConfig, evaluate
    from lmd_studio.training.eval.spaces import EvalSpaces

    probe = cpu_probe or probe_cpu_features
    bf16_note = bf16_fallback_note(torch.bfloat16, probe()) if args.bf16 else None
    if bf16_note:  # said before anything loads, so it is the first line, not buried under progress
        log(f"lmd eval: {bf16_note}")
    bf16 = args.bf16 and bf16_note is None
    if not model.is_dir():
        raise ValueError(f"{model}: model folder not found")
    spaces = EvalSpaces.load(args.eval_dir)
    corpus = args.corpus or _default_corpus(args.eval_dir)
    overrides = {k: v for k, v in (("max_s", args.seconds), ("drift_s", args.drift_seconds),
                                   ("drift_streams", args.drift_streams)) if v is not None}
    cfg = (EvalConfig.quick if args.quick else EvalConfig)(split=args.split, **overrides)
    # the model gets its own text encoder: its token limit (DiT config) may differ from the eval space's
    generator = TorchBlockGenerator.from_folder(model, threads=args.threads, cpu_probe=probe,
                                                inference_dtype=torch.bfloat16 if bf16 else torch.float32)
    if args.sampler:
        generator.config = dataclasses.replace(generator.config, sampler=args.sampler)
    sampling = SamplingOverrides(args.steps, args.guidance)
    if args.music_only:  # what the sampling asks, so the settings line and the card say which run this was
        gen_cfg = getattr(generator, "config", None)
        result: dict = {"meta": {"model": generator.name, "music_only": True,
                                 "steps": sampling.steps or getattr(gen_cfg, "default_steps", None),
                                 "sampler": getattr(gen_cfg, "sampler", None), "guidance": sampling.guidance}}
    else:
        clips = load_real_clips(corpus, cfg.split, spaces.sample_rate_hz, cfg.max_s, cfg.max_items)
        result = evaluate(generator, spaces, clips, cfg, sampling, log=log)
    if args.music_only or not args.no_music:
        result.update(_music(args, generator, corpus, cfg.split, sampling, spaces.sample_rate_hz, log))
    if args.jam:
        result.update(_jam(args, generator, corpus, cfg.split, sampling, spaces.sample_rate_hz, log))
    if args.delay:
        result.update(_delay(args, generator, corpus, cfg.split, sampling, spaces.sample_rate_hz, log))
    result["meta"].update(model_dir=str(model), corpus=str(corpus), threads=args.threads, bf16=bf16,
                          command=_command(args, model))
    if bf16_note:
        result["meta"]["bf16_skipped"] = bf16_note
    return result


def _music_arg_error(args: argparse.Namespace) -> str | None:
    from lmd_studio.core.musical_key import parse_key
    from lmd_studio.data.grid import beats_per_bar

    if args.bpm is not None and not (math.isfinite(args.bpm) and 20.0 <= args.bpm <= 400.0):
        return f"--bpm must be between 20 and 400, got {args.bpm}"
    if args.meter is not None and beats_per_bar(args.meter) is None:
        return f"--meter must look like 4/4, 3/4 or 6/8, got {args.meter!r}"
    if args.music_items is not None and args.music_items < 1:
        return f"--music-items must be >= 1, got {args.music_items}"
    if getattr(args, "music_only", False) and (args.no_music or args.card):
        return "--music-only measures only the musical meters: it cannot go with --no-music or --card"
    if args.no_key_knob and args.key is not None:
        return "--no-key-knob leaves the key knob on Auto: it cannot go with --key"
    if args.key is not None:
        try:
            parse_key(args.key)
        except ValueError as exc:
            return f"--key: {exc}"
    if not (math.isfinite(args.jam_lookahead_s) and 0.0 <= args.jam_lookahead_s <= 3.0):
        return f"--jam-lookahead-s must be between 0 and 3 s (what training covered), got {args.jam_lookahead_s}"
    if args.jam_items is not None and args.jam_items < 1:
        return f"--jam-items must be >= 1, got {args.jam_items}"
    if not (math.isfinite(args.delay_s) and 0.5 <= args.delay_s <= 4.0):
        return f"--delay-s must be between 0.5 and 4 s (the studio's range), got {args.delay_s}"
    if args.delay_items is not None and args.delay_items < 2:
        return f"--delay-items must be >= 2 (the shuffled baseline pairs each part with another), got {args.delay_items}"
    return None


def _delay(args: argparse.Namespace, generator, corpus: Path, split: str, sampling,  # noqa: ANN001
           sample_rate_hz: int, log) -> dict:  # noqa: ANN001
    """The generative-delay meters (training/eval/delay.py)."""
    from lmd_studio.training.eval.delay import DelayEvalConfig, ModelDelayer, evaluate_delay
    from lmd_studio.training.eval.music import clock_request, prompt_request

    if not generator.dit.cfg.accomp_channels:
        log("lmd eval: --delay skipped: this model has no accompaniment channels")
        return {}
    if not generator.delay_trained:
        log("lmd eval: note: this model was not trained for generative delay; the delay meters measure a model "
            "that cannot answer yet")
    n = args.delay_items if args.delay_items is not None else (2 if args.quick else 12)
    cfg = DelayEvalConfig(items=n, delay_s=args.delay_s)
    request = clock_request if generator.dit.cfg.clock_channels else prompt_request
    splits = ("train", "val", "test") if split == "all" else (split,)
    result = evaluate_delay(ModelDelayer(generator, sampling, cfg.lookahead_s), str(corpus), cfg, sample_rate_hz,
                            splits=splits, request=request, log=log)
    result["delay_trained"] = bool(generator.delay_trained)
    return result


def _jam(args: argparse.Namespace, generator, corpus: Path, split: str, sampling,  # noqa: ANN001
         sample_rate_hz: int, log) -> dict:  # noqa: ANN001
    """The jam meters (training/eval/jam.py): the model playing along with partner stems vs partner zeroed."""
    from lmd_studio.training.eval.jam import JamEvalConfig, ModelAccompanist, evaluate_jam
    from lmd_studio.training.eval.music import clock_request, prompt_request

    if not generator.dit.cfg.accomp_channels:
        log("lmd eval: --jam skipped: this model has no accompaniment channels")
        return {}
    if not generator.jam_trained:
        log("lmd eval: note: this model was not jam-trained; the jam meters measure a model that cannot listen yet")
    n = args.jam_items if args.jam_items is not None else (2 if args.quick else 12)
    cfg = JamEvalConfig(drum_items=n, key_items=n, lookahead_s=args.jam_lookahead_s)
    request = clock_request if generator.dit.cfg.clock_channels else prompt_request
    splits = ("train", "val", "test") if split == "all" else (split,)
    result = evaluate_jam(ModelAccompanist(generator, sampling, cfg.lookahead_s),
                          ModelAccompanist(generator, sampling, cfg.lookahead_s, listen=False), str(corpus), cfg,
                          sample_rate_hz, splits=splits, request=request, log=log)
    result["jam_trained"] = bool(generator.jam_trained)
    return result


def _music(args: argparse.Namespace, generator, corpus: Path, split: str, sampling,  # noqa: ANN001
           sample_rate_hz: int, log) -> dict:  # noqa: ANN001
    """The musical meters (training/eval/music.py). A model with a musical clock is asked for each item's
    tempo, meter and key through its clock and key knob (and held chords for the chord-following meter); a
    text-only model gets the item's prompt."""
    from functools import partial

    from lmd_studio.core.musical_key import parse_key
    from lmd_studio.data.grid import beats_per_bar
    from lmd_studio.training.eval.music import MusicEvalConfig, clock_request, evaluate_music, prompt_request

    n = args.music_items
    cfg = MusicEvalConfig(**({} if n is None else {"tempo_items": n, "key_items": n}),
                          **({"seconds": 12.0, "follow_items": 1, "follow_change_s": 8.0, "chord_items": 2}
                             if args.quick else {}))
    clocked = bool(getattr(getattr(generator, "dit", None), "cfg", None) and generator.dit.cfg.clock_channels)
    overrides = args.bpm is not None or args.key is not None
    if overrides and not clocked:
        log("lmd eval: this model has no musical clock; --bpm/--key are ignored (its prompts say the tempo and key)")
    request = prompt_request
    if clocked:
        request = partial(clock_request, bpm=args.bpm, key=parse_key(args.key) if args.key else None,
                          beats_per_bar=beats_per_bar(args.meter) if args.meter else None,
                          key_knob=not args.no_key_knob)
    music = evaluate_music(generator, str(corpus), cfg, sampling, sample_rate_hz, split=split, request=request, log=log)
    music["music_request"] = ("clock, key knob on Auto" if args.no_key_knob else "clock") if clocked else "prompt"
    return music


def _command(args: argparse.Namespace, model: Path) -> str:
    """The command line that reproduces this evaluation (recorded in the result, quoted in the card)."""
    parts = ["lmd eval --model", str(model)]
    for flag, value in (("--corpus", args.corpus), ("--split", args.split if args.split != "test" else None),
                        ("--sampler", args.sampler),
                        ("--steps", args.steps), ("--guidance", args.guidance), ("--seconds", args.seconds),
                        ("--drift-seconds", args.drift_seconds), ("--drift-streams", args.drift_streams),
                        ("--threads", args.threads)):
        if value is not None:
            parts += [flag, str(value)]
    for flag, value in (("--music-items", args.music_items), ("--bpm", args.bpm), ("--meter", args.meter),
                        ("--key", f'"{args.key}"' if args.key else None)):
        if value is not None:
            parts += [flag, str(value)]
    if args.jam:
        parts += ["--jam", "--jam-lookahead-s", str(args.jam_lookahead_s)]
        parts += ["--jam-items", str(args.jam_items)] if args.jam_items is not None else []
    if args.delay:
        parts += ["--delay", "--delay-s", str(args.delay_s)]
        parts += ["--delay-items", str(args.delay_items)] if args.delay_items is not None else []
    parts += [f for f, on in (("--quick", args.quick), ("--bf16", args.bf16), ("--no-music", args.no_music),
                              ("--music-only", args.music_only), ("--no-key-knob", args.no_key_knob)) if on]
    return " ".join(parts)


def _load_or_run(args: argparse.Namespace, path: Path, log) -> dict:  # noqa: ANN001
    if path.is_dir() and (path / "eval.json").is_file() and not (path / "dit.safetensors").is_file():
        path = path / "eval.json"  # an --out folder of an earlier run
    if path.is_file():
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a readable eval JSON ({exc})") from None
        return with_segment_fd_drift(result)
    return evaluate_folder(args, path, log)


def with_segment_fd_drift(result: dict) -> dict:
    """Results saved before the segment-FD drift keys existed carry the segments in their meta: derive the
    keys from them (the same computation a fresh run does), so old and new results compare side by side."""
    from lmd_studio.training.eval.metrics import segment_fd_drift

    segments = result.get("meta", {}).get("drift_segments")
    if "drift_fd_slope" not in result and segments:
        result.update(segment_fd_drift(segments))
    return result


def _save(result: dict, out: Path, args: argparse.Namespace) -> list[Path]:
    from lmd_studio.training.eval.plots import plot_all

    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(_clean(result), indent=2) + "\n", encoding="utf-8")
    return plot_all(result, out)


def run(args: argparse.Namespace) -> int:
    from lmd_studio.model.checkpoint import CheckpointError
    from lmd_studio.training.eval.report import (
        card_section,
        compare_markdown,
        compare_table,
        result_table,
        update_card_section,
    )

    if args.threads < 1:
        return _fail("--threads must be >= 1")
    bad_music = _music_arg_error(args)
    if bad_music:
        return _fail(bad_music)
    log = (lambda m: print(m, file=sys.stderr, flush=True)) if args.json else (lambda m: print(m, flush=True))
    try:
        if args.compare:
            a, b = (_load_or_run(args, p, log) for p in args.compare)
            if args.out:
                from lmd_studio.training.eval.plots import plot_compare_drift

                for name, r in (("A", a), ("B", b)):
                    if "series" in r:
                        _save(r, args.out / name, args)
                if "series" in a and "series" in b:
                    plot_compare_drift(a, b, args.out / "compare_drift.png")
            print(json.dumps(_clean({"A": _strip(a), "B": _strip(b)}), indent=2) if args.json else compare_table(a, b))
            return 0
        result = _load_or_run(args, args.from_result, log) if args.from_result else evaluate_folder(args, args.model, log)
        out = args.out or (args.model / "eval" if args.card else None)
        plots = _save(result, out, args) if out else []
        if args.card:
            import shutil

            folder = args.model / "eval"
            folder.mkdir(parents=True, exist_ok=True)
            rel = []
            for p in plots:
                if p.parent.resolve() != folder.resolve():
                    shutil.copy(p, folder / p.name)
                rel.append(f"eval/{p.name}")
            extra = ""
            if args.card_compare:
                others = [_load_or_run(args, p, log) for p in args.card_compare]
                extra = ("\n### Stages and step counts\n\nThe same evaluation (same clips, streams and seeds) "
                         "of this model and of saved results:\n\n" + compare_markdown([result, *others]) + "\n")
            if args.card_note:
                extra += "\n" + args.card_note.read_text(encoding="utf-8").strip() + "\n"
            command = result["meta"].get("command") or _command(args, args.model)
            update_card_section(args.model / "MODEL_CARD.md", card_section(result, command, rel, extra))
        print(json.dumps(_clean(_strip(result)), indent=2) if args.json else result_table(result))
        return 0
    except (ValueError, CheckpointError, RuntimeError, OSError) as exc:
        return _fail(str(exc))


def _strip(result: dict) -> dict:
    """The result without the plotted series (what --json prints)."""
    return {k: v for k, v in result.items() if k not in ("series", "music_series", "jam_series", "delay_series")}
