"""`lmd model export --run RUN --name NAME`: a training run → the release folder `models/<NAME>/`.

    lmd model export --run /work/runs/train-arc --name default

Writes `dit.safetensors` (weights + DiT/generator config + training provenance in the metadata),
`codec.safetensors` (kept if the folder has one, else the codec the run's latents were encoded with) and a
`MODEL_CARD.md` section filled from the runs' summaries and the corpus report (other sections of an existing
card, such as the codec's, are kept; a previous DiT section is replaced). The codec must be the one
the DiT was trained with, or one trained to keep its latent space (`teacher_codec`): its latent-space
fingerprint is checked against the latents'. Nothing in `models/` is a pickle. `--checkpoint last|best` takes
the weights of that training checkpoint instead of the run's export (training/checkpoint_weights.py), to
listen to and measure a stage that is still training.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("export", help="turn a training run into models/<name>/")
    p.add_argument("--run", type=Path, required=True, help="run folder of the last stage (has model.safetensors)")
    p.add_argument("--name", required=True, help="model name (folder under --models-dir)")
    p.add_argument("--models-dir", type=Path, default=Path("models"))
    p.add_argument("--codec", type=Path, default=None, help="codec file (default: keep the folder's, else the "
                                                           "one the latents were encoded with)")
    p.add_argument("--force", action="store_true", help="export even if the codec fingerprint does not match")
    p.add_argument("--checkpoint", choices=("export", "last", "best"), default="export",
                   help="which weights: the run's model.safetensors (default), or its last/best training "
                        "checkpoint (a look at a stage still training; the card says which step)")
    note = p.add_mutually_exclusive_group()
    note.add_argument("--note", default="", help="a paragraph for the card's training section (e.g. why this stage)")
    note.add_argument("--note-file", type=Path, default=None, metavar="FILE",
                      help="the same, read from a markdown file (for notes longer than a shell line)")


def export_model(run: Path, name: str, models_dir: Path, codec: Path | None = None, force: bool = False,
                 note: str = "", checkpoint: str = "export") -> Path:
    from lmd_studio.model.checkpoint import CheckpointError
    from lmd_studio.model.codec import load_codec
    from lmd_studio.model.model_io import CODEC_FILE, DIT_FILE, save_dit
    from lmd_studio.training.checkpoint_weights import stage_weights
    from lmd_studio.training.latents import latent_space_fingerprint
    from lmd_studio.training.model_card import corpus_report, merge_card, render_card, stage_chain
    from lmd_studio.training.runner import load_init

    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"bad model name {name!r}")
    picked: dict[str, str] = {}
    if checkpoint == "export":
        dit, generator, stage_file = load_init(run)
    else:
        dit, generator, stage_file, step = stage_weights(run, checkpoint)
        picked = {"checkpoint": f"{checkpoint} (step {step})"}
        note = (f"Weights from the run's {checkpoint} training checkpoint, step {step} — a look at a stage still "
                f"training, not its chosen export. " + note).strip()
    chain = stage_chain(run)
    if not chain:
        raise ValueError(f"{run}: no summary.json; is this a finished `lmd train base|lmdm|arc` run?")
    latents = Path(chain[-1]["latents"]) if chain[-1].get("latents") else None
    corpus = corpus_report(latents)
    out = models_dir / name
    out.mkdir(parents=True, exist_ok=True)
    codec_src = codec or (out / CODEC_FILE if (out / CODEC_FILE).is_file() else None)
    if codec_src is None and latents is not None:
        codec_src = Path(json.loads((latents / "latents.json").read_text(encoding="utf-8"))["codec_path"])
    if codec_src is None or not codec_src.is_file():
        raise CheckpointError(f"no codec file for {out} (pass --codec)")
    codec_obj = load_codec(codec_src)  # validates the file
    trained_with = corpus.get("codec_fingerprint")
    space = latent_space_fingerprint(codec_src) if trained_with else None
    if trained_with and space != trained_with and not force:
        raise CheckpointError(f"{codec_src}: latent space {space} is not that of the codec the DiT was trained "
                              f"with ({trained_with}); re-encode and retrain, or pass --force")
    if codec_src.resolve() != (out / CODEC_FILE).resolve():
        (out / CODEC_FILE).unlink(missing_ok=True)  # a new file, with a new file's mode: not the source's
        shutil.copyfile(codec_src, out / CODEC_FILE)  # (shutil.copy would keep a run folder's 0600)
    provenance = {"stages": json.dumps([{k: s.get(k) for k in ("stage", "steps", "status", "wall_s")} for s in chain]),
                  "source_run": str(run), **picked}
    save_dit(out / DIT_FILE, dit, generator, extra=provenance)
    sizes = {f.name: f.stat().st_size for f in (out / DIT_FILE, out / CODEC_FILE)}
    examples_file = out / "examples" / "prompts.json"
    examples = json.loads(examples_file.read_text(encoding="utf-8")) if examples_file.is_file() else None
    card = render_card(name, dit.cfg.to_dict(), {"mode": generator.mode, "sampler": generator.sampler,
                                                  "default_steps": generator.default_steps},
                       sum(p.numel() for p in dit.parameters()), sizes, chain, corpus, codec_obj.cfg.to_dict(),
                       note, examples)
    card_path = out / "MODEL_CARD.md"
    existing = card_path.read_text(encoding="utf-8") if card_path.is_file() else None
    card_path.write_text(merge_card(existing, card, name), encoding="utf-8")
    (out / "training.json").write_text(json.dumps(chain, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"exported {stage_file} → {out} ({', '.join(f'{k} {v / 1e6:.1f} MB' for k, v in sizes.items())})")
    return out


def run(args: argparse.Namespace) -> int:
    from lmd_studio.model.checkpoint import CheckpointError

    try:
        note = args.note_file.read_text(encoding="utf-8").strip() if args.note_file else args.note
        export_model(args.run, args.name, args.models_dir, args.codec, args.force, note, args.checkpoint)
    except (ValueError, CheckpointError, OSError) as exc:
        print(f"lmd model export: {exc}", file=sys.stderr)
        return 2
    return 0
