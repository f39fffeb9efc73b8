"""Reward distance vs regret on random MDPs: do EPIC, DARD and STARC predict regret?

After Skalse et al., "STARC: A General Framework For Quantifying Differences Between Reward
Functions" (ICLR 2024), whose evaluation samples random MDPs and reward pairs and reports
how well each distance ranks the pairs by regret. For each random MDP (`tabular.random_mdp`)
we draw a true reward R and a proxy

    R' = c · (R + ε·N) + γΦ(s') − Φ(s) + redistribution

with a random positive scale c, noise level ε (log-uniform), a random potential Φ and a
random S'-redistribution (the last three change no policy's ranking). Regret is that of
R''s optimal policy under R, normalised by the range of R's returns:
(J_R(π*_R) − J_R(π*_R')) / (J_R(π*_R) − J_R(π*_{−R})). Distances: EPIC, DARD, STARC
(`evaluation.distances`), and, as the baseline the canonicalisations exist to beat, the L2
distance between the raw rewards scaled to unit norm. Rank agreement is Spearman's ρ.

    python -m experiments.reward_distance_vs_regret --scale smoke   # seconds on a 2-core CPU
    python -m experiments.reward_distance_vs_regret --scale paper   # 1000 MDPs x 10 pairs, 32 states

Writes results/reward_distance_vs_regret/: reward_distance_vs_regret.png, results.csv (one
row per pair), summary.csv (Spearman ρ per distance) and command.txt.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxreward import tabular
from jaxreward.evaluation import distances

SCALES = {
    "smoke": dict(mdps=48, pairs=8, states=8, actions=3),
    "paper": dict(mdps=1000, pairs=10, states=32, actions=4),
}
DISCOUNT = 0.9
METRICS = ("epic", "dard", "starc", "l2_raw")


def one_pair(mdp: tabular.MDP, true, noise, eps, scale, phi, redis) -> dict:
    """One reward pair on one MDP: distances and the proxy optimum's regret under `true`."""
    proxy = (scale * (true + eps * noise)
             + mdp.discount * phi[None, None, :] - phi[:, None, None]
             + redis - (mdp.transition * redis).sum(-1, keepdims=True))
    best = tabular.policy_return(mdp, true, tabular.greedy_policy(tabular.value_iteration(mdp, true)))
    worst = tabular.policy_return(mdp, true, tabular.greedy_policy(tabular.value_iteration(mdp, -true)))
    got = tabular.policy_return(mdp, true, tabular.greedy_policy(tabular.value_iteration(mdp, proxy)))
    unit = lambda r: r / jnp.linalg.norm(r)  # noqa: E731
    return dict(
        regret=(best - got) / (best - worst),
        epic=distances.epic(true, proxy, mdp.discount), dard=distances.dard(true, proxy, mdp),
        starc=distances.starc(true, proxy, mdp), l2_raw=jnp.linalg.norm(unit(true) - unit(proxy)),
    )


def draw(rng: np.random.Generator, mdps: int, pairs: int, states: int, actions: int) -> dict:
    """Every random quantity, drawn on the host (nothing random to compile)."""
    shape = (mdps, pairs, states, actions, states)
    return dict(
        true=rng.normal(size=shape), noise=rng.normal(size=shape),
        eps=10.0 ** rng.uniform(-2.0, 0.5, (mdps, pairs)), scale=10.0 ** rng.uniform(-0.5, 0.7, (mdps, pairs)),
        phi=3.0 * rng.normal(size=(mdps, pairs, states)), redis=rng.normal(size=shape),
    )


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties)."""

    def ranks(v):
        order = np.argsort(v, kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(len(v))
        for value in np.unique(v[np.r_[False, np.diff(v[order]) == 0]] if len(v) > 1 else []):
            r[v == value] = r[v == value].mean()
        return r

    return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


def run(scale: str, seed: int = 0) -> list[dict]:
    cfg = SCALES[scale]
    rng = np.random.default_rng(seed)
    mdp = tabular.random_mdps(rng, cfg["mdps"], cfg["states"], cfg["actions"], DISCOUNT)
    draws = draw(rng, cfg["mdps"], cfg["pairs"], cfg["states"], cfg["actions"])
    draws_f32 = {k: jnp.asarray(v, jnp.float32) for k, v in draws.items()}
    per_mdp = jax.vmap(lambda m, d: jax.vmap(lambda x: one_pair(m, **x))(d))
    out = jax.tree.map(np.asarray, jax.jit(per_mdp)(mdp, draws_f32))
    rows = []
    for m in range(cfg["mdps"]):
        for p in range(cfg["pairs"]):
            rows.append({"mdp": m, "pair": p, "noise": float(draws["eps"][m, p]), "scale": float(draws["scale"][m, p]),
                         **{k: float(v[m, p]) for k, v in out.items()}})
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    regret = np.array([r["regret"] for r in rows])
    return [dict(distance=m, spearman_vs_regret=spearman(np.array([r[m] for r in rows]), regret), pairs=len(rows)) for m in METRICS]


def plot(rows: list[dict], summary: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rho = {s["distance"]: s["spearman_vs_regret"] for s in summary}
    fig, axes = plt.subplots(1, len(METRICS), figsize=(3.4 * len(METRICS), 3.1), dpi=110)
    regret = np.array([r["regret"] for r in rows])
    for ax, m in zip(axes, METRICS):
        ax.scatter([r[m] for r in rows], regret, s=5, alpha=0.5)
        ax.set_title(f"{m}  (Spearman ρ = {rho[m]:.2f})", fontsize=9)
        ax.set_xlabel(f"{m} distance", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("normalised regret", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_csv(path: str, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="smoke")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/reward_distance_vs_regret")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    start = time.time()
    rows = run(args.scale, args.seed)
    summary = summarise(rows)
    for s in summary:
        print(f"{s['distance']:<8} Spearman ρ vs regret {s['spearman_vs_regret']:+.3f}  ({s['pairs']} pairs)")
    print(f"{time.time() - start:.1f}s")
    write_csv(os.path.join(args.out, "results.csv"), rows)
    write_csv(os.path.join(args.out, "summary.csv"), summary)
    plot(rows, summary, os.path.join(args.out, "reward_distance_vs_regret.png"))
    with open(os.path.join(args.out, "command.txt"), "w") as f:
        f.write("python -m experiments.reward_distance_vs_regret " + " ".join(sys.argv[1:] if argv is None else argv) + "\n")
    return summary


if __name__ == "__main__":
    main()
