"""The run directory: config.json, metrics.csv, summary.json and the learning-curve plot.

    runs/<name>/
      config.json       the TrainConfig that produced the run
      metrics.csv       one row per (log point, seed): env_steps, gold_return, proxy_return,
                        term_return/<name>, losses, steps_per_second, ...
      summary.json      final returns (per seed, mean, std), compile and train time
      learning_curve.png
      checkpoints/
"""

from __future__ import annotations

import csv
import json
import math
import os

import numpy as np

LEADING_COLUMNS = ["env_steps", "seed", "gold_return", "proxy_return", "success", "steps_per_second", "wall_time_s"]


def write_config(run_dir: str, config: dict) -> None:
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2, default=str)


def read_config(run_dir: str) -> dict:
    with open(os.path.join(run_dir, "config.json")) as f:
        return json.load(f)


class MetricsCSV:
    """Appends rows to metrics.csv; the column set is fixed by the first row written."""

    def __init__(self, path: str):
        self.path = path
        self.columns: list[str] | None = None
        if os.path.exists(path):
            with open(path) as f:
                reader = csv.reader(f)
                self.columns = next(reader, None)

    def truncate_after(self, env_steps: int) -> None:
        """Drops rows logged after `env_steps` (a resume restarts from that checkpoint)."""
        if not os.path.exists(self.path):
            return
        rows = read_metrics(self.path)
        kept = [r for r in rows if r["env_steps"] <= env_steps]
        with open(self.path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns)
            writer.writeheader()
            for r in kept:
                writer.writerow({k: _fmt(r.get(k)) for k in self.columns})

    def append(self, rows: list[dict]) -> None:
        if not rows:
            return
        if self.columns is None:
            rest = sorted(k for k in rows[0] if k not in LEADING_COLUMNS)
            self.columns = [c for c in LEADING_COLUMNS if c in rows[0]] + rest
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(self.columns)
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore")
            for r in rows:
                writer.writerow({k: _fmt(r.get(k)) for k in self.columns})


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def read_metrics(path: str) -> list[dict]:
    """Rows of a metrics.csv with numbers parsed; empty cells are NaN, other text (a swept
    field such as `reward.terms`) stays text."""
    out = []
    with open(path) as f:
        for row in csv.DictReader(f):
            parsed = {}
            for k, v in row.items():
                try:
                    parsed[k] = int(v) if k in ("env_steps", "seed", "variant") else float(v)
                except (TypeError, ValueError):
                    parsed[k] = v if v else math.nan
            out.append(parsed)
    return out


def final_value(rows: list[dict], column: str, last_fraction: float = 0.1) -> dict[int, float]:
    """Per seed: the mean of `column` over the last `last_fraction` of log points (at least one)."""
    by_seed: dict[int, list[float]] = {}
    for r in rows:
        by_seed.setdefault(r["seed"], []).append(r[column])
    out = {}
    for seed, vals in by_seed.items():
        k = max(1, int(round(len(vals) * last_fraction)))
        out[seed] = float(np.nanmean(vals[-k:])) if np.any(np.isfinite(vals[-k:])) else math.nan
    return out


def summarize(rows: list[dict], columns: list[str], extra: dict) -> dict:
    summary = dict(extra)
    for col in columns:
        if rows and col in rows[0]:
            per_seed = final_value(rows, col)
            vals = np.array(list(per_seed.values()))
            if not np.any(np.isfinite(vals)):
                continue  # no episode ended in the whole run
            summary[col] = {
                "mean": float(np.nanmean(vals)),
                "std": float(np.nanstd(vals)),
                "min": float(np.nanmin(vals)),
                "max": float(np.nanmax(vals)),
                "per_seed": {str(k): (v if math.isfinite(v) else None) for k, v in per_seed.items()},
            }
    return summary


def write_summary(run_dir: str, summary: dict) -> None:
    with open(os.path.join(run_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)


def plot_learning_curve(rows: list[dict], path: str, title: str) -> None:
    """Gold and proxy return against env steps: mean over seeds, band = min..max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    steps = sorted({r["env_steps"] for r in rows})
    for column, color, label in (("gold_return", "tab:blue", "gold (task) return"), ("proxy_return", "tab:orange", "proxy (optimised) return")):
        table = np.array([[r[column] for r in rows if r["env_steps"] == s] for s in steps], dtype=float)
        known = np.all(np.isfinite(table), axis=1)  # log points before any episode ended are NaN
        if not known.any():
            continue
        x, table = np.asarray(steps)[known], table[known]
        ax.plot(x, table.mean(axis=1), color=color, label=label)
        if table.shape[1] > 1:
            ax.fill_between(x, table.min(axis=1), table.max(axis=1), color=color, alpha=0.2)
    ax.set_xlabel("environment steps (per seed)")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right")
    else:
        ax.text(0.5, 0.5, "no episode ended yet", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
