"""Sparse-reward exploration: success rate and coverage vs env steps, PPO with and without bonuses.

On sparse tasks where dithering exploration rarely sees a reward — point mazes, mountain
car, deep sea of several sizes, the ant maze — the figure sets PPO alone against PPO + RND
(Burda et al. 2019), ICM (Pathak et al. 2017), E3B (Henaff et al. 2022), an episodic count
and global × episodic (RND × E3B; Henaff, Jiang, Raileanu 2023).
Success is the fraction of episodes ending in success; coverage the fraction of the env's
reachable cells (`metrics["cell"]`; wall cells excluded, `env.reachable_cells`) visited since
training began. Lines are means over seeds, bands
95% normal-approximation intervals; all variants × seeds of an env are one vmapped program
(`experiments/bonus_sweep.py`).

Bonus scales: RND divides itself by the running std of its discounted return (the paper's
normalisation); the others are divided by the running root mean square of their per-step
value (`norm=scale`) and weighted `BONUS_WEIGHT`. PPO combines advantages 2·A_ext + 1·A_int.
The point maze terminates at the goal here (`terminate_at_goal`), so that an episode's
success means the goal was reached, not that the point sat on it at the time limit.

    python -m experiments.exploration_sparse --scale smoke     # minutes on a 2-core CPU
    python -m experiments.exploration_sparse --scale cpu       # deep sea 10 and 20, 1M steps, 3 seeds
    python -m experiments.exploration_sparse --scale paper     # GPU/TPU budget

Results, with their commands and dates: docs/reproductions.md, "Sparse-reward exploration".

Writes results/exploration_sparse/: exploration_sparse.png, curves.csv (every log point,
run), final.csv (last log point: mean and band per env and method), command.txt.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys

from experiments.bonus_sweep import Variant, final_table, plot_curves, run_variants, write_results

BONUS_WEIGHT = 0.05
TERMS = ["rnd", "icm:norm=scale", "e3b:norm=scale", "count:norm=scale", "global_x_episodic:norm=scale"]
VARIANTS = [
    Variant("PPO", {}, int_coef=0.0),
    Variant("PPO+RND", {"rnd": 1.0}),
    Variant("PPO+ICM", {"icm": BONUS_WEIGHT}),
    Variant("PPO+E3B", {"e3b": BONUS_WEIGHT}),
    Variant("PPO+count", {"count": BONUS_WEIGHT}),
    Variant("PPO+RNDxE3B", {"global_x_episodic": BONUS_WEIGHT}),
]

#: (label, env, env options, episode length or None)
SETTINGS = {
    "smoke": [
        ("deep_sea_8", "deep_sea", (("size", 8),), None),
        ("point_maze_u", "point_maze_sparse", (("terminate_at_goal", True),), None),
    ],
    # Between the two: deep sea at two sizes, long enough for a bonus to matter and short enough
    # for a 2-core CPU (run times in docs/reproductions.md).
    "cpu": [
        ("deep_sea_10", "deep_sea", (("size", 10),), None),
        ("deep_sea_20", "deep_sea", (("size", 20),), None),
    ],
    "paper": [
        ("point_maze_medium", "point_maze_medium_sparse", (("terminate_at_goal", True),), None),
        ("point_maze_large", "point_maze_large_sparse", (("terminate_at_goal", True),), None),
        ("mountain_car", "mountain_car_sparse", (), None),
        ("deep_sea_10", "deep_sea", (("size", 10),), None),
        ("deep_sea_20", "deep_sea", (("size", 20),), None),
        ("deep_sea_30", "deep_sea", (("size", 30),), None),
        ("ant_maze", "ant_maze", (), None),
    ],
}

BUDGETS = {
    "smoke": dict(num_seeds=2, total_steps=16 * 32 * 24, num_envs=16, log_points=8, hidden=(32, 32), unroll=32),
    "cpu": dict(num_seeds=3, total_steps=1_048_576, num_envs=64, log_points=32, hidden=(64, 64), unroll=32),
    "paper": dict(num_seeds=5, total_steps=20_000_000, num_envs=256, log_points=50, hidden=(64, 64), unroll=128),
}


def settings_for(scale: str, env_options, episode_length) -> dict:
    b = BUDGETS[scale]
    out = dict(
        num_envs=b["num_envs"],
        total_steps=b["total_steps"],
        num_log_points=b["log_points"],
        env_options=env_options,
        ppo=dict(unroll_length=b["unroll"], num_minibatches=4, update_epochs=4, learning_rate=3e-4, gamma=0.99,
                 entropy_coef=0.01, policy_hidden=b["hidden"], value_hidden=b["hidden"]),
        reward=dict(rnd=dict(predictor_hidden=b["hidden"] + (b["hidden"][-1],), target_hidden=b["hidden"]),
                    icm=dict(hidden=b["hidden"]), e3b=dict(hidden=b["hidden"])),
    )
    if episode_length is not None:
        out["episode_length"] = episode_length
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(BUDGETS), default="smoke")
    parser.add_argument("--envs", default=None, help="comma-separated labels to run (default: all of the scale)")
    parser.add_argument("--methods", default=None, help="comma-separated variant names (default: all)")
    parser.add_argument("--out", default=os.path.join("results", "exploration_sparse"))
    args = parser.parse_args(argv)

    settings = SETTINGS[args.scale]
    if args.envs:
        wanted = args.envs.split(",")
        settings = [s for s in settings if s[0] in wanted]
        if not settings:
            parser.error(f"--envs: none of {wanted} in {[s[0] for s in SETTINGS[args.scale]]}")
    variants = VARIANTS if not args.methods else [v for v in VARIANTS if v.name in args.methods.split(",")]
    used = {name for v in variants for name in v.weights}
    terms = [t for t in TERMS if t.split(":")[0] in used] or TERMS[:1]

    rows = []
    for label, env, options, episode_length in settings:
        rows += run_variants(env, terms, variants, BUDGETS[args.scale]["num_seeds"], settings_for(args.scale, options, episode_length), label)

    write_results(args.out, rows, ["experiments.exploration_sparse"] + (argv if argv is not None else sys.argv[1:]))
    table = final_table(rows)
    with open(os.path.join(args.out, "final.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    plot_curves(rows, os.path.join(args.out, "exploration_sparse.png"), [s[0] for s in settings],
                title=f"Sparse exploration ({args.scale} scale): mean and 95% band over seeds")
    for t in table:
        print(f"{t['env']:<20} {t['variant']:<12} success {t['success']:.2f} [{t['success_lo']:.2f}, {t['success_hi']:.2f}]"
              f"  coverage {t['coverage']:.2f} [{t['coverage_lo']:.2f}, {t['coverage_hi']:.2f}]")
    print(f"results in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
