"""Exploration bonuses compared in one compiled program: variants are reward weights.

Every bonus of a comparison is a term of one composite reward (`gold,rnd,e3b:norm=scale,
...,coverage:0`); a variant ("PPO+RND", "PPO alone") is a vector of term weights plus PPO's
`int_coef`, both vmappable leaves of the training state. So all variants × seeds of one
environment run as one `vmap` of one compiled training step, instead of one compile per
variant — the project's sweep design (docs/sweeps.md). Every run computes every
bonus (a variant's unused terms have weight 0); at these network sizes that costs less
than the compiles it saves.

"PPO alone" sets every bonus weight and `int_coef` to 0: its intrinsic head then learns a
zero return and its advantages are 2·A_ext, which per-minibatch normalisation makes
exactly single-head PPO's advantages.

Used by `experiments/exploration_sparse.py` and `experiments/global_vs_episodic.py`, which
write `results/<experiment>/` with the figure (PNG), the data behind it (CSV) and the
command that produced them.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from jaxreward.training import loop, presets
from jaxreward.training.trainer import Trainer

COVERAGE_METRIC = "reward_model/coverage/visited_cells"


@dataclass(frozen=True)
class Variant:
    """A method of a comparison: the weight of each bonus term (others 0) and int_coef."""

    name: str
    weights: dict = field(default_factory=dict)
    int_coef: float = 1.0


def run_variants(
    env: str,
    terms: list[str],
    variants: list[Variant],
    num_seeds: int,
    settings: dict,
    label: str | None = None,
) -> list[dict]:
    """Trains every variant × seed of `env` in one program.

    Args:
      env: registry name.
      terms: bonus terms in `--reward` syntax without weights (e.g. "rnd", "e3b:norm=scale");
        "gold" and "coverage:0" are added.
      variants: the methods; a variant's weights are keyed by term name.
      num_seeds: seeds per variant (seed s of every variant shares its initial key).
      settings: TrainConfig overrides (num_envs, total_steps, ppo, reward sections...).
      label: name of the env setting in the rows (default: env).

    Returns rows: env, variant, seed, env_steps, success, coverage (visited cells / reachable cells),
    gold_return, intrinsic (mean step bonus of the variant's terms).
    """
    names = [t.split(":")[0] for t in terms]
    all_terms = ",".join(["gold"] + terms + ["coverage:0"])
    runs = [(v, s) for v in variants for s in range(num_seeds)]
    reward = dict(settings.get("reward", {}), terms=all_terms)
    cfg = presets.config_for(env, **{**settings, "reward": reward, "num_seeds": len(runs)})
    trainer = Trainer(cfg)
    num_cells = float(trainer.env.unwrapped.reachable_cells)

    keys = jnp.stack([jax.random.PRNGKey(s) for _, s in runs])
    state = trainer.init_seeds(keys)
    term_order = [t.name for t in trainer.reward_model.terms]
    weights = np.zeros((len(runs), len(term_order)), np.float32)
    weights[:, term_order.index("gold")] = 1.0
    for i, (variant, _) in enumerate(runs):
        for name, w in variant.weights.items():
            if name not in names:
                raise ValueError(f"variant {variant.name!r} weights unknown term {name!r}; terms: {names}")
            weights[i, term_order.index(name)] = w
    hyper = state.learner.hyper.replace(int_coef=jnp.asarray([v.int_coef for v, _ in runs], jnp.float32))
    state = state.replace(reward=state.reward.replace(weights=jnp.asarray(weights)), learner=state.learner.replace(hyper=hyper))
    state = jax.device_put(state, trainer.shardings(state))

    # Compiled ahead of time for this state: a plain jit call would compile again at the
    # second chunk, whose input is the first chunk's output rather than `init_seeds`'s.
    chunk = trainer.chunk_fn(cfg.iterations_per_log).lower(state).compile()
    rows, done_iters, start = [], 0, time.perf_counter()
    while done_iters < cfg.num_iterations:
        state, metrics = chunk(state)
        metrics = jax.device_get(metrics)
        done_iters += cfg.iterations_per_log
        env_steps = done_iters * cfg.steps_per_iteration
        bad = [k for k, v in metrics.items() if k.startswith(("loss/", "reward_model/")) and not np.all(np.isfinite(v))]
        if bad:
            raise loop.TrainingDiverged(f"{env}: non-finite {bad[0]} in the chunk ending at env step {env_steps}")
        for i, (variant, seed) in enumerate(runs):
            bonus = sum(variant.weights.get(n, 0.0) * float(np.mean(metrics[f"step_reward/{n}"][i])) for n in names)
            rows.append({
                "env": label or env, "variant": variant.name, "seed": seed, "env_steps": env_steps,
                "success": _episode_mean(metrics, "success", i), "coverage": float(metrics[COVERAGE_METRIC][i, -1]) / num_cells,
                "gold_return": _episode_mean(metrics, "gold_return", i), "intrinsic": bonus,
            })
        print(f"  {label or env}: {env_steps:,} steps/run, {time.perf_counter() - start:.0f}s", file=sys.stderr, flush=True)
    return rows


def _episode_mean(metrics: dict, name: str, run: int) -> float:
    """Mean of an episode statistic over the episodes that ended in the chunk (NaN if none)."""
    counts = np.asarray(metrics["episodes"][run], float)
    values = np.nan_to_num(np.asarray(metrics[name][run], float))
    return float((values * counts).sum() / counts.sum()) if counts.sum() > 0 else math.nan


def mean_ci(values) -> tuple[float, float, float]:
    """Mean and a 95% normal-approximation confidence band over seeds (NaNs ignored)."""
    v = np.asarray([x for x in values if np.isfinite(x)], float)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    half = 1.96 * v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else 0.0
    return float(v.mean()), float(v.mean() - half), float(v.mean() + half)


def write_results(out_dir: str, rows: list[dict], argv: list[str]) -> None:
    """rows -> out_dir/curves.csv (every log point) and out_dir/command.txt."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "curves.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(os.path.join(out_dir, "command.txt"), "w") as f:
        f.write("python -m " + " ".join(argv) + "\n")


def final_table(rows: list[dict], group: tuple[str, ...] = ("env", "variant")) -> list[dict]:
    """Per group: mean and 95% band over seeds of each run's final success, coverage and
    gold return — the last log point at which the value is known (episode statistics are
    NaN at log points where no episode ended)."""
    out = []
    for key in sorted({tuple(r[g] for g in group) for r in rows}, key=str):
        sel = [r for r in rows if tuple(r[g] for g in group) == key]
        entry = dict(zip(group, key))
        for col in ("success", "coverage", "gold_return"):
            finals = []
            for seed in sorted({r["seed"] for r in sel}):
                known = [r[col] for r in sorted(sel, key=lambda r: r["env_steps"]) if r["seed"] == seed and np.isfinite(r[col])]
                finals.append(known[-1] if known else math.nan)
            entry[col], entry[f"{col}_lo"], entry[f"{col}_hi"] = mean_ci(finals)
        out.append(entry)
    return out


def plot_curves(rows: list[dict], path: str, panels: list[str], columns=("success", "coverage"), title: str = "") -> None:
    """One row of panels per env setting, one column per metric; mean and 95% band per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(dict.fromkeys(r["variant"] for r in rows))
    fig, axes = plt.subplots(len(panels), len(columns), figsize=(4.2 * len(columns), 2.8 * len(panels)), dpi=110, squeeze=False)
    for p, panel in enumerate(panels):
        for c, col in enumerate(columns):
            ax = axes[p][c]
            for k, variant in enumerate(variants):
                sel = [r for r in rows if r["env"] == panel and r["variant"] == variant]
                steps = sorted({r["env_steps"] for r in sel})
                stats = np.array([mean_ci([r[col] for r in sel if r["env_steps"] == s]) for s in steps]).reshape(-1, 3)
                known = np.isfinite(stats[:, 0])  # log points where some episode ended
                if not known.any():
                    continue
                x = np.asarray(steps)[known]
                ax.plot(x, stats[known, 0], color=f"C{k}", label=variant, marker=".")
                ax.fill_between(x, stats[known, 1], stats[known, 2], color=f"C{k}", alpha=0.2)
            ax.set_title(f"{panel}: {col}", fontsize=9)
            ax.set_xlabel("env steps per run", fontsize=8)
            ax.grid(alpha=0.3)
            if col in ("success", "coverage"):
                ax.set_ylim(-0.05, 1.05)
    axes[0][0].legend(fontsize=7, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
