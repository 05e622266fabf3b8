"""PNG plots of an evaluation result (drawn from the JSON alone, so saved results can be re-plotted)."""

from __future__ import annotations

import math
from pathlib import Path


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
        values = [result[f"fd_{space}_floor"], result[f"fd_{space}"], result[f"fd_{space}_ceiling"]]
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
            ax.plot(s["t_s"], s[key], alpha=0.6, lw=1, label=s["prompt"][:40])
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].axhline(result["drift_level_real"], color="k", ls="--", lw=1, label="real test windows")
    if not math.isnan(result["drift_slope"]):
        axes[0].set_title(f"drift slope {result['drift_slope']:+.3f} per minute", fontsize=9)
    axes[0].legend(fontsize=6, loc="upper left")
    axes[-1].set_xlabel("stream time (s)")
    fig.suptitle(f"{result['meta']['model']}: drift over long streams", fontsize=9)
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
    fig.suptitle(f"{result['meta']['model']}: loudness r={result['loudness_corr']:.2f}, "
                 f"brightness r={result['brightness_corr']:.2f}, density r={result['density_corr']:.2f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_all(result: dict, out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [plot_fd(result, out / "fd.png"), plot_drift(result, out / "drift.png"),
            plot_controls(result, out / "controls.png")]
