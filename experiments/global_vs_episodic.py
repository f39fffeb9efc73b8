"""Global vs episodic bonuses as the environment changes more between episodes.

Tests the finding of Henaff, Jiang, Raileanu, "A Study of Global and Episodic Bonuses for
Exploration in Contextual MDPs" (ICML 2023): an episodic bonus (E3B, episodic counts)
works best when little is shared across episodes, a global one (RND) when much is, and
their product is robust across both. The knob is the number of layouts of
`contextual_rooms` (`experiments/contextual_rooms.py`) episodes are drawn from: 1 (the
same rooms every episode, everything shared) ... 0 (new rooms every episode).

Methods: PPO alone, PPO+RND (global), PPO+E3B and PPO+count (episodic), PPO+RND×E3B
(product). The episodic and product bonuses enter with `norm=scale` and weight 0.003, the
best of 0.003 / 0.01 / 0.03 for each of them in both settings at `--scale cpu` (`--weights`
sweeps it); RND keeps its own normalisation and weight 1. All methods × seeds of a setting
are one vmapped program (`experiments/bonus_sweep.py`).

    python -m experiments.global_vs_episodic --scale smoke
    python -m experiments.global_vs_episodic --scale cpu      # 1 layout vs new every episode, 1M steps
    python -m experiments.global_vs_episodic --scale cpu --weights 0.003,0.01,0.03 --seeds 2
    python -m experiments.global_vs_episodic --scale paper

Results, with their commands and dates: docs/reproductions.md, "Global vs episodic bonuses".

`--observe-visited` adds the episode's visited cells to the observation (the map memory
MiniHack gives its agents), so an episodic bonus depends only on what the policy sees.

Writes results/global_vs_episodic/: global_vs_episodic.png (final success vs number of
layouts), global_vs_episodic_curves.png (success and coverage vs env steps per setting),
with --weights global_vs_episodic_weights.png (final success vs weight), curves.csv,
final.csv, command.txt.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys

import numpy as np

import experiments.contextual_rooms  # noqa: F401  (registers the env)
from experiments.bonus_sweep import Variant, final_table, plot_curves, run_variants, write_results

BONUS_WEIGHT = 0.003
TERMS = ["rnd", "e3b:norm=scale", "count:norm=scale", "global_x_episodic:norm=scale"]
VARIANTS = [
    Variant("PPO", {}, int_coef=0.0),
    Variant("PPO+RND (global)", {"rnd": 1.0}),
    Variant("PPO+E3B (episodic)", {"e3b": BONUS_WEIGHT}),
    Variant("PPO+count (episodic)", {"count": BONUS_WEIGHT}),
    Variant("PPO+RNDxE3B (product)", {"global_x_episodic": BONUS_WEIGHT}),
]

CONTEXTS = {"smoke": [1, 0], "cpu": [1, 0], "paper": [1, 4, 32, 256, 0]}
BUDGETS = {
    "smoke": dict(num_seeds=2, total_steps=16 * 32 * 24, num_envs=16, log_points=6, hidden=(32, 32), unroll=32),
    # The two ends of the knob, long enough for a bonus to matter and short enough for a 2-core
    # CPU (run times in docs/reproductions.md).
    "cpu": dict(num_seeds=3, total_steps=1_048_576, num_envs=64, log_points=32, hidden=(64, 64), unroll=32),
    "paper": dict(num_seeds=5, total_steps=10_000_000, num_envs=256, log_points=40, hidden=(64, 64), unroll=128),
}


def label(num_contexts: int) -> str:
    return "new rooms every episode" if num_contexts == 0 else f"{num_contexts} layout{'s' if num_contexts > 1 else ''}"


def settings_for(scale: str, num_contexts: int, observe_visited: bool = False) -> dict:
    b = BUDGETS[scale]
    return dict(
        num_envs=b["num_envs"],
        total_steps=b["total_steps"],
        num_log_points=b["log_points"],
        env_options=(("num_contexts", num_contexts),) + ((("observe_visited", True),) if observe_visited else ()),
        ppo=dict(unroll_length=b["unroll"], num_minibatches=4, update_epochs=4, learning_rate=3e-4, gamma=0.99,
                 entropy_coef=0.01, policy_hidden=b["hidden"], value_hidden=b["hidden"]),
        reward=dict(rnd=dict(predictor_hidden=b["hidden"] + (b["hidden"][-1],), target_hidden=b["hidden"]),
                    # With the visited cells observed, every observation of an episode is new:
                    # the count keys on the agent's cell instead.
                    e3b=dict(hidden=b["hidden"]), count=dict(source="cell" if observe_visited else "grid")),
    )


def plot_final(table: list[dict], contexts: list[int], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.6), dpi=110)
    x = np.arange(len(contexts))
    variants = list(dict.fromkeys(t["variant"] for t in table))
    for k, variant in enumerate(variants):
        sel = [next(t for t in table if t["env"] == label(c) and t["variant"] == variant) for c in contexts]
        mean = np.array([t["success"] for t in sel])
        err = np.array([[t["success"] - t["success_lo"], t["success_hi"] - t["success"]] for t in sel]).T
        ax.errorbar(x + 0.06 * (k - len(variants) / 2), mean, yerr=err, marker="o", capsize=3, label=variant, color=f"C{k}")
    ax.set_xticks(x, [label(c) for c in contexts], fontsize=8)
    ax.set_ylabel("final success rate")
    ax.set_xlabel("layouts episodes are drawn from (more: less shared)")
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_weights(table: list[dict], contexts: list[int], weights: list[float], path: str) -> None:
    """With --weights: final success vs bonus weight per swept method, one panel per
    setting; PPO alone and RND (unswept) as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, len(contexts), figsize=(4.2 * len(contexts), 3.4), dpi=110, squeeze=False)
    for ax, c in zip(axes[0], contexts):
        sel = [t for t in table if t["env"] == label(c)]
        swept = list(dict.fromkeys(t["variant"].rsplit(" w=", 1)[0] for t in sel if " w=" in t["variant"]))
        for k, method in enumerate(swept):
            rows = [next(t for t in sel if t["variant"] == f"{method} w={w:g}") for w in weights]
            err = np.array([[t["success"] - t["success_lo"], t["success_hi"] - t["success"]] for t in rows]).T
            ax.errorbar(weights, [t["success"] for t in rows], yerr=err, marker="o", capsize=3, label=method, color=f"C{k + 2}")
        for k, t in enumerate(t for t in sel if " w=" not in t["variant"]):
            ax.axhline(t["success"], color=f"C{k}", linestyle="--", label=t["variant"])
        ax.set_xscale("log")
        ax.set_xticks(weights, [f"{w:g}" for w in weights])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(label(c), fontsize=9)
        ax.set_xlabel("bonus weight (norm=scale)")
        ax.set_ylabel("final success rate")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(BUDGETS), default="smoke")
    parser.add_argument("--contexts", default=None, help="comma-separated numbers of layouts (0: new every episode)")
    parser.add_argument("--methods", default=None, help="comma-separated variant names (default: all)")
    parser.add_argument("--weights", default=None,
                        help="comma-separated bonus weights to sweep for the episodic and product methods (one variant per "
                             f"method and weight; default: {BONUS_WEIGHT}); RND keeps its own normalisation and weight 1")
    parser.add_argument("--observe-visited", action="store_true",
                        help="append the episode's visited cells to the observation (MiniHack's map memory)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per method (default: the scale's)")
    parser.add_argument("--out", default=os.path.join("results", "global_vs_episodic"))
    args = parser.parse_args(argv)

    contexts = [int(c) for c in args.contexts.split(",")] if args.contexts else CONTEXTS[args.scale]
    variants = VARIANTS if not args.methods else [v for v in VARIANTS if v.name.split(" ")[0] in args.methods.split(",")]
    if args.weights:
        sweep = [float(w) for w in args.weights.split(",")]
        variants = [v for v in variants if "rnd" in v.weights or not v.weights] + [
            Variant(f"{v.name} w={w:g}", {name: w for name in v.weights})
            for v in variants if v.weights and "rnd" not in v.weights for w in sweep
        ]
    num_seeds = args.seeds or BUDGETS[args.scale]["num_seeds"]
    used = {name for v in variants for name in v.weights}
    terms = [t for t in TERMS if t.split(":")[0] in used] or TERMS[:1]

    rows = []
    for c in contexts:
        rows += run_variants("contextual_rooms", terms, variants, num_seeds, settings_for(args.scale, c, args.observe_visited), label(c))

    write_results(args.out, rows, ["experiments.global_vs_episodic"] + (argv if argv is not None else sys.argv[1:]))
    table = final_table(rows)
    with open(os.path.join(args.out, "final.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    plot_curves(rows, os.path.join(args.out, "global_vs_episodic_curves.png"), [label(c) for c in contexts],
                title=f"contextual_rooms ({args.scale} scale): mean and 95% band over seeds")
    plot_final(table, contexts, os.path.join(args.out, "global_vs_episodic.png"))
    if args.weights:
        plot_weights(table, contexts, sweep, os.path.join(args.out, "global_vs_episodic_weights.png"))
    for t in table:
        print(f"{t['env']:<24} {t['variant']:<30} success {t['success']:.2f} [{t['success_lo']:.2f}, {t['success_hi']:.2f}]"
              f"  coverage {t['coverage']:.2f}")
    print(f"results in {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
