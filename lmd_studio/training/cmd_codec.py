"""`lmd codec eval`: score a codec file on a corpus split (JSON with --json, spectrogram PNGs with --png-dir)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_CODEC = Path("models/default/codec.safetensors")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="codec_command", metavar="ACTION", required=True)
    e = sub.add_parser("eval", help="LSD, multi-resolution STFT, mel L1, seams, RTF (codec and oracle phase)")
    e.add_argument("--codec", type=Path, default=DEFAULT_CODEC, help="codec .safetensors file")
    e.add_argument("--corpus", type=Path, required=True, help="corpus folder from `lmd data build`")
    e.add_argument("--split", default="test", choices=("train", "val", "test"))
    e.add_argument("--items", type=int, default=24, help="items to evaluate (round-robin over source kinds)")
    e.add_argument("--seconds", type=float, default=6.0, help="seconds per item")
    e.add_argument("--block", type=int, default=16, help="latent frames per decode block")
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--gl-iters", type=int, default=None, help="override the codec's Griffin-Lim iterations")
    e.add_argument("--png-dir", type=Path, default=None, help="write original/oracle/codec spectrograms here")
    e.add_argument("--json", action="store_true", help="print JSON")
    x = sub.add_parser("export", help="copy a codec file to a release folder, optionally changing decode settings")
    x.add_argument("--codec", type=Path, required=True, help="source .safetensors (e.g. RUN/codec.safetensors)")
    x.add_argument("--out", type=Path, required=True, help="destination, e.g. models/default/codec.safetensors")
    x.add_argument("--gl-iters", type=int, default=None, help="Griffin-Lim iterations per chunk at decode time")


def _export(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from lmd_studio.model.checkpoint import read_metadata
    from lmd_studio.model.codec import load_codec, save_codec

    codec = load_codec(args.codec)
    if args.gl_iters is not None:
        codec.net.cfg = replace(codec.net.cfg, gl_iters=args.gl_iters)
    keep = {k: v for k, v in read_metadata(args.codec).items() if k not in ("format", "format_version", "config")}
    save_codec(args.out, codec.net, extra=keep)
    print(f"exported {args.out} (gl_iters {codec.net.cfg.gl_iters})")
    return 0


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from lmd_studio.model.checkpoint import CheckpointError
    from lmd_studio.model.codec import SpectralCodec, load_codec
    from lmd_studio.training.codec_eval import CodecEvalConfig, evaluate_codec

    if args.codec_command == "export":
        try:
            return _export(args)
        except (CheckpointError, ValueError) as exc:
            print(f"lmd codec export: {exc}", file=sys.stderr)
            return 2
    try:
        codec = load_codec(args.codec)
        if args.gl_iters is not None:
            net = codec.net
            net.cfg = replace(net.cfg, gl_iters=args.gl_iters)
            codec = SpectralCodec(net)
        cfg = CodecEvalConfig(split=args.split, max_items=args.items, seconds=args.seconds,
                              block_latent_frames=args.block, threads=args.threads)
        res = evaluate_codec(codec, args.corpus, cfg, png_dir=args.png_dir)
    except (CheckpointError, ValueError) as exc:
        print(f"lmd codec eval: {exc}", file=sys.stderr)
        return 2
    res["codec"] = str(args.codec)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"codec {args.codec} on {res['items']} {res['split']} items ({res['seconds']} s):")
        for k in ("lsd_db", "mrstft", "mel_l1", "seam", "magnitude_lsd_db", "oracle_lsd_db", "oracle_seam",
                  "encode_rtf", "decode_rtf", "stream_offline_max_abs"):
            v = res.get(k)
            print(f"  {k:24s} {'n/a' if v is None else f'{v:.4f}'}")
    return 0
