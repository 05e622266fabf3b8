"""Text views of evaluation results: the side-by-side comparison and the model card's Evaluation section."""

from __future__ import annotations

import math
import re
from pathlib import Path

# key, label, which way is better ("low", "high", "abs" = nearer 0, "one" = nearer 1, None = reference)
ROWS: tuple[tuple[str, str, str | None], ...] = (
    ("fd_dsp", "FD, DSP descriptor", "low"),
    ("fd_dsp_floor", "  floor (real A vs real B)", None),
    ("fd_dsp_ceiling", "  ceiling (pink noise)", None),
    ("fd_dsp_rel", "  position (0 floor, 1 ceiling)", "low"),
    ("fd_emb", "FD, audio-text embedding", "low"),
    ("fd_emb_floor", "  floor (real A vs real B)", None),
    ("fd_emb_ceiling", "  ceiling (pink noise)", None),
    ("fd_emb_rel", "  position (0 floor, 1 ceiling)", "low"),
    ("prompt_score", "prompt score (own prompt)", "high"),
    ("prompt_score_wrong", "  with a wrong prompt", None),
    ("prompt_win_rate", "  own > wrong (fraction)", "high"),
    ("prompt_score_real", "  real audio: own prompt", None),
    ("prompt_score_real_wrong", "  real audio: wrong prompt", None),
    ("drift_fd_slope", "drift: segment FD slope /min", "low"),
    ("drift_fd_start", "  segment FD, first segment", None),
    ("drift_fd_end", "  segment FD, last segment", "low"),
    ("drift_slope", "drift: DSP distance slope /min", "abs"),
    ("drift_level_start", "  DSP distance, first segment", None),
    ("drift_level_end", "  DSP distance, last segment", "low"),
    ("drift_level_real", "  DSP distance of real audio", None),
    ("drift_prompt_slope", "  prompt cosine slope /min", None),
    ("drift_rms_slope_db", "  RMS slope dB/min", "abs"),
    ("loudness_corr", "loudness knob correlation", "high"),
    ("loudness_best_lag_blocks", "  best lag (blocks; > 0: audio follows late)", None),
    ("loudness_corr_best_lag", "  r at that lag", "high"),
    ("brightness_corr", "brightness knob correlation", "high"),
    ("density_corr", "density knob correlation", "high"),
    ("level_db_gap", "level vs real clips, same prompts (dB)", None),
    ("drift_fd_slope_10min", "drift over 10-min streams: FD slope /min", "low"),
    ("onsets_per_s", "onsets per second (clips)", None),
    ("onsets_per_s_real", "  real audio", None),
    ("silent_fraction", "silent windows (RMS < -60 dB)", "low"),
    ("silent_fraction_real", "  real audio", None),
    ("seam", "seam ratio (1 = seamless)", "one"),
    ("seam_real", "  real audio at the same block length", None),
    ("rtf", "RTF (block time / block length)", "low"),
    ("first_audio_s", "first audio (s)", "low"),
    ("tempo_within_2pct", "tempo within ±2 % (no half/double)", "high"),
    ("tempo_within_2pct_real", "  real clips, same detector", None),
    ("tempo_octave_errors", "  half/double/⅔/1.5× tempo", "low"),
    ("tempo_follow_bars", "bars to follow a tempo change", "low"),
    ("tempo_follow_locked", "  streams that locked at all", "high"),
    ("beat_offset_ms_median", "onset to 16th grid, median ms", "low"),
    ("beat_offset_ms_median_real", "  real clips", None),
    ("key_accuracy", "key accuracy (chroma key = asked)", "high"),
    ("key_accuracy_real", "  real clips, same detector", None),
    ("key_relative_rate", "  relative key instead", None),
    ("harmony_change_rate", "harmony change per bar (chroma)", None),
    ("harmony_change_rate_real", "  real clips", None),
    ("chord_follow_rate", "held chords played (one a bar)", "high"),
    ("chord_follow_rate_unheld", "  key alone, no chord held", None),
    ("progression_follow_rate", "progression knob's chords played", "high"),
    ("harmony_change_rate_progression", "  harmony change with the progression", None),
    ("jam_tempo_within_2pct", "jam: tempo within ±2 % over a drum partner", "high"),
    ("jam_tempo_within_2pct_partner_zeroed", "  partner zeroed", None),
    ("jam_beat_offset_ms", "jam: onsets to the partner's 16th grid, ms", "low"),
    ("jam_beat_offset_ms_partner_zeroed", "  partner zeroed", None),
    ("jam_beat_offset_ms_real", "  real other stem", None),
    ("jam_key_accuracy", "jam: key over a melody partner", "high"),
    ("jam_key_accuracy_partner_zeroed", "  partner zeroed", None),
    ("jam_key_accuracy_real", "  real other stem", None),
    ("delay_error_ms", "delay: measured − set delay, median ms", "low"),
    ("delay_within_20ms", "  answers within ±20 ms", "high"),
    ("delay_onset_corr", "delay: onset correlation with the input", "high"),
    ("delay_onset_corr_shuffled", "  against a shuffled input", None),
)


def _fmt(v: object) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def _better(a: object, b: object, way: str | None) -> str:
    if way is None or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return ""
    if math.isnan(a) or math.isnan(b) or a == b:
        return ""
    score = {"low": lambda x: -x, "high": lambda x: x, "abs": lambda x: -abs(x), "one": lambda x: -abs(x - 1)}[way]
    return "A" if score(a) > score(b) else "B"


def _setting(r: dict) -> str:
    m = r.get("meta", {})
    sampler = f"{m['sampler']} " if m.get("sampler") else ""
    return f"{m.get('model', '?')} ({sampler}steps {m.get('steps') or 'default'}, guidance {m.get('guidance') or 1})"


def compare_table(a: dict, b: dict) -> str:
    lines = [f"A: {_setting(a)}", f"B: {_setting(b)}", "",
             f"{'metric':<38}{'A':>12}{'B':>12}  better"]
    for key, label, way in ROWS:
        if key in a or key in b:
            va, vb = a.get(key), b.get(key)
            lines.append(f"{label:<38}{_fmt(va):>12}{_fmt(vb):>12}  {_better(va, vb, way)}")
    return "\n".join(lines)


def result_table(r: dict) -> str:
    lines = [f"{_setting(r)}", ""]
    lines += [f"{label:<38}{_fmt(r.get(key)):>12}" for key, label, _ in ROWS if key in r]
    return "\n".join(lines)


COMPARE_KEYS = ("fd_dsp", "fd_dsp_rel", "fd_emb", "fd_emb_rel", "prompt_score", "prompt_score_wrong",
                "prompt_win_rate", "drift_fd_slope", "drift_fd_start", "drift_fd_end", "drift_slope",
                "drift_level_start", "drift_level_end", "drift_rms_slope_db", "loudness_corr",
                "brightness_corr", "density_corr", "level_db_gap", "drift_fd_slope_10min", "silent_fraction",
                "seam", "rtf",
                "tempo_within_2pct", "beat_offset_ms_median", "key_accuracy", "harmony_change_rate",
                "chord_follow_rate", "progression_follow_rate")


def compare_markdown(results: list[dict]) -> str:
    """A markdown table of several saved results (e.g. the LMDM stage at 8 steps vs ARC at 2 and 4)."""
    labels = {k: _label(label) for k, label, _ in ROWS}
    head = "| metric | " + " | ".join(_setting(r) for r in results) + " |"
    rule = "|---|" + "---:|" * len(results)
    rows = [f"| {labels[k]} | " + " | ".join(_fmt(r.get(k)) for r in results) + " |" for k in COMPARE_KEYS]
    return "\n".join([head, rule, *rows])


def _label(label: str) -> str:
    """Table label: an indented (reference) row reads as belonging to the row above."""
    return f"↳ {label.strip()}" if label.startswith("  ") else label


def target_checks(r: dict) -> list[str]:
    """The issue's quality targets that one result can decide, each marked met / not met."""
    def mark(ok: bool) -> str:
        return "met" if ok else "**not met**"

    def num(key: str) -> float:
        v = r.get(key)
        return math.nan if v is None else float(v)

    lines = []
    for space, name in (("dsp", "DSP"), ("emb", "embedding")):
        rel = num(f"fd_{space}_rel")
        lines.append(f"- FD ({name}) closer to the floor than to the ceiling (position < 0.5): {rel:.2f} → "
                     f"{mark(rel < 0.5)}")
    score, wrong, win = num("prompt_score"), num("prompt_score_wrong"), num("prompt_win_rate")
    lines.append(f"- prompt adherence above the wrong-prompt baseline: {score:.3f} vs {wrong:.3f}, own prompt closer "
                 f"in {100 * win:.0f}% of windows → {mark(score > wrong and win > 0.5)}")
    loud = num("loudness_corr")
    lines.append(f"- loudness control correlation ≥ 0.8: {loud:.2f} → {mark(loud >= 0.8)}")
    if "density_corr" in r:
        dens = num("density_corr")
        lines.append(f"- density control correlation ≥ 0.6: {dens:.2f} → {mark(dens >= 0.6)}")
    if "level_db_gap" in r:
        gap = num("level_db_gap")
        lines.append(f"- level within 3 dB of the real clips for the same prompts: {gap:+.1f} dB "
                     f"({num('level_db_median'):.1f} vs {num('level_db_median_real'):.1f} dBFS) → "
                     f"{mark(abs(gap) <= 3.0)}")
    if "drift_fd_slope_10min" in r:
        slope = num("drift_fd_slope_10min")
        lines.append(f"- segment-FD drift slope ≤ 0 over 10-minute streams: {slope:+.2f} /min → {mark(slope <= 0.0)}")
    if "tempo_within_2pct" in r:
        tempo, key = num("tempo_within_2pct"), num("key_accuracy")
        off, off_real = num("beat_offset_ms_median"), num("beat_offset_ms_median_real")
        rate, rate_real = num("harmony_change_rate"), num("harmony_change_rate_real")
        lines.append(f"- tempo within ±2 % in ≥ 90 % of renders: {100 * tempo:.0f} % (real clips "
                     f"{100 * num('tempo_within_2pct_real'):.0f} %) → {mark(tempo >= 0.9)}")
        lines.append(f"- onsets on the 16th grid, median ≤ 20 ms: {off:.1f} ms (real {off_real:.1f}) → "
                     f"{mark(off <= 20.0)}")
        lines.append(f"- key accuracy ≥ 80 %: {100 * key:.0f} % (real clips {100 * num('key_accuracy_real'):.0f} %) → "
                     f"{mark(key >= 0.8)}")
        within = abs(rate / rate_real - 1.0) <= 0.25 if rate_real > 0 else False
        lines.append(f"- harmony change rate within 25 % of real: {rate:.4f} vs {rate_real:.4f} → {mark(within)}")
    if "jam_tempo_within_2pct" in r:
        jt, jo, jz, jk = (num("jam_tempo_within_2pct"), num("jam_beat_offset_ms"),
                          num("jam_beat_offset_ms_partner_zeroed"), num("jam_key_accuracy"))
        lines.append(f"- jam: tempo within ±2 % over a drum partner in ≥ 85 %: {100 * jt:.0f} % → {mark(jt >= 0.85)}")
        lines.append(f"- jam: onsets to the partner's grid ≤ 30 ms and clearly worse zeroed: {jo:.1f} ms vs "
                     f"{jz:.1f} ms zeroed → {mark(jo <= 30.0 and jz > 1.5 * jo)}")
        lines.append(f"- jam: key over a melody partner ≥ 75 %: {100 * jk:.0f} % → {mark(jk >= 0.75)}")
    if "delay_error_ms" in r:
        de, dc, ds = num("delay_error_ms"), num("delay_onset_corr"), num("delay_onset_corr_shuffled")
        lines.append(f"- delay: measured within ±20 ms of the set delay: {de:.1f} ms median → {mark(de <= 20.0)}")
        lines.append(f"- delay: onsets follow the input, clearly above a shuffled input: {dc:.3f} vs {ds:.3f} → "
                     f"{mark(dc > ds + 0.1)}")
    return lines


def card_section(r: dict, command: str, plots: list[str], extra: str = "") -> str:
    """The Evaluation section of a model card (markdown, written at level 2; re-levelled when inserted)."""
    m = r["meta"]
    rows = "\n".join(f"| {_label(label)} | {_fmt(r.get(key))} |" for key, label, _ in ROWS if key in r)
    images = "\n".join(f"![{Path(p).stem}]({p})" for p in plots)
    half_a, half_b = m["windows_per_half"]
    checks = "\n".join(target_checks(r))
    return f"""## Evaluation

Measured with `{command}` on the corpus's held-out **{m['config']['split']}** split.
{m['clips']} clips (first {m['config']['max_s']:g} s of each) give {m['windows']} analysis windows of {m['window_s']:g} s \
(hop {m['hop_s']:g} s), in two halves of {half_a} and {half_b} windows that share no source.
Sampling: {m.get('sampler') or 'the model default sampler'}, {m['steps'] or 'default'} steps, guidance \
{m['guidance'] or 1} (1 = no classifier-free guidance).

- **FD** in two spaces: a fixed DSP descriptor (MFCC, spectral contrast, chroma, onset/tempo statistics,
  z-scored with training-split statistics) and our own contrastive audio–text encoder (`models/eval/`),
  each in its {int(m.get('fd_dims', 1)) - 1} leading principal directions of training windows plus the residual norm
  (see `models/eval/MODEL_CARD.md`).
  Model = mean of FD(generated for half A's prompts, real B) and FD(generated for B, real A); floor =
  FD(real A, real B); ceiling = the same with {m['ceiling_reference']}. Position 0 = floor, 1 = ceiling.
- **Prompt adherence**: cosine between a generated window and its own prompt vs another clip's prompt in
  the audio–text space (real audio's values for scale).
- **Drift**: {len(m['drift_prompts'])} streams of {m['config']['drift_s']:g} s, each started from an empty context
  with a test prompt. Segment FD: the DSP-space FD of all streams' windows pooled per
  {m['config']['drift_segment_s']:g}-s segment against the real test windows (the paper's error-accumulation
  view); DSP distance: per window the mean squared z-score of the DSP descriptor (≈ 1 for typical training
  audio). Slopes by least squares, per minute.
- **Controls**: knob curves requested per block (two sine cycles, 0.15–0.85) vs measured per block
  (K-weighted loudness dB, log2 spectral centroid, onsets/s): Pearson r.
- **Seams**: spectral flux across block boundaries ÷ inside blocks, on the drift streams louder than
  {m.get('silence_db', -60):g} dB RMS ({m.get('seam_streams_used', '?')} of {len(m['drift_prompts'])}). **Silent windows**: share of
  analysis windows under that level.
- **Speed**: median block time ÷ block length once the context is full; first audio = a fresh stream with a
  new prompt (median of 3). Measured inside the evaluation on a shared machine (load average
  {m['load_avg_1m']:.2f}): see `lmd bench model` for the controlled measurement.

Against the issue's targets:
{checks}

| metric | value |
|---|---:|
{rows}

{images}
{extra}"""


def update_card_section(card: str | Path, section: str) -> Path:
    """Replace the card's Evaluation section, or append one.

    The section may sit at any heading level (`## Evaluation` or, inside a model's own section,
    `### Evaluation`): it runs to the next heading of the same or a higher level, and `section` (written at
    level 2) is re-levelled to match, so the rest of the card is left exactly as it was."""
    path = Path(card)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    found = re.search(r"^(#{2,4}) Evaluation\b", text, re.M)
    if found is None:
        path.write_text((text.rstrip() + "\n\n" if text.strip() else "") + section.rstrip() + "\n",
                        encoding="utf-8")
        return path
    level = len(found.group(1))
    body = re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + level - 2) + " ", section.rstrip(), flags=re.M)
    nxt = re.compile(rf"^#{{1,{level}}} ", re.M).search(text, found.end())
    end = nxt.start() if nxt else len(text)
    path.write_text(text[:found.start()] + body + "\n\n" + text[end:].lstrip("\n") if nxt else
                    text[:found.start()] + body + "\n", encoding="utf-8")
    return path
