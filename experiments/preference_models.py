"""Regret vs partial-return preferences on gridworlds with exact optimal values.

After Knox et al., "Models of human preference for learning reward functions" (TMLR 2024),
Fig. "proportion of near-optimal policies vs number of preferences": a teacher labels
pairs of random length-3 segments by partial return (Σ r) or by regret (Σ A*), both
Boltzmann-rational; a learner fits a reward over cells (r̂(s, a) = r̂_cell(next cell)) by
Bradley–Terry under either model — partial return (Σ r̂) or regret (Σ A*_r̂, with A*_r̂ by
differentiable value iteration) — and acts greedily on Q*_r̂. A policy counts as
near-optimal when its mean value over start states under the true reward is within 10%
of the optimal one (normalised against the uniform-random policy).

Every world × preference count × teacher × learner is one `vmap` of one compiled function
(pairs padded to the largest count and masked), so the figure is one program.

    python -m experiments.preference_models --scale smoke   # seconds to minutes, 2-core CPU
    python -m experiments.preference_models --scale paper   # 100 worlds, up to 3000 prefs

Writes results/preference_models/: preference_models.png, results.csv (one row per
world × count × teacher × learner), summary.csv (fraction near-optimal) and command.txt.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxreward import tabular
from jaxreward.rewards.preference import teachers
from jaxreward.rewards.preference.model import bradley_terry_loss

SCALES = {
    "smoke": dict(worlds=16, counts=(10, 30, 100, 300), fit_steps=300, size=4),
    "paper": dict(worlds=100, counts=(10, 30, 100, 300, 1000, 3000), fit_steps=2000, size=5),
}
MODELS = ("partial_return", "regret")
SEGMENT_LENGTH = 3
BETA = 10.0  # teacher rationality (returns here are O(1))
NEAR_OPTIMAL = 0.9


def run_one(key, size: int, max_pairs: int, fit_steps: int, num_pairs, teacher_regret, learner_regret):
    """One world, one preference count, one (teacher, learner) pair -> normalised value in [~0, 1]."""
    k_world, k_seg, k_label, k_init = jax.random.split(key, 4)
    mdp = tabular.random_gridworld(k_world, size)
    true_adv = tabular.optimal_advantages(mdp)
    states, actions = tabular.random_segments(k_seg, mdp, 2 * max_pairs, SEGMENT_LENGTH)
    util_pr = mdp.reward[states, actions]
    util_regret = true_adv[states, actions]
    util = jnp.where(teacher_regret, util_regret, util_pr)
    params = teachers.TeacherParams.create(beta=BETA)
    y, _ = teachers.label(params, k_label, util[:max_pairs], util[max_pairs:], jnp.zeros(()))
    weight = (jnp.arange(max_pairs) < num_pairs).astype(jnp.float32)

    def loss(cell_reward):
        r_hat = cell_reward[mdp.next_state]
        pr = r_hat[states, actions].sum(-1)
        regret = tabular.optimal_advantages(mdp, r_hat, iterations=30)[states, actions].sum(-1)
        ret = jnp.where(learner_regret, regret, pr)
        return bradley_terry_loss(ret[:max_pairs], ret[max_pairs:], y, weight)

    opt = optax.adam(0.05)
    cell_reward = 0.01 * jax.random.normal(k_init, (mdp.num_states,))

    def step(carry, _):
        w, s = carry
        g = jax.grad(loss)(w)
        u, s = opt.update(g, s, w)
        return (optax.apply_updates(w, u), s), None

    (cell_reward, _), _ = jax.lax.scan(step, (cell_reward, opt.init(cell_reward)), None, length=fit_steps)
    policy = tabular.q_values(mdp, cell_reward[mdp.next_state]).argmax(-1)
    v_learned = tabular.policy_value(mdp, policy).mean()
    v_opt = tabular.q_values(mdp).max(-1).mean()
    v_random = _uniform_policy_value(mdp).mean()
    return (v_learned - v_random) / jnp.maximum(v_opt - v_random, 1e-6)


def _uniform_policy_value(mdp, iterations: int = 100):
    def backup(v, _):
        return (mdp.reward + mdp.discount * v[mdp.next_state]).mean(-1), None

    v, _ = jax.lax.scan(backup, jnp.zeros((mdp.num_states,)), None, length=iterations)
    return v


def run(scale: str) -> list[dict]:
    s = SCALES[scale]
    counts, combos = s["counts"], list(itertools.product(MODELS, MODELS))
    grid = [(w, n, t, l) for w in range(s["worlds"]) for n in counts for t, l in combos]
    keys = jnp.stack([jax.random.PRNGKey(w) for w, _, _, _ in grid])  # a world shares its key across settings
    fn = jax.jit(jax.vmap(lambda k, n, t, l: run_one(k, s["size"], max(counts), s["fit_steps"], n, t, l)))
    score = fn(keys, jnp.array([n for _, n, _, _ in grid]), jnp.array([t == "regret" for _, _, t, _ in grid]),
               jnp.array([l == "regret" for _, _, _, l in grid]))
    return [dict(world=w, num_preferences=n, teacher=t, learner=l, normalised_value=float(v),
                 near_optimal=int(float(v) >= NEAR_OPTIMAL)) for (w, n, t, l), v in zip(grid, np.asarray(score))]


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for key in sorted({(r["teacher"], r["learner"], r["num_preferences"]) for r in rows}):
        sel = [r for r in rows if (r["teacher"], r["learner"], r["num_preferences"]) == key]
        frac = np.mean([r["near_optimal"] for r in sel])
        half = 1.96 * np.sqrt(frac * (1 - frac) / len(sel))
        out.append(dict(teacher=key[0], learner=key[1], num_preferences=key[2], fraction_near_optimal=float(frac),
                        ci_low=float(max(0.0, frac - half)), ci_high=float(min(1.0, frac + half)),
                        mean_normalised_value=float(np.mean([r["normalised_value"] for r in sel])), worlds=len(sel)))
    return out


def plot(summary: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), dpi=110, sharey=True)
    for ax, teacher in zip(axes, MODELS):
        for k, learner in enumerate(MODELS):
            sel = sorted((r for r in summary if r["teacher"] == teacher and r["learner"] == learner), key=lambda r: r["num_preferences"])
            x = [r["num_preferences"] for r in sel]
            ax.plot(x, [r["fraction_near_optimal"] for r in sel], marker="o", color=f"C{k}", label=f"learner: {learner}")
            ax.fill_between(x, [r["ci_low"] for r in sel], [r["ci_high"] for r in sel], color=f"C{k}", alpha=0.2)
        ax.set_xscale("log")
        ax.set_title(f"teacher: {teacher}", fontsize=9)
        ax.set_xlabel("number of preferences", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"fraction near-optimal (≥{NEAR_OPTIMAL:.0%})", fontsize=8)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _write_csv(path: str, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="smoke")
    parser.add_argument("--out", default="results/preference_models")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    rows = run(args.scale)
    summary = summarise(rows)
    os.makedirs(args.out, exist_ok=True)
    _write_csv(os.path.join(args.out, "results.csv"), rows)
    _write_csv(os.path.join(args.out, "summary.csv"), summary)
    plot(summary, os.path.join(args.out, "preference_models.png"))
    with open(os.path.join(args.out, "command.txt"), "w") as f:
        f.write("python -m experiments.preference_models " + " ".join(sys.argv[1:] if argv is None else argv) + "\n")
    for r in summary:
        print(f"teacher {r['teacher']:<15} learner {r['learner']:<15} n={r['num_preferences']:<5} "
              f"near-optimal {r['fraction_near_optimal']:.2f}  value {r['mean_normalised_value']:.2f}")
    print(f"{time.perf_counter() - t0:.0f}s -> {args.out}/")
    return summary


if __name__ == "__main__":
    main()
