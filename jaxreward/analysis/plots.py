"""`jaxreward plot RUN_OR_SWEEP`: learning curves with confidence bands and final returns.

Each figure is one PNG plus the CSV of exactly the numbers drawn (`<figure>.csv`), so a
figure can be checked against the tables and redrawn elsewhere. Bands are 95% bootstrap
intervals of the mean over seeds at each log point (percentile method, 1,000 resamples);
final-performance bars are the interquartile mean over seeds with its stratified bootstrap
interval (`analysis.aggregate`).
"""

from __future__ import annotations

import csv
import os

import numpy as np

from jaxreward import results
from jaxreward.analysis.aggregate import stratified_bootstrap_ci, summarize_scores

CURVE_COLUMNS = (("gold_return", "gold (task) return"), ("proxy_return", "proxy (optimised) return"))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _group_key(row: dict, fields: list[str]) -> str:
    return ", ".join(f"{f}={row.get(f)}" for f in fields) or "run"


def curve_data(rows: list[dict], column: str, fields: list[str]) -> list[dict]:
    """Per (group, log point): mean over runs and its 95% interval. Groups are the distinct
    values of `fields` (the swept fields; [] for one run's seeds)."""
    out = []
    for key in sorted({_group_key(r, fields) for r in rows}):
        members = [r for r in rows if _group_key(r, fields) == key]
        for step in sorted({r["env_steps"] for r in members}):
            vals = np.array([float(r[column]) for r in members if r["env_steps"] == step and r.get(column) not in (None, "")])
            vals = vals[np.isfinite(vals)]
            if vals.size == 0:
                continue  # no episode had ended yet
            low, high = stratified_bootstrap_ci(vals, reps=1000, statistic="mean") if vals.size > 1 else (vals[0], vals[0])
            out.append({"group": key, "env_steps": step, "mean": float(vals.mean()), "low": low, "high": high, "num_runs": int(vals.size)})
    return out


def plot_curves(rows: list[dict], fields: list[str], path: str, title: str) -> dict:
    """Gold and proxy learning curves side by side; returns {column: curve_data}."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), dpi=120, sharex=True)
    data = {}
    for ax, (column, label) in zip(axes, CURVE_COLUMNS):
        data[column] = curve_data(rows, column, fields)
        for i, key in enumerate(sorted({d["group"] for d in data[column]})):
            pts = [d for d in data[column] if d["group"] == key]
            x = [d["env_steps"] for d in pts]
            color = f"C{i % 10}"
            ax.plot(x, [d["mean"] for d in pts], color=color, label=key)
            ax.fill_between(x, [d["low"] for d in pts], [d["high"] for d in pts], color=color, alpha=0.2, linewidth=0)
        ax.set_xlabel("environment steps per run")
        ax.set_ylabel(f"{label}")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[0].legend(fontsize=8, loc="best")
    else:
        axes[0].text(0.5, 0.5, "no episode ended yet", ha="center", transform=axes[0].transAxes)
    fig.suptitle(f"{title} (mean over seeds, 95% bootstrap band)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    _write(path.replace(".png", ".csv"), [dict(d, column=c) for c, ds in data.items() for d in ds])
    return data


def plot_final(summary: list[dict], fields: list[str], path: str, title: str) -> list[dict]:
    """Final gold return per group: IQM over seeds with its stratified bootstrap interval."""
    plt = _pyplot()
    data = []
    for key in sorted({_group_key(r, fields) for r in summary}):
        scores = np.array([float(r["gold_return"]) for r in summary if _group_key(r, fields) == key], np.float64)
        scores = scores[np.isfinite(scores)]
        if scores.size:
            s = summarize_scores(scores, reps=1000)
            data.append({"group": key, "iqm": s["iqm"], "low": s["iqm_low"], "high": s["iqm_high"], "num_runs": s["num_runs"]})
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(data) + 2), 4.2), dpi=120)
    x = np.arange(len(data))
    iqms = np.array([d["iqm"] for d in data])
    err = np.array([[d["iqm"] - d["low"] for d in data], [d["high"] - d["iqm"] for d in data]]) if data else None
    ax.bar(x, iqms, yerr=err, capsize=4, color=[f"C{i % 10}" for i in range(len(data))])
    ax.set_xticks(x, [d["group"] for d in data], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("final gold return (IQM over seeds)")
    ax.set_title(f"{title} (95% stratified bootstrap interval)")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    _write(path.replace(".png", ".csv"), data)
    return data


def plot_sweep(sweep_dir: str) -> list[str]:
    """Learning curves and final returns of a sweep folder; returns the PNG paths."""
    import json

    with open(os.path.join(sweep_dir, "sweep.json")) as f:
        meta = json.load(f)
    from jaxreward.sweeps.spec import parse

    fields = parse(meta["spec"]).swept_fields
    rows = results.read_metrics(os.path.join(sweep_dir, "metrics.csv"))
    summary = results.read_metrics(os.path.join(sweep_dir, "summary.csv"))
    name = meta["spec"].get("name", "sweep")
    curves = os.path.join(sweep_dir, "learning_curves.png")
    final = os.path.join(sweep_dir, "final_returns.png")
    plot_curves(rows, fields, curves, f"sweep {name}")
    plot_final(summary, fields, final, f"sweep {name}")
    return [curves, final]


def run_title(config: dict) -> str:
    """A run's plot title from its config (as in config.json): env, learner and reward terms,
    e.g. "pendulum — sac on gold". Every plot of a single run is titled by this function, so
    no title names a learner the run did not use."""
    return f"{config.get('env')} — {config.get('learner')} on {config.get('reward', {}).get('terms')}"


def plot_run(run_dir: str) -> list[str]:
    """Learning curves of one run directory (seeds aggregated); returns the PNG paths."""
    rows = results.read_metrics(os.path.join(run_dir, "metrics.csv"))
    path = os.path.join(run_dir, "learning_curves.png")
    plot_curves(rows, [], path, run_title(results.read_config(run_dir)))
    return [path]


def plot(path: str, tensorboard: bool = False) -> list[str]:
    """Plots a sweep folder or a run directory (told apart by sweep.json / metrics.csv)."""
    if os.path.isfile(os.path.join(path, "sweep.json")):
        written = plot_sweep(path)
    elif os.path.isfile(os.path.join(path, "metrics.csv")):
        written = plot_run(path)
    else:
        raise ValueError(f"{path!r} is neither a run directory (metrics.csv) nor a sweep folder (sweep.json)")
    if tensorboard:
        written.append(write_tensorboard(path))
    return written


def write_tensorboard(path: str) -> str:
    """TensorBoard event files from metrics.csv: one event folder per run (seed / variant)."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError as e:
        raise ValueError("TensorBoard export needs the tensorboardX package (pip install tensorboardX)") from e
    rows = results.read_metrics(os.path.join(path, "metrics.csv"))
    label_keys = [k for k in ("variant", "seed") if rows and k in rows[0]]
    out = os.path.join(path, "tensorboard")
    writers: dict = {}
    for r in rows:
        name = "-".join(f"{k}{r[k]}" for k in label_keys) or "run"
        if name not in writers:
            writers[name] = SummaryWriter(os.path.join(out, name))
        for k, v in r.items():
            if k in label_keys or k == "env_steps" or not isinstance(v, (int, float)) or not np.isfinite(v):
                continue
            writers[name].add_scalar(k, v, int(r["env_steps"]))
    for w in writers.values():
        w.close()
    return out


def _write(path: str, rows: list[dict]) -> None:
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns or ["empty"])
        writer.writeheader()
        writer.writerows(rows)
