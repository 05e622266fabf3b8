"""Training metrics: a CSV file (one row per logged step, columns grow as new metrics appear) and PNG plots.

Shared by every recipe. On resume the rows logged after the resumed step (work a crash threw away) are dropped first, so the CSV of an
interrupted-then-resumed run reads like an uninterrupted one.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path


class MetricsLogger:
    def __init__(self, path: str | Path, resume_step: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._rows: list[dict[str, float]] = []
        if self.path.exists() and resume_step is not None:
            self._rows = [r for r in self.read(self.path) if r.get("step", math.inf) <= resume_step]
        self._write_all()

    @staticmethod
    def read(path: str | Path) -> list[dict[str, float]]:
        rows = []
        with open(path, newline="", encoding="utf-8") as fh:
            for raw in csv.DictReader(fh):
                rows.append({k: float(v) for k, v in raw.items() if v not in ("", None)})
        return rows

    def _columns(self) -> list[str]:
        cols: list[str] = ["step"]
        for r in self._rows:
            cols.extend(k for k in r if k not in cols)
        return cols

    def _write_all(self) -> None:
        tmp = self.path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=self._columns())
            w.writeheader()
            w.writerows(self._rows)
        tmp.replace(self.path)

    def log(self, step: int, metrics: dict[str, float]) -> None:
        row = {"step": float(step), **{k: float(v) for k, v in metrics.items()}}
        new_column = any(k not in self._columns() for k in row)
        self._rows.append(row)
        if new_column:
            self._write_all()
        else:
            with open(self.path, "a", newline="", encoding="utf-8") as fh:
                csv.DictWriter(fh, fieldnames=self._columns()).writerow(row)

    @property
    def rows(self) -> list[dict[str, float]]:
        return list(self._rows)


def plot_metrics(csv_path: str | Path, png_path: str | Path, keys: list[str] | None = None,
                 title: str = "training") -> Path:
    """One panel per metric (log-scaled y when all values are positive); returns the PNG path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = MetricsLogger.read(csv_path)
    keys = keys or sorted({k for r in rows for k in r if k not in ("step", "elapsed_s", "lr")})
    keys = [k for k in keys if any(k in r for r in rows)]
    fig, axes = plt.subplots(len(keys) or 1, 1, figsize=(8, 2.2 * max(1, len(keys))), squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        pts = [(r["step"], r[key]) for r in rows if key in r and math.isfinite(r[key])]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, marker="." if len(pts) < 50 else None)
            if min(ys) > 0:
                ax.set_yscale("log")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    fig.suptitle(title)
    fig.tight_layout()
    png_path = Path(png_path)
    fig.savefig(png_path, dpi=80)
    plt.close(fig)
    return png_path
