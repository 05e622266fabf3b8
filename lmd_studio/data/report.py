"""The build report: hours per source kind, licence and split, what was skipped and why, what was excluded.

Written as report.json (for tools and model cards) and report.md (for people) after every build run, from
the manifest and skip log alone, so it is always consistent with what is on disk.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from lmd_studio.data.manifest import ManifestItem
from lmd_studio.data.splits import SPLITS, check_no_leakage


def read_skips(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # an interrupted append: the job simply runs again
    return out


def _hours(items: list[ManifestItem]) -> float:
    return round(sum(it.duration_s for it in items) / 3600.0, 4)


def build_report(items: list[ManifestItem], skips: list[dict], meta: dict) -> dict:
    by_kind: dict[str, list[ManifestItem]] = defaultdict(list)
    by_licence: dict[str, list[ManifestItem]] = defaultdict(list)
    by_split: dict[str, list[ManifestItem]] = defaultdict(list)
    for it in items:
        by_kind[it.kind].append(it)
        by_split[it.split].append(it)
        for lic in it.licences:
            by_licence[lic].append(it)
    produced: dict[str, dict] = {}
    for it in by_kind.get("produced", []):
        row = produced.setdefault(it.render.get("package", "?"), {"items": 0, "hours": 0.0, "exact_grid": 0,
                                                                 "tempo_estimated": 0, "licences": []})
        row["items"] += 1
        row["hours"] += it.duration_s / 3600.0
        row["exact_grid"] += not it.render.get("tempo_estimated", True)
        row["tempo_estimated"] += bool(it.render.get("tempo_estimated")) and it.bpm is not None
        row["licences"] = sorted(set(row["licences"]) | set(it.licences))
    for row in produced.values():
        row["hours"] = round(row["hours"], 4)
    reasons = Counter(s["reason"].split(":")[0] for s in skips)
    leaks = check_no_leakage((it.id, it.split, it.groups) for it in items)
    return {
        **meta,
        "items": len(items),
        "hours": _hours(items),
        "hours_by_source": {k: _hours(v) for k, v in sorted(by_kind.items())},
        "items_by_source": {k: len(v) for k, v in sorted(by_kind.items())},
        "hours_by_licence": {k: _hours(v) for k, v in sorted(by_licence.items())},
        "hours_by_split": {s: _hours(by_split.get(s, [])) for s in SPLITS},
        "items_by_split": {s: len(by_split.get(s, [])) for s in SPLITS},
        "hours_commercial_ok": _hours([it for it in items if it.commercial_ok]),
        "hours_noncommercial": _hours([it for it in items if not it.commercial_ok]),
        "items_with_notes": sum(it.has_notes for it in items),
        "produced_by_package": dict(sorted(produced.items())),
        "skipped": len(skips),
        "skipped_by_reason": dict(reasons.most_common()),
        "skipped_items": skips,
        "split_leaks": leaks,
    }


def render_markdown(rep: dict) -> str:
    lines = [f"# Corpus build report ({rep.get('size')}, seed {rep.get('seed')})", "",
             f"- items: {rep['items']}, audio: {rep['hours']:.3f} h "
             f"(commercial-use OK {rep['hours_commercial_ok']:.3f} h, non-commercial {rep['hours_noncommercial']:.3f} h)",
             f"- build time: {rep.get('build_seconds', 0):.0f} s on {rep.get('workers')} workers",
             f"- non-commercial sources included: {rep.get('include_noncommercial')}",
             f"- split leaks: {len(rep['split_leaks'])}", "", "## Hours per source", "",
             "| source | items | hours |", "|---|---:|---:|"]
    for k, h in rep["hours_by_source"].items():
        lines.append(f"| {k} | {rep['items_by_source'][k]} | {h:.3f} |")
    lines += ["", "## Hours per licence (an item counts under every licence it carries)", "",
              "| licence | hours |", "|---|---:|"]
    lines += [f"| {k} | {h:.3f} |" for k, h in rep["hours_by_licence"].items()]
    lines += ["", "## Splits", "", "| split | items | hours |", "|---|---:|---:|"]
    lines += [f"| {s} | {rep['items_by_split'][s]} | {rep['hours_by_split'][s]:.3f} |" for s in SPLITS]
    if rep.get("produced_by_package"):
        lines += ["", "## Produced recordings (exact grid: from the song's MIDI chart; estimated tempo: kept only "
                      "when the clip and its context agree)", "",
                  "| package | items | hours | exact grid | estimated tempo | licences |", "|---|---:|---:|---:|---:|---|"]
        lines += [f"| {k} | {r['items']} | {r['hours']:.3f} | {r['exact_grid']} | {r['tempo_estimated']} | "
                  f"{', '.join(r['licences'])} |" for k, r in rep["produced_by_package"].items()]
    excluded = rep.get("excluded_sources") or {}
    lines += ["", "## Sources excluded by licence", ""]
    lines += [f"- {k}: {v} sources" for k, v in excluded.items()] or ["- none"]
    lines += ["", f"## Skipped ({rep['skipped']})", ""]
    for s in rep["skipped_items"]:
        lines.append(f"- `{s['id']}` ({s.get('file') or 'no file'}): {s['reason']}")
    if not rep["skipped_items"]:
        lines.append("- none")
    return "\n".join(lines) + "\n"


def write_report(out_dir: Path, rep: dict) -> None:
    (out_dir / "report.json").write_text(json.dumps(rep, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out_dir / "report.md").write_text(render_markdown(rep), encoding="utf-8")
