"""Fraction of gold-reward performance recovered vs number of labels, uniform vs disagreement.

The feedback-efficiency curve of PbRL papers (Christiano et al. 2017, Fig. 2; PEBBLE,
Lee et al. 2021, Fig. 4): the same learner trained on the reward learned from B labels of
an oracle teacher, for B from a hundred to thousands, with queries chosen uniformly or by
ensemble disagreement. The y-axis is the normalised score
(R_preference − R_random) / (R_gold − R_random), R_random the return of uniform random
actions, so 1 means the gold reward's performance at the same budget of env steps.

All budgets × seeds of one selection rule are one program (the budget is a leaf of the
reward state); the selection rule changes the program, so there is one per rule.

    python -m experiments.pbrl_feedback_budget --scale smoke   # pendulum, PPO, 3 budgets, 1 seed
    python -m experiments.pbrl_feedback_budget --scale paper   # walker2d, SAC (PEBBLE), 100 … 10,000 labels, 5 seeds

Writes results/pbrl_feedback_budget/: pbrl_feedback_budget.png, curves.csv, final.csv
(score per budget and selection) and command.txt.
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import numpy as np

import envs
from experiments import pbrl_runs
from experiments.pbrl_runs import Variant

SCALES = {
    "smoke": dict(env="pendulum", learner="ppo", seeds=1, budgets=(100, 300, 1000),
                  settings=dict(total_steps=300_000, num_log_points=10,
                                reward={"preference": dict(feedback_every=4, initial_fraction=0.3, queries_per_session=50)})),
    "paper": dict(env="walker2d", learner="sac", seeds=5, budgets=(100, 300, 1000, 3000, 10_000),
                  settings=dict(total_steps=1_000_000,
                                reward={"preference": dict(feedback_every=250, initial_fraction=0.1, queries_per_session=200,
                                                           window_length=200, pretrain_iterations=600)})),
}
SELECTIONS = ("uniform", "disagreement")


def random_return(env_name: str, episodes: int = 64, seed: int = 123) -> float:
    """Mean return of uniform random actions over `episodes` full episodes."""
    env = envs.training_wrap(envs.make(env_name))
    length = env.episode_length if hasattr(env, "episode_length") else env.default_episode_length

    @jax.jit
    def rollout(key):
        k_reset, k_act = jax.random.split(key)
        state = env.reset(jax.random.split(k_reset, episodes))

        def step(s, k):
            s = env.step(s, jax.random.uniform(k, (episodes, env.action_size), minval=-1, maxval=1))
            return s, s.reward

        _, rewards = jax.lax.scan(step, state, jax.random.split(k_act, length))
        return rewards.sum(0).mean()

    return float(rollout(jax.random.PRNGKey(seed)))


def run(scale: str, partial_csv: str | None = None) -> tuple[list[dict], float]:
    cfg = SCALES[scale]
    rows = []
    for selection in SELECTIONS:
        settings = dict(cfg["settings"])
        settings["reward"] = {"preference": dict(settings["reward"]["preference"], selection=selection)}
        variants = [Variant(f"{selection} ({b})", "oracle", b) for b in cfg["budgets"]]
        rows += pbrl_runs.run(cfg["env"], cfg["learner"], variants, cfg["seeds"], settings, label=selection,
                              partial_csv=partial_csv)
    rows += pbrl_runs.run(cfg["env"], cfg["learner"], [Variant("gold reward", "gold")], cfg["seeds"], cfg["settings"], label="gold",
                          partial_csv=partial_csv)
    return rows, random_return(cfg["env"])


def scores(rows: list[dict], r_random: float) -> list[dict]:
    final = pbrl_runs.final_returns(rows)
    gold = np.mean(final[("gold", "gold reward")])
    out = []
    for (setting, variant), per_seed in sorted(final.items()):
        if setting == "gold":
            continue
        budget = int(variant.split("(")[1].rstrip(")"))
        norm = [(r - r_random) / (gold - r_random) for r in per_seed]
        mean, lo, hi = pbrl_runs.mean_ci(norm)
        out.append(dict(selection=setting, budget=budget, score=mean, ci_low=lo, ci_high=hi,
                        gold_return=float(np.mean(per_seed)), gold_reward_return=float(gold), random_return=r_random,
                        seeds=len(per_seed)))
    return sorted(out, key=lambda r: (r["selection"], r["budget"]))


def plot(table: list[dict], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 3.3), dpi=110)
    for k, selection in enumerate(SELECTIONS):
        sel = [r for r in table if r["selection"] == selection]
        x = [r["budget"] for r in sel]
        ax.plot(x, [r["score"] for r in sel], marker="o", color=f"C{k}", label=selection)
        ax.fill_between(x, [r["ci_low"] for r in sel], [r["ci_high"] for r in sel], color=f"C{k}", alpha=0.2)
    ax.axhline(1.0, color="k", linestyle="--", linewidth=1, label="gold reward")
    ax.set_xscale("log")
    ax.set_xlabel("labels (feedback budget)", fontsize=8)
    ax.set_ylabel("fraction of gold performance", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="smoke")
    parser.add_argument("--from-csv", action="store_true", help="redraw the figure and tables from <out>/curves.csv without training")
    parser.add_argument("--out", default="results/pbrl_feedback_budget")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.from_csv:
        rows, r_random = pbrl_runs.read_csv(os.path.join(args.out, "curves.csv")), random_return(SCALES[args.scale]["env"])
    else:
        partial = os.path.join(args.out, "curves.partial.csv")
        if os.path.exists(partial):
            os.remove(partial)
        rows, r_random = run(args.scale, partial)
        os.remove(partial)
        pbrl_runs.write_csv(os.path.join(args.out, "curves.csv"), rows)
    table = scores(rows, r_random)
    pbrl_runs.write_csv(os.path.join(args.out, "final.csv"), table)
    for r in table:
        print(f"{r['selection']:<13} {r['budget']:>6} labels: score {r['score']:.2f}  (return {r['gold_return']:.1f}; "
              f"gold {r['gold_reward_return']:.1f}, random {r['random_return']:.1f})")
    cfg = SCALES[args.scale]
    plot(table, os.path.join(args.out, "pbrl_feedback_budget.png"), f"{cfg['env']}, {cfg['learner']}: oracle labels")
    if not args.from_csv:
        pbrl_runs.write_command(args.out, "experiments.pbrl_feedback_budget", sys.argv[1:] if argv is None else argv)
    return table


if __name__ == "__main__":
    main()
