"""PNG plots of an evaluation result (drawn from the JSON alone, so saved results can be re-plotted)."""

from __future__ import annotations

import math
from pathlib import Path

from lmd_studio.training.eval.metrics import segment_fd_curve


def _num(value: object) -> float:
    """Saved results write NaN as null."""
    return math.nan if value is None else float(value)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_fd(result: dict, path: Path) -> Path:
    """Where the model sits between the real-vs-real floor and the noise ceiling, per space."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for ax, space in zip(axes, ("dsp", "emb")):
        names = ("floor (real A vs B)", "model", "ceiling (pink noise)")
        values = [_num(result[f"fd_{space}{k}"]) for k in ("_floor", "", "_ceiling")]
        ax.bar(names, values, color=["#4a8", "#48c", "#c54"])
        ax.set_title(f"FD, {'DSP descriptor' if space == 'dsp' else 'audio–text embedding'}")
        ax.tick_params(axis="x", labelsize=7)
        for i, v in enumerate(values):
            ax.text(i, v, f"{v:.3g}", ha="center", va="bottom", fontsize=8)
    fig.suptitle(result["meta"]["model"], fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_drift(result: dict, path: Path) -> Path:
    """Per-window measures along each long stream, with the real audio's level for the DSP distance."""
    plt = _plt()
    series = result["series"]["drift"]
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    keys = (("dsp_distance", "DSP distance (mean z²)"), ("prompt_sim", "cosine to prompt"), ("rms_db", "RMS dB"))
    for ax, (key, label) in zip(axes, keys):
        for s in series:
            ax.plot(s["t_s"], s[key], alpha=0.5, lw=1, label=s["prompt"][:40])
        t, mean = mean_curve(series, key)  # NaN-free: every window has all three measures
        ax.plot(t, mean, color="k", lw=2, label="mean over streams")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].axhline(_num(result["drift_level_real"]), color="k", ls="--", lw=1, label="real test windows")
    axes[0].set_title(f"drift slope {_num(result['drift_slope']):+.3f} per minute", fontsize=9)
    axes[0].legend(fontsize=6, loc="upper left")
    axes[-1].set_xlabel("stream time (s)")
    fig.suptitle(f"{result['meta']['model']}: drift over long streams", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def mean_curve(series: list[dict], key: str) -> tuple[list[float], list[float]]:
    """Mean over streams at each window time (streams share the window grid)."""
    n = min(len(s[key]) for s in series)
    return series[0]["t_s"][:n], [sum(s[key][i] for s in series) / len(series) for i in range(n)]


def plot_compare_drift(a: dict, b: dict, path: Path) -> Path:
    """Two models along their streams: mean DSP distance per window (left, with the real audio's level) and
    FD of each 30-s segment's pooled windows to the real test windows (right: the paper's drift view)."""
    plt = _plt()
    fig, (ax, ax_fd) = plt.subplots(1, 2, figsize=(11, 3.4))
    for r, colour in ((a, "#48c"), (b, "#c54")):
        name = f"{r['meta']['model']} (steps {r['meta'].get('steps') or 'default'})"
        t, mean = mean_curve(r["series"]["drift"], "dsp_distance")
        ax.plot(t, mean, color=colour, lw=2, label=f"{name}: {_num(r['drift_slope']):+.3f}/min")
        centres, fds = segment_fd_curve(r["meta"].get("drift_segments", []))
        if fds:
            ax_fd.plot(centres, fds, "o-", color=colour, lw=2,
                       label=f"{name}: {_num(r.get('drift_fd_slope', math.nan)):+.2f}/min")
    ax.axhline(_num(a["drift_level_real"]), color="k", ls="--", lw=1, label="real test windows")
    ax.set_xlabel("stream time (s)")
    ax.set_ylabel("DSP distance (mean z²)")
    ax_fd.set_xlabel("segment centre, stream time (s)")
    ax_fd.set_ylabel("FD (DSP) to real test windows")
    ax_fd.set_ylim(bottom=0)
    for axis in (ax, ax_fd):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_controls(result: dict, path: Path) -> Path:
    """Requested knob curve (left axis) against the measured curve (right axis), one panel per stream."""
    plt = _plt()
    series = result["series"]["controls"]
    fig, axes = plt.subplots(len(series), 1, figsize=(8, 1.9 * len(series)), squeeze=False)
    for ax, s in zip(axes[:, 0], series):
        ax.plot(s["requested"], color="#888", label="requested (0..1)")
        ax.set_ylabel(s["control"], fontsize=8)
        twin = ax.twinx()
        twin.plot([math.nan if v is None else v for v in s["measured"]], color="#c54", label="measured")
        twin.set_ylabel(s["units"], fontsize=7)
        ax.set_title(s["prompt"][:70], fontsize=7)
    axes[-1, 0].set_xlabel("block")
    fig.suptitle(f"{result['meta']['model']}: loudness r={_num(result['loudness_corr']):.2f}, brightness "
                 f"r={_num(result['brightness_corr']):.2f}, density r={_num(result['density_corr']):.2f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_music(result: dict, path: Path) -> Path:
    """Three panels: tempo asked vs detected (model and real clips), onset-to-grid histogram, key confusion
    counted as right / relative / other per requested key."""
    plt = _plt()
    ms = result["music_series"]
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(13, 3.8))
    for rows, colour, label in ((ms["rhythm_real"], "#888", "real clips"), (ms["rhythm"], "#c54", "model")):
        a.scatter([r["requested_bpm"] for r in rows], [_num(r["detected_bpm"]) for r in rows], s=18,
                  color=colour, label=label)
    lo, hi = 50.0, 220.0
    for ratio, style in ((1.0, "-"), (0.5, ":"), (2.0, ":")):
        a.plot([lo, hi], [lo * ratio, hi * ratio], style, color="#bbb", lw=0.8)
    a.set_xlim(lo, hi)
    a.set_ylim(lo / 2, hi * 1.2)
    a.set_xlabel("requested bpm")
    a.set_ylabel("detected bpm")
    a.set_title(f"tempo within 2 %: model {100 * _num(result['tempo_within_2pct']):.0f} %, "
                f"real {100 * _num(result['tempo_within_2pct_real']):.0f} %", fontsize=8)
    a.legend(fontsize=7)
    bins = list(range(0, 66, 4))
    for rows, colour, label in ((ms["rhythm_real"], "#888", "real clips"), (ms["rhythm"], "#c54", "model")):
        offsets = [o for r in rows for o in r["offsets_ms"]]
        if offsets:
            b.hist(offsets, bins=bins, density=True, alpha=0.55, color=colour, label=label)
    b.set_xlabel("onset distance to nearest 16th (ms)")
    b.set_title(f"median: model {_num(result['beat_offset_ms_median']):.1f} ms, real "
                f"{_num(result['beat_offset_ms_median_real']):.1f} ms", fontsize=8)
    b.legend(fontsize=7)
    names = ["right key", "relative key", "other"]
    for i, (rows, colour, label) in enumerate(((ms["tonal_real"], "#888", "real clips"), (ms["tonal"], "#c54", "model"))):
        counts = [sum(t["correct"] for t in rows), sum(t["relative"] for t in rows),
                  sum(not t["correct"] and not t["relative"] for t in rows)]
        c.bar([x + 0.38 * i for x in range(3)], counts, width=0.38, color=colour, label=label)
    c.set_xticks([x + 0.19 for x in range(3)], names)
    c.set_ylabel("renders")
    c.set_title(f"key accuracy: model {100 * _num(result['key_accuracy']):.0f} %, real "
                f"{100 * _num(result['key_accuracy_real']):.0f} %", fontsize=8)
    c.legend(fontsize=7)
    fig.suptitle(f"{result['meta']['model']}: musical meters (tempo, grid, key)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_all(result: dict, out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = []
    if "fd_dsp" in result:  # not in a --music-only result
        plots += [plot_fd(result, out / "fd.png"), plot_drift(result, out / "drift.png"),
                  plot_controls(result, out / "controls.png")]
    if "music_series" in result:
        plots.append(plot_music(result, out / "music.png"))
    return plots
