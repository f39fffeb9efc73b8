"""Preference-based RL runs whose variants are one program: teachers and budgets are leaves.

A variant of the PbRL figures — a B-Pref teacher, a feedback budget — changes only
vmappable leaves of the `preference` reward's state (`TeacherParams`, `budget`), so all
variants × seeds of one (env, learner, selection) setting run as one `vmap` of one
compiled training step: the project's sweep design (docs/sweeps.md). The config's
`budget` is the largest one (it sizes the pair buffer); each run asks up to its own.

Used by `experiments/pbrl_teachers.py` and `experiments/pbrl_feedback_budget.py`, which
write `results/<experiment>/` with the figure (PNG), the data (CSV) and the command.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from jaxreward.rewards.preference import teachers
from jaxreward.training import loop, presets
from jaxreward.training.trainer import Trainer


@dataclass(frozen=True)
class Variant:
    """One method of a figure: a teacher preset (or "gold": train on the gold reward) and a budget."""

    name: str
    teacher: str = "oracle"
    budget: int = 1000


def run(env: str, learner: str, variants: list[Variant], num_seeds: int, settings: dict, label: str = "",
        partial_csv: str | None = None) -> list[dict]:
    """Trains every variant × seed in one program (gold variants in a second one).

    settings: TrainConfig overrides; settings["reward"]["preference"] holds the preference
    config shared by all variants. Returns one row per run and log point: setting, variant,
    teacher, budget, seed, env_steps, gold_return, accuracy_heldout, queries. With
    `partial_csv`, rows are also appended there as each log point arrives, so a long run
    that is stopped still leaves its curves.
    """
    rows = []
    pref_variants = [v for v in variants if v.teacher != "gold"]
    gold_variants = [v for v in variants if v.teacher == "gold"]
    if pref_variants:
        rows += _run_group(env, learner, pref_variants, num_seeds, settings, "preference", label, partial_csv)
    if gold_variants:
        rows += _run_group(env, learner, gold_variants, num_seeds, settings, "gold", label, partial_csv)
    return rows


def _run_group(env, learner, variants, num_seeds, settings, terms, label, partial_csv=None):
    runs = [(v, s) for v in variants for s in range(num_seeds)]
    pref = dict(settings.get("reward", {}).get("preference", {}))
    if terms == "preference":
        pref["budget"] = max(v.budget for v in variants)
    cfg = presets.config_for(env, **{**settings, "learner": learner, "num_seeds": len(runs),
                                     "reward": {"terms": terms, "preference": pref}})
    trainer = Trainer(cfg)
    state = trainer.init_seeds(jnp.stack([jax.random.PRNGKey(s) for _, s in runs]))
    if terms == "preference":
        pstate = state.reward.terms[0]
        stacked = teachers.stack([teachers.preset(v.teacher) for v, _ in runs])
        budgets = jnp.asarray([v.budget for v, _ in runs], jnp.int32)
        state = state.replace(reward=state.reward.replace(terms=(pstate.replace(teacher=stacked, budget=budgets),)))
        state = jax.device_put(state, trainer.shardings(state))

    chunk = trainer.chunk_fn(cfg.iterations_per_log)
    out, done, start = [], 0, time.perf_counter()
    while done < cfg.num_iterations:
        state, metrics = chunk(state)
        metrics = jax.device_get(metrics)
        done += cfg.iterations_per_log
        env_steps = done * cfg.steps_per_iteration
        bad = loop._first_nonfinite(metrics, state)
        if bad is not None:
            raise loop.TrainingDiverged(f"{env}: non-finite {bad} at env step {env_steps}")
        new = []
        for i, (variant, seed) in enumerate(runs):
            r = _chunk_values(metrics, i)
            new.append({
                "setting": label or f"{env}/{learner}", "variant": variant.name, "teacher": variant.teacher,
                "budget": variant.budget if terms == "preference" else 0, "seed": seed, "env_steps": env_steps,
                "gold_return": r["gold_return"],
                "accuracy_heldout": r.get("reward_model/preference/accuracy_heldout", math.nan),
                "queries": r.get("reward_model/preference/queries", 0.0),
            })
        out += new
        if partial_csv:
            _append_csv(partial_csv, new)
        print(f"  {label or env} {terms}: {env_steps:,} steps/run, {time.perf_counter() - start:.0f}s", file=sys.stderr, flush=True)
    return out


def _chunk_values(metrics: dict, run: int) -> dict:
    """Run `run`'s values of one chunk ([runs, iterations] each): the gold return averaged
    over the episodes that ended in the chunk (the carried value if none did), the reward
    model's metrics at the chunk's last iteration."""
    count = np.asarray(metrics["episodes"])[run]
    gold = np.asarray(metrics["gold_return"])[run]
    ended = count > 0
    out = {"gold_return": float((gold[ended] * count[ended]).sum() / count[ended].sum()) if ended.any() else float(gold[-1])}
    for name in ("reward_model/preference/accuracy_heldout", "reward_model/preference/queries"):
        if name in metrics:
            out[name] = float(np.asarray(metrics[name])[run, -1])
    return out


def mean_ci(values) -> tuple[float, float, float]:
    """Mean and a 95% normal-approximation band over seeds (NaNs ignored)."""
    v = np.asarray([x for x in values if np.isfinite(x)], float)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    half = 1.96 * v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else 0.0
    return float(v.mean()), float(v.mean() - half), float(v.mean() + half)


def final_returns(rows: list[dict], last_fraction: float = 0.2) -> dict:
    """(setting, variant) -> per-seed mean gold return over the last `last_fraction` of log points."""
    out = {}
    for key in {(r["setting"], r["variant"]) for r in rows}:
        sel = [r for r in rows if (r["setting"], r["variant"]) == key]
        steps = sorted({r["env_steps"] for r in sel})
        tail = set(steps[-max(1, int(round(len(steps) * last_fraction))):])
        seeds = sorted({r["seed"] for r in sel})
        out[key] = [float(np.mean([r["gold_return"] for r in sel if r["seed"] == s and r["env_steps"] in tail])) for s in seeds]
    return out


def write_csv(path: str, rows: list[dict]) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str) -> list[dict]:
    """Rows written by `write_csv` / `run(partial_csv=...)`, numbers parsed back."""
    ints, floats = {"budget", "seed", "env_steps"}, {"gold_return", "accuracy_heldout", "queries"}
    with open(path, newline="") as f:
        return [{k: int(v) if k in ints else float(v) if k in floats else v for k, v in row.items()} for row in csv.DictReader(f)]


def style_axis(ax) -> None:
    """Env-step axes in thousands (the raw counts overlap)."""
    from matplotlib.ticker import EngFormatter

    ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.grid(alpha=0.3)


def _append_csv(path: str, rows: list[dict]) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fresh = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        if fresh:
            writer.writeheader()
        writer.writerows(rows)


def write_command(out_dir: str, module: str, argv: list[str]) -> None:
    with open(os.path.join(out_dir, "command.txt"), "w") as f:
        f.write(f"python -m {module} " + " ".join(argv) + "\n")
