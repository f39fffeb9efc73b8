"""Goodhart's law on tabular MDPs: true return vs optimisation pressure on a proxy, and early stopping.

After Karwowski, Hayman, Bai, Kiendlhofer, Griffin, Skalse, "Goodhart's Law in
Reinforcement Learning" (ICLR 2024). Policies are points η (state-action occupancy measures)
of a polytope, and a reward r scores η by η·r; only r's projection onto the directions
the polytope spans matters (its complement is potential shaping). For a true reward r₀ we
build proxies r₁ whose projections sit at a controlled angle θ to r₀'s, and optimise r₁
with increasing pressure: maximum-causal-entropy policies softmax(β·Q_soft) of r₁ for an
increasing inverse temperature β (the paper's MCE path). Along the path we record the true
return (normalised to [0, 1] by the best and worst policies of r₀) and the proxy return.

Goodharting: the true return peaks and then falls. Normalised drop height (the paper's
measure): peak minus final true return.

Early stopping (the paper's pessimistic rule, with θ known here; in practice an upper
bound): stop before the first step whose direction d = η_{k+1} − η_k makes an angle
≥ π/2 − θ with the proxy. Until then d is within π/2 of r₀, so the true return can only
rise — guaranteed, whatever r₀ is among the rewards within θ of r₁.

    python -m experiments.goodhart --scale smoke   # seconds on a 2-core CPU
    python -m experiments.goodhart --scale paper   # 500 MDPs, 24 states, finer angles

Writes results/goodhart/: goodhart.png, curves.csv (one row per MDP × angle × β),
summary.csv (per angle: peak, final and early-stopped true return, drop height, fraction of
runs that Goodhart) and command.txt.
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

SCALES = {
    "smoke": dict(mdps=24, states=10, actions=3, angles=(0, 15, 30, 45, 60, 75, 90), betas=48),
    "paper": dict(mdps=500, states=24, actions=4, angles=tuple(range(0, 91, 5)), betas=120),
}
DISCOUNT = 0.9
BETA_RANGE = (-1.0, 3.0)  # log10 of the inverse temperature; rewards have unit norm per (s, a)
GOODHART_DROP = 1e-3


def occupancy_projector(mdp: tabular.MDP) -> jax.Array:
    """[SA, SA] orthogonal projector onto the directions the occupancy polytope spans: the
    null space of the Bellman-flow constraints Σ_a η(s,a) − γ Σ_{s',a'} T(s|s',a') η(s',a') = μ(s)."""
    S, A = mdp.num_states, mdp.num_actions
    flow = jnp.repeat(jnp.eye(S), A, axis=1) - mdp.discount * mdp.transition.reshape(S * A, S).T  # [S, SA]
    return jnp.eye(S * A) - flow.T @ jnp.linalg.solve(flow @ flow.T, flow)


def soft_policy(mdp: tabular.MDP, reward_sa: jax.Array, beta, iterations: int = 300) -> jax.Array:
    """[S, A] maximum-causal-entropy policy of a state-action reward at inverse temperature β."""

    def backup(q, _):
        v = jax.nn.logsumexp(beta * q, axis=-1) / beta
        return reward_sa + mdp.discount * mdp.transition @ v, None

    q, _ = jax.lax.scan(backup, jnp.zeros_like(reward_sa), None, length=iterations)
    return jax.nn.softmax(beta * q, axis=-1)


def one_run(mdp: tabular.MDP, true_sa, direction, theta, betas) -> dict:
    """One MDP, one angle: the true/proxy returns along the optimisation path and the stop."""
    S, A = mdp.num_states, mdp.num_actions
    proj = occupancy_projector(mdp)
    u0 = proj @ true_sa.ravel()
    u0 = u0 / jnp.linalg.norm(u0)
    v = proj @ direction.ravel()
    v = v - (v @ u0) * u0
    v = v / jnp.linalg.norm(v)
    proxy = (jnp.cos(theta) * u0 + jnp.sin(theta) * v) * jnp.sqrt(S * A)  # unit RMS per (s, a)
    proxy_sa = proxy.reshape(S, A)

    def reward3(r):  # a state-action reward as R(s, a, s')
        return jnp.broadcast_to(r[:, :, None], (S, A, S))

    best = tabular.policy_return(mdp, reward3(true_sa), tabular.greedy_policy(tabular.value_iteration(mdp, reward3(true_sa))))
    worst = tabular.policy_return(mdp, reward3(true_sa), tabular.greedy_policy(tabular.value_iteration(mdp, reward3(-true_sa))))
    occ = jax.vmap(lambda b: tabular.occupancy(mdp, soft_policy(mdp, proxy_sa, b)))(betas)  # [K, S, A]
    true_return = ((occ * true_sa).sum((1, 2)) - worst) / (best - worst)
    proxy_return = (occ * proxy_sa).sum((1, 2))
    steps = (occ[1:] - occ[:-1]).reshape(len(betas) - 1, -1)
    cos = steps @ proxy / (jnp.linalg.norm(steps, axis=-1) * jnp.linalg.norm(proxy) + 1e-30)
    # Steps too small to have a direction (the path has converged) cannot hurt: skip them.
    moving = jnp.linalg.norm(steps, axis=-1) > 1e-6
    unsafe = moving & (jnp.arccos(jnp.clip(cos, -1.0, 1.0)) >= jnp.pi / 2 - theta)
    stop = jnp.where(unsafe.any(), jnp.argmax(unsafe), len(betas) - 1)
    return dict(true_return=true_return, proxy_return=proxy_return, stop=stop)


def run(scale: str, seed: int = 0) -> tuple[list[dict], list[dict]]:
    cfg = SCALES[scale]
    rng = np.random.default_rng(seed)
    S, A, n = cfg["states"], cfg["actions"], cfg["mdps"]
    mdps = tabular.random_mdps(rng, n, S, A, DISCOUNT)
    true_sa = jnp.asarray(rng.normal(size=(n, S, A)), jnp.float32)
    direction = jnp.asarray(rng.normal(size=(n, S, A)), jnp.float32)
    thetas = jnp.deg2rad(jnp.asarray(cfg["angles"], jnp.float32))
    betas = jnp.logspace(*BETA_RANGE, cfg["betas"])
    per_angle = jax.vmap(one_run, in_axes=(None, None, None, 0, None))
    out = jax.jit(jax.vmap(per_angle, in_axes=(0, 0, 0, None, None)))(mdps, true_sa, direction, thetas, betas)
    out = jax.tree.map(np.asarray, out)  # [mdps, angles, ...]
    curves, summary = [], []
    for j, angle in enumerate(cfg["angles"]):
        peak, final, stopped, drops = [], [], [], []
        for m in range(n):
            tr, pr, stop = out["true_return"][m, j], out["proxy_return"][m, j], int(out["stop"][m, j])
            for k, beta in enumerate(np.asarray(betas)):
                curves.append(dict(angle=angle, mdp=m, beta=float(beta), true_return=float(tr[k]),
                                   proxy_return=float(pr[k]), stopped=int(k == stop)))
            peak.append(tr.max())
            final.append(tr[-1])
            stopped.append(tr[stop])
            drops.append(tr.max() - tr[-1])
        drops = np.array(drops)
        summary.append(dict(angle=angle, peak_true_return=float(np.mean(peak)), final_true_return=float(np.mean(final)),
                            stopped_true_return=float(np.mean(stopped)), drop_height=float(drops.mean()),
                            fraction_goodharting=float((drops > GOODHART_DROP).mean()), mdps=n))
    return curves, summary


def plot(curves: list[dict], summary: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110)
    angles = [s["angle"] for s in summary]
    cmap = plt.get_cmap("viridis")
    for i, angle in enumerate(angles):
        sel = [c for c in curves if c["angle"] == angle]
        betas = sorted({c["beta"] for c in sel})
        mean = [np.mean([c["true_return"] for c in sel if c["beta"] == b]) for b in betas]
        ax.plot(betas, mean, color=cmap(i / max(len(angles) - 1, 1)), label=f"θ = {angle}°")
    ax.set_xscale("log")
    ax.set_xlabel("optimisation pressure β (inverse temperature)", fontsize=8)
    ax.set_ylabel("true return (normalised, mean over MDPs)", fontsize=8)
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
    for key, label in (("peak_true_return", "peak"), ("final_true_return", "fully optimised"), ("stopped_true_return", "early-stopped")):
        ax2.plot(angles, [s[key] for s in summary], marker="o", label=label)
    ax2.set_xlabel("angle θ between proxy and true reward (degrees)", fontsize=8)
    ax2.set_ylabel("true return (normalised)", fontsize=8)
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
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
    parser.add_argument("--out", default="results/goodhart")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    start = time.time()
    curves, summary = run(args.scale, args.seed)
    print(f"{'angle':>5} {'peak':>6} {'final':>6} {'stopped':>7} {'drop':>6} {'goodharting':>11}")
    for s in summary:
        print(f"{s['angle']:>5} {s['peak_true_return']:6.3f} {s['final_true_return']:6.3f} {s['stopped_true_return']:7.3f} "
              f"{s['drop_height']:6.3f} {s['fraction_goodharting']:11.2f}")
    print(f"{time.time() - start:.1f}s")
    write_csv(os.path.join(args.out, "curves.csv"), curves)
    write_csv(os.path.join(args.out, "summary.csv"), summary)
    plot(curves, summary, os.path.join(args.out, "goodhart.png"))
    with open(os.path.join(args.out, "command.txt"), "w") as f:
        f.write("python -m experiments.goodhart " + " ".join(sys.argv[1:] if argv is None else argv) + "\n")
    return summary


if __name__ == "__main__":
    main()
