"""`lmd codec eval`: score a codec file on a corpus split (JSON with --json, spectrogram PNGs with --png-dir),
or two side by side with `--compare OLD NEW` (one table; --json / --json-file; --write-audio DIR for FLAC
excerpts). `lmd codec export`: copy a codec file to a release folder. Either codec format (v1 lmd-codec,
v2 lmd-codec2) is accepted everywhere."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_CODEC = Path("models/default/codec.safetensors")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="codec_command", metavar="ACTION", required=True)
    e = sub.add_parser("eval", help="LSD, multi-resolution STFT, mel L1, seams, RTF (codec and oracle phase)")
    e.add_argument("--codec", type=Path, default=DEFAULT_CODEC, help="codec .safetensors file (v1 or v2)")
    e.add_argument("--compare", type=Path, nargs=2, metavar=("OLD", "NEW"), default=None,
                   help="evaluate two codec files on the same items; one table (old / new / oracle / target)")
    e.add_argument("--corpus", type=Path, required=True, help="corpus folder from `lmd data build`")
    e.add_argument("--split", default="test", choices=("train", "val", "test"))
    e.add_argument("--items", type=int, default=24, help="items to evaluate (round-robin over source kinds)")
    e.add_argument("--seconds", type=float, default=6.0, help="seconds per item")
    e.add_argument("--block", type=int, default=16, help="latent frames per decode block")
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--gl-iters", type=int, default=None, help="override the codec's Griffin-Lim iterations")
    e.add_argument("--png-dir", type=Path, default=None,
                   help="write spectrograms here (original/oracle/codec; with --compare original/old/new for "
                        "a few items of each source kind)")
    e.add_argument("--write-audio", type=Path, default=None, metavar="DIR",
                   help="with --compare: write original/old/new excerpts of the pictured items as FLAC")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("--json-file", type=Path, default=None, help="also write the JSON result to this file")
    x = sub.add_parser("export", help="copy a codec file to a release folder, optionally changing decode settings")
    x.add_argument("--codec", type=Path, required=True, help="source .safetensors (e.g. RUN/codec.safetensors)")
    x.add_argument("--out", type=Path, required=True, help="destination, e.g. models/default/codec.safetensors")
    x.add_argument("--gl-iters", type=int, default=None,
                   help="Griffin-Lim iterations per chunk at decode time (v1 codecs only)")


def _export(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from lmd_studio.model.checkpoint import read_metadata
    from lmd_studio.model.codec import SpectralCodec, load_codec, save_codec
    from lmd_studio.model.codec2 import save_codec2

    codec = load_codec(args.codec)
    keep = {k: v for k, v in read_metadata(args.codec).items() if k not in ("format", "format_version", "config")}
    if not isinstance(codec, SpectralCodec):
        if args.gl_iters is not None:
            raise ValueError(f"{args.codec}: --gl-iters applies to v1 codecs only (this one predicts its phase)")
        save_codec2(args.out, codec.net, extra=keep)
        print(f"exported {args.out}")
        return 0
    if args.gl_iters is not None:
        codec.net.cfg = replace(codec.net.cfg, gl_iters=args.gl_iters)
    save_codec(args.out, codec.net, extra=keep)
    print(f"exported {args.out} (gl_iters {codec.net.cfg.gl_iters})")
    return 0


def _with_gl_iters(codec, gl_iters: int | None):  # noqa: ANN001, ANN202 — a LatentCodec
    from dataclasses import replace

    from lmd_studio.model.codec import SpectralCodec

    if gl_iters is None:
        return codec
    if not isinstance(codec, SpectralCodec):
        raise ValueError("--gl-iters applies to v1 codecs only")
    net = codec.net
    net.cfg = replace(net.cfg, gl_iters=gl_iters)
    return SpectralCodec(net)


def _compare(args: argparse.Namespace, cfg) -> dict:  # noqa: ANN001
    from lmd_studio.model.checkpoint import read_metadata
    from lmd_studio.model.codec import load_codec
    from lmd_studio.training.eval.codec_compare import compare_codecs, format_table
    from lmd_studio.training.latents import codec_fingerprint

    old_path, new_path = args.compare
    old, new = _with_gl_iters(load_codec(old_path), args.gl_iters), load_codec(new_path)
    same_space = read_metadata(new_path).get("latent_space") == codec_fingerprint(old_path)  # NEW keeps OLD's space
    res = compare_codecs(old, new, args.corpus, cfg, png_dir=args.png_dir, audio_dir=args.write_audio,
                         same_space=same_space)
    res.update(old_codec=str(old_path), new_codec=str(new_path))
    if not args.json:
        print(format_table(res, str(old_path), str(new_path)))
    return res


def run(args: argparse.Namespace) -> int:
    from lmd_studio.model.checkpoint import CheckpointError
    from lmd_studio.model.codec import load_codec
    from lmd_studio.training.eval.codec import CodecEvalConfig, evaluate_codec

    if args.codec_command == "export":
        try:
            return _export(args)
        except (CheckpointError, ValueError) as exc:
            print(f"lmd codec export: {exc}", file=sys.stderr)
            return 2
    try:
        if args.write_audio is not None and args.compare is None:
            raise ValueError("--write-audio needs --compare OLD NEW")
        cfg = CodecEvalConfig(split=args.split, max_items=args.items, seconds=args.seconds,
                              block_latent_frames=args.block, threads=args.threads)
        if args.compare is not None:
            res = _compare(args, cfg)
        else:
            codec = _with_gl_iters(load_codec(args.codec), args.gl_iters)
            res = evaluate_codec(codec, args.corpus, cfg, png_dir=args.png_dir)
            res["codec"] = str(args.codec)
    except (CheckpointError, ValueError) as exc:
        print(f"lmd codec eval: {exc}", file=sys.stderr)
        return 2
    if args.json_file is not None:
        args.json_file.parent.mkdir(parents=True, exist_ok=True)
        args.json_file.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(res, indent=2))
    elif args.compare is None:
        print(f"codec {args.codec} on {res['items']} {res['split']} items ({res['seconds']} s):")
        for k in ("lsd_db", "mrstft", "mel_l1", "seam", "magnitude_lsd_db", "oracle_lsd_db", "oracle_seam",
                  "encode_cpu_rtf_1thread", "decode_cpu_rtf_1thread", "stream_offline_max_abs"):
            v = res.get(k)
            print(f"  {k:24s} {'n/a' if v is None else f'{v:.4f}'}")
    return 0
