"""The MODEL_CARD.md skeleton `lmd model export` writes, filled from the training runs and the corpus report.

Sections that need the evaluation (`lmd eval`) or listening examples are left as clearly marked TODO
blocks for that step to fill; everything this module writes is read from files, never typed by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BEGIN = "<!-- lmd model export: DiT section (regenerated on export) -->"
END = "<!-- end of the DiT section -->"


def stage_chain(run_dir: Path) -> list[dict[str, Any]]:
    """The summaries of this run and the runs it was initialised from (oldest first)."""
    chain: list[dict[str, Any]] = []
    seen: set[Path] = set()
    current: Path | None = Path(run_dir)
    while current is not None and current.resolve() not in seen:
        seen.add(current.resolve())
        summary_path = current / "summary.json"
        if not summary_path.is_file():
            break
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        summary["run_dir"] = str(current)
        chain.append(summary)
        init = summary.get("init")
        current = Path(init).parent if init else None
    return list(reversed(chain))


def corpus_report(latents_dir: Path | None) -> dict[str, Any]:
    """The corpus build report (report.json) of the corpus the latents came from, or what latents.json knows."""
    if latents_dir is None or not (latents_dir / "latents.json").is_file():
        return {}
    meta = json.loads((latents_dir / "latents.json").read_text(encoding="utf-8"))
    report_path = Path(meta.get("corpus", "")) / "report.json"
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.is_file() else {}
    return {"corpus": meta.get("corpus"), "hours_by_licence_train": meta.get("hours_by_licence", {}),
            "codec_fingerprint": meta.get("codec_fingerprint"), **report}


def _encoder_text(chain: list[dict[str, Any]]) -> str:
    name = chain[-1].get("config", {}).get("text_encoder") if chain else None
    return {"minilm": "all-MiniLM-L6-v2 token embeddings", "fake": "hashed test embeddings, not for release"}.get(
        name or "", f"text encoder {name!r}")


def examples_lines(examples: dict[str, dict]) -> list[str]:
    """`examples/prompts.json` ({file: {prompt, command, ...}}) → a list of the renders with their prompts."""
    if not examples:
        return ["TODO: render a few short FLAC examples into `examples/` and describe them in "
                "`examples/prompts.json` ({file: {prompt, command, note}})."]
    return [f"- [`examples/{name}`](examples/{name}) — “{e.get('prompt', '?')}” (`{e.get('command', '')}`)"
            + (f". {e['note']}" if e.get("note") else "")  # what a listener measured or heard in it
            for name, e in sorted(examples.items())]


def _fmt_hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h ({seconds / 60:.0f} min)"


def _hardware_text(chain: list[dict[str, Any]]) -> str:
    """The distinct hardware the stages ran on, e.g. '1× AMD EPYC, 2 threads'."""
    kinds = []
    for s in chain:
        hw = s.get("hardware", {})
        text = f"{hw.get('replicas', 1)}× {hw.get('device_name', '?')}, {hw.get('torch_threads', '?')} threads"
        if text not in kinds:
            kinds.append(text)
    return "; ".join(kinds) or "unknown hardware"


def _corpus_hours_text(corpus: dict[str, Any]) -> str:
    hours = corpus.get("hours") if corpus else None
    return f"{float(hours):.1f} h" if isinstance(hours, (int, float)) else "an unrecorded amount"


def render_card(name: str, dit_cfg: dict, generator: dict, params: int, file_sizes: dict[str, int],
                chain: list[dict[str, Any]], corpus: dict[str, Any], codec_cfg: dict, note: str = "",
                examples: dict[str, dict] | None = None) -> str:
    lines = [BEGIN, f"## Diffusion model (`dit.safetensors`) — {name}", "",
             "A small streaming latent diffusion model (LMDM, METHOD.md) that writes audio block by block on a "
             "laptop CPU. Trained from scratch on this project's own corpus; no pretrained audio model is used.", "",
             "### How it runs", "",
             f"- streaming mode **{generator.get('mode')}**, sampler **{generator.get('sampler')}**, "
             f"default **{generator.get('default_steps')}** steps per block",
             f"- context {dit_cfg['context_frames']} latent frames, blocks of {dit_cfg['block_frames']} frames "
             f"(window chunks {dit_cfg['window_chunks']})",
             f"- codec: {codec_cfg.get('sample_rate_hz')} Hz, {codec_cfg.get('audio_channels')} channel(s), "
             f"hop {codec_cfg.get('hop_frames')} → {codec_cfg.get('latent_channels')} latent channels", "",
             "### Sizes", "",
             f"- DiT: {params / 1e6:.2f} M parameters — d_model {dit_cfg['d_model']}, {dit_cfg['n_layers']} layers, "
             f"{dit_cfg['n_heads']} heads, MLP ×{dit_cfg['mlp_ratio']}, text width {dit_cfg['text_dim']} "
             f"({_encoder_text(chain)})",
             *(f"- `{fname}`: {size / 1e6:.1f} MB" for fname, size in sorted(file_sizes.items())), "",
             "### Training", "",
             "| stage | steps | status | wall clock | hardware | final loss | best monitored value |",
             "|---|---|---|---|---|---|---|"]
    total = 0.0
    for s in chain:
        hw = s.get("hardware", {})
        hw_text = f"{hw.get('replicas', 1)}× {hw.get('device_name', '?')} ({hw.get('torch_threads', '?')} threads)"
        final = s.get("final_loss")
        best = s.get("best_val")
        total += float(s.get("wall_s", 0.0))
        lines.append(f"| {s.get('stage')} | {s.get('steps')} | {s.get('status')} | {_fmt_hours(float(s.get('wall_s', 0)))} "
                     f"| {hw_text} | {'—' if final is None else f'{final:.4f}'} | {'—' if best is None else f'{best:.4f}'} |")
    lines += ["", f"Total training compute for the DiT stages: {_fmt_hours(total)} (the codec's own training is "
              "reported in its run folder).", "",
              "Stage configs (`training/configs/*.json`) as run:", ""]
    for s in chain:
        cfg = {k: v for k, v in s.get("config", {}).items() if k != "model"}
        lines.append(f"- **{s.get('stage')}** (`{s.get('run_dir')}`): " + ", ".join(f"{k}={v}" for k, v in cfg.items()))
    if note:
        lines += ["", note]
    lines += ["", "### Data and licences", ""]
    if corpus:
        lines.append(f"- corpus: `{corpus.get('corpus')}` ({corpus.get('hours', '?')} h, {corpus.get('items', '?')} "
                     f"items; non-commercial material included: {corpus.get('include_noncommercial', False)})")
        for key, title in (("hours_by_source", "hours by source"), ("hours_by_licence", "hours by licence"),
                           ("hours_by_split", "hours by split")):
            if corpus.get(key):
                lines.append(f"- {title}: " + ", ".join(f"{k} {v}" for k, v in corpus[key].items()))
        if corpus.get("excluded_sources"):
            lines.append("- excluded from the build: " + ", ".join(f"{k} ({v})" for k, v in
                                                               corpus["excluded_sources"].items()))
        lines.append(f"- latents encoded with codec fingerprint `{corpus.get('codec_fingerprint')}`")
    else:
        lines.append("- TODO: the corpus report was not found next to the latents.")
    lines += ["", "### Evaluation", "",
              "TODO (`lmd eval --model models/" + name + " --json`): FD in the DSP and contrastive spaces with "
              "the real-vs-real floor and the noise ceiling, prompt adherence, drift over 2-minute streams, "
              "control adherence, seams, RTF and first-audio time, with their plots.", "",
              "### Listening examples", "", *examples_lines(examples or {}), "",
              "### Limitations", "",
              f"- trained for {total / 60:.0f} minutes ({_hardware_text(chain)}) on {_corpus_hours_text(corpus)} "
              "of rendered and sampled audio: expect simple textures rather than songs;",
              "- accompaniment (jam) channels exist in the network but were not trained (no partner stems in "
              "the corpus): leave them empty;",
              "- prompts outside the corpus vocabulary (instruments, styles it never heard) are not understood.", "",
              END]
    return "\n".join(lines)


def merge_card(existing: str | None, section: str, name: str) -> str:
    """Put the DiT section into a card: replace a previous one, else append it; keep everything else
    (the codec's section, evaluation written by other tools)."""
    if not existing:
        return f"# {name} — LMD Studio model card\n\n{section}\n"
    if BEGIN in existing and END in existing:
        head, rest = existing.split(BEGIN, 1)
        old, tail = rest.split(END, 1)
        kept = _subsection(old, "### Evaluation")
        if kept and "TODO" not in kept:  # `lmd eval` wrote its results there: keep them
            section = section.replace(_subsection(section, "### Evaluation"), kept)
        return head + section + tail
    return existing.rstrip("\n") + "\n\n" + section + "\n"


def _subsection(text: str, heading: str) -> str:
    """The block from `heading` up to the next heading of the same or a higher level ('' if absent)."""
    start = text.find(heading)
    if start < 0:
        return ""
    nxt = [i for i in (text.find("\n### ", start + 1), text.find("\n## ", start + 1), text.find("\n<!-- ", start + 1))
           if i >= 0]
    return text[start:min(nxt)] if nxt else text[start:]
