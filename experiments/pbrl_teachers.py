"""B-Pref's robustness figure: gold return vs env steps for the six scripted teachers.

Lee, Smith, Dragan, Abbeel, "B-Pref: Benchmarking Preference-Based Reinforcement
Learning" (NeurIPS 2021 Datasets & Benchmarks), Fig. 3: PEBBLE (SAC) and PPO learning from
the Oracle, Noisy (β = 1), Mistake (ε = 0.1), Skip (ε = 0.1), Myopic (γ = 0.9) and Equal
(ε = 0.1) teachers at two feedback budgets, against SAC/PPO on the gold reward.

The six teachers × seeds of one (task, learner, budget) are one compiled program
(`pbrl_runs`): a teacher is a leaf of the reward state.

Scales:
    python -m experiments.pbrl_teachers --scale smoke   # pendulum, PPO, 2 budgets, 1 seed: 13 runs in 1 program
    python -m experiments.pbrl_teachers --scale paper   # walker2d and push, SAC (PEBBLE) and PPO, B-Pref budgets, 5 seeds

Note for pendulum (smoke): its rewards are negative, and B-Pref's skip threshold
ε_skip · R̄ is then ≤ 0, which B-Pref treats as "skip nothing" — so Skip equals Oracle
there by definition (see `rewards/preference/teachers.py`). The paper-scale tasks have
positive rewards.

Writes results/pbrl_teachers/: pbrl_teachers.png, curves.csv (every log point),
final.csv (mean gold return over the last 20% of log points, per teacher and budget)
and command.txt.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from experiments import pbrl_runs
from experiments.pbrl_runs import Variant
from jaxreward.rewards.preference import teachers

TEACHERS = list(teachers.PRESETS)

PPO_PENDULUM = dict(total_steps=300_000, num_log_points=10)
PREF_PENDULUM = dict(feedback_every=4, initial_fraction=0.3, queries_per_session=50)
SAC_PEBBLE = dict(feedback_every=250, initial_fraction=0.1, queries_per_session=50, window_length=200)

SCALES = {
    "smoke": dict(seeds=1, settings=[
        ("pendulum", "ppo", (300, 1000), dict(PPO_PENDULUM, reward={"preference": PREF_PENDULUM})),
    ]),
    # B-Pref budgets: walker 500/1000, Meta-World-like manipulation 10000/20000.
    "paper": dict(seeds=5, settings=[
        ("walker2d", "sac", (500, 1000), dict(total_steps=1_000_000, reward={"preference": dict(SAC_PEBBLE, pretrain_iterations=600)})),
        ("walker2d", "ppo", (500, 1000), dict(total_steps=5_000_000, reward={"preference": PREF_PENDULUM})),
        ("push", "sac", (10_000, 20_000), dict(total_steps=1_000_000, reward={"preference": dict(SAC_PEBBLE, queries_per_session=500)})),
        ("push", "ppo", (10_000, 20_000), dict(total_steps=5_000_000, reward={"preference": dict(PREF_PENDULUM, queries_per_session=500)})),
    ]),
}


def run(scale: str, partial_csv: str | None = None) -> list[dict]:
    cfg = SCALES[scale]
    rows = []
    for env, learner, budgets, settings in cfg["settings"]:
        # Budgets are leaves too: every teacher × budget × seed of a setting is one program.
        variants = [Variant(f"{t} ({b})", t, b) for b in budgets for t in TEACHERS] + [Variant("gold reward", "gold")]
        rows += pbrl_runs.run(env, learner, variants, cfg["seeds"], settings, label=f"{env}/{learner}",
                              partial_csv=partial_csv)
    return rows


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys((r["setting"], r["budget"]) for r in rows if r["teacher"] != "gold"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.3), dpi=110, squeeze=False)
    for ax, (setting, budget) in zip(axes[0], panels):
        panel = f"{setting}, {budget} labels"
        sel_rows = [r for r in rows if r["setting"] == setting and (r["budget"] == budget or r["teacher"] == "gold")]
        for k, variant in enumerate(dict.fromkeys(r["variant"] for r in sel_rows)):
            sel = [r for r in sel_rows if r["variant"] == variant]
            steps = sorted({r["env_steps"] for r in sel})
            stats = np.array([pbrl_runs.mean_ci([r["gold_return"] for r in sel if r["env_steps"] == s]) for s in steps])
            style = dict(color="k", linestyle="--") if variant == "gold reward" else dict(color=f"C{k}")
            if variant.startswith("oracle"):  # drawn wide: other teachers (skip on negative rewards) can coincide with it
                style.update(linewidth=4, alpha=0.4)
            ax.plot(steps, stats[:, 0], label=variant.split(" (")[0], **style)
            ax.fill_between(steps, stats[:, 1], stats[:, 2], alpha=0.15, color=style["color"])
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("env steps", fontsize=8)
        ax.set_ylabel("gold return", fontsize=8)
        pbrl_runs.style_axis(ax)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="smoke")
    parser.add_argument("--from-csv", action="store_true", help="redraw the figure and tables from <out>/curves.csv without training")
    parser.add_argument("--out", default="results/pbrl_teachers")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.from_csv:
        rows = pbrl_runs.read_csv(os.path.join(args.out, "curves.csv"))
    else:
        partial = os.path.join(args.out, "curves.partial.csv")
        if os.path.exists(partial):
            os.remove(partial)
        rows = run(args.scale, partial)
        os.remove(partial)
        pbrl_runs.write_csv(os.path.join(args.out, "curves.csv"), rows)
    final = []
    for (setting, variant), per_seed in sorted(pbrl_runs.final_returns(rows).items()):
        mean, lo, hi = pbrl_runs.mean_ci(per_seed)
        final.append(dict(setting=setting, variant=variant, gold_return=mean, ci_low=lo, ci_high=hi, seeds=len(per_seed)))
        print(f"{setting:<32} {variant:<22} gold return {mean:9.1f}  [{lo:.1f}, {hi:.1f}]")
    pbrl_runs.write_csv(os.path.join(args.out, "final.csv"), final)
    plot(rows, os.path.join(args.out, "pbrl_teachers.png"))
    if not args.from_csv:
        pbrl_runs.write_command(args.out, "experiments.pbrl_teachers", sys.argv[1:] if argv is None else argv)
    return final


if __name__ == "__main__":
    main()
