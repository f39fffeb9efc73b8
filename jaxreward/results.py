"""The run directory: config.json, metrics.csv, summary.json and the learning-curve plot.

    runs/<name>/
      config.json       the TrainConfig that produced the run
      metrics.csv       one row per (log point, run): env_steps, the run's labels (seed; in a
                        sweep chunk also variant and swept fields), gold_return, proxy_return,
                        eval/gold_return and eval/success (deterministic-policy evaluation on
                        the gold reward, `training/policy_eval.py`), term_return/<name>,
                        losses, steps_per_second (env steps of all runs per second over that
                        log chunk), wall_time_s (host-loop time so far,
                        summed over the processes that trained the run), ...
      summary.json      final returns (per run, mean, std), compile and train time, and the
                        throughput of the process that wrote it
      learning_curve.png
      checkpoints/
"""

from __future__ import annotations

import csv
import json
import math
import os

import numpy as np

LEADING_COLUMNS = ["env_steps", "seed", "gold_return", "proxy_return", "success", "eval/gold_return", "eval/success",
                   "steps_per_second", "wall_time_s"]


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


#: The label columns that identify a run in metrics.csv: its seed, and in a sweep chunk its
#: variant too (the chunk's runs are variants x seeds, so variants share seeds).
RUN_IDENTITY = ("variant", "seed")


def run_key(row: dict) -> tuple:
    """A row's run: the values of its RUN_IDENTITY columns, e.g. (seed,) or (variant, seed)."""
    return tuple(row[k] for k in RUN_IDENTITY if k in row)


def final_value(rows: list[dict], column: str, last_fraction: float = 0.1) -> dict[tuple, float]:
    """Per run (keyed by `run_key`): the mean of `column` over the run's last `last_fraction`
    of log points (at least one), NaN if none of them is finite (no episode had ended).

    Rows are grouped by the whole run identity, not the seed alone: a sweep chunk holds
    several variants with the same seed, and each is a run of its own.
    """
    by_run: dict[tuple, list[dict]] = {}
    for r in rows:
        by_run.setdefault(run_key(r), []).append(r)
    out = {}
    for key, run_rows in by_run.items():
        vals = np.array([r[column] for r in sorted(run_rows, key=lambda r: r["env_steps"])], np.float64)
        k = max(1, int(round(len(vals) * last_fraction)))
        out[key] = float(np.nanmean(vals[-k:])) if np.any(np.isfinite(vals[-k:])) else math.nan
    return out


def summarize(rows: list[dict], columns: list[str], extra: dict) -> dict:
    """`extra` plus, per column, the final values' mean, std, min, max over runs and each run's
    own: under "per_seed" keyed by seed when the runs are one config's seeds, under "per_run"
    keyed "variant=V, seed=S" when they are a sweep chunk's variants."""
    summary = dict(extra)
    for col in columns:
        if rows and col in rows[0]:
            per_run = final_value(rows, col)
            vals = np.array(list(per_run.values()))
            if not np.any(np.isfinite(vals)):
                continue  # no episode ended in the whole run
            fields = [k for k in RUN_IDENTITY if k in rows[0]]
            if fields == ["seed"]:
                each = {"per_seed": {str(key[0]): _finite_or_none(v) for key, v in per_run.items()}}
            else:
                each = {"per_run": {", ".join(f"{f}={x}" for f, x in zip(fields, key)): _finite_or_none(v)
                                    for key, v in per_run.items()}}
            summary[col] = {
                "mean": float(np.nanmean(vals)),
                "std": float(np.nanstd(vals)),
                "min": float(np.nanmin(vals)),
                "max": float(np.nanmax(vals)),
                **each,
            }
    return summary


def _finite_or_none(v: float) -> float | None:
    return v if math.isfinite(v) else None


def write_summary(run_dir: str, summary: dict) -> None:
    with open(os.path.join(run_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)


def plot_learning_curve(rows: list[dict], path: str, title: str) -> None:
    """Gold, proxy and (when logged) evaluation return against env steps: mean over seeds,
    band = min..max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    steps = sorted({r["env_steps"] for r in rows})
    curves = (("gold_return", "tab:blue", "gold (task) return"), ("proxy_return", "tab:orange", "proxy (optimised) return"),
              ("eval/gold_return", "tab:green", "gold return, deterministic evaluation"))
    for column, color, label in curves:
        if column not in rows[0]:
            continue  # evaluation off (eval_episodes=0)
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
