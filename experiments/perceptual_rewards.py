"""Perceptual rewards vs the hand-designed dense reward along held-out demonstrations.

The quantitative evaluation of Sermanet, Xu & Levine, "Unsupervised Perceptual Rewards for
Imitation Learning" (RSS 2017): a reward learned from a few demonstration videos, scored
against the task's hand-designed dense reward on demonstrations it has not seen. For each
task: scripted demonstrations with action noise (`jaxreward demos`), a time-contrastive
encoder trained on the training demos' frames (`rewards/perceptual/tcn.py`), then the
perceptual reward and the three embedding-distance baselines (`rewards/perceptual/models.py`)
evaluated on held-out demos. Per held-out trajectory and reward: the Pearson correlation
with the env's dense reward, and whether the reward is higher where the task first succeeds
than at the start.

    python -m experiments.perceptual_rewards --scale smoke              # minutes, 2-core CPU
    python -m experiments.perceptual_rewards --scale paper              # more demos, larger frames

Writes results/perceptual_rewards/: perceptual_rewards.png (per task: mean of each reward
along held-out trajectories, min-max scaled, beside the dense reward; correlation bars),
trajectories.csv (per task, demo, step: dense reward and each learned reward),
correlation.csv (per task, reward, held-out demo: Pearson r, increase flag), summary.csv
(per task and reward: mean and std of r, increase rate) and command.txt.
Not done yet: PPO success vs env steps on each reward (the issue's second figure).
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

from jaxreward import demos as demo_io
from jaxreward.rewards.base import RewardSpec, TransitionBatch
from jaxreward.rewards.perceptual import models, tcn

SCALES = {
    # Smoke episodes are cut to about twice the scripted controllers' time to success (reach's
    # 24 steps and TCN settings are those of tests/test_perceptual.py, so the tests share
    # their compiled programs).
    "smoke": dict(train_demos=6, test_demos=6, size=32, episode_length={"reach": 24, "push": 60, "drawer_open": 40},
                  tcn_steps=150, num_steps=3),
    "paper": dict(train_demos=16, test_demos=16, size=64, episode_length={}, tcn_steps=2000, num_steps=3),
}
ENVS = ("reach", "push", "drawer_open")
NOISE = 0.1
NUM_FEATURES = 8


def evaluate(test: demo_io.Demos, encoder: tcn.Encoder, fitted: models.DemoRewardState) -> dict:
    """{kind: [N, T] reward of each held-out transition} for every model kind, each
    scoring the demos as one rollout batch of N envs from their episodes' start."""
    zeros = jnp.zeros((test.length, test.num_demos))
    batch = TransitionBatch(zeros, zeros, zeros, jnp.asarray(test.reward.T), zeros, zeros, {},
                            jnp.asarray(models.pixel_batch(test)))
    spec = RewardSpec(test.obs.shape[-1], test.actions.shape[-1], False, test.num_demos, test.length)
    out = {}
    for kind in models.KINDS:
        model = models.make_demo_reward(spec, kind, encoder, fitted, models.frame_spec(test))
        r, _ = jax.jit(model.reward)(model.init(jax.random.PRNGKey(0)), batch)
        out[kind] = np.asarray(r).T
    return out


def increase_flags(rewards: np.ndarray, test: demo_io.Demos) -> np.ndarray:
    """[N] bool: reward of the transition into the first success above the first transition's.
    (goal_potential is 0 on an episode's first transition by construction, so for it this
    asks whether the step into success made progress.) Demos that never succeed, or
    succeed within a step, count as False."""
    first = test.first_success()
    return np.array([f >= 2 and rewards[i, f - 1] > rewards[i, 0] for i, f in enumerate(first)])


def run_env(env: str, scale: dict, seed: int) -> tuple[list[dict], list[dict]]:
    """(correlation rows, trajectory rows) of one task."""
    size = scale["size"]
    collect = lambda n, s: demo_io.collect(env, n, seed=s, noise_scale=NOISE, height=size, width=size,
                                           episode_length=scale["episode_length"].get(env))
    both = collect(scale["train_demos"] + scale["test_demos"], seed)
    train, test = both.subset(slice(0, scale["train_demos"])), both.subset(slice(scale["train_demos"], None))
    cfg = tcn.TCNConfig(channels=(8, 16, 16), batch_size=32, train_steps=scale["tcn_steps"])
    encoder, losses = tcn.train_tcn(train.frames, np.full(train.num_demos, train.length + 1),
                                    jax.random.PRNGKey(seed), cfg)
    fitted = models.fit_demo_rewards(train, encoder, scale["num_steps"], NUM_FEATURES)
    learned = evaluate(test, encoder, fitted)
    rows, traj = [], []
    for kind, r in learned.items():
        flags = increase_flags(r, test)
        for i in range(test.num_demos):
            rho = np.corrcoef(r[i], test.reward[i])[0, 1]
            rows.append(dict(env=env, reward=kind, demo=i, pearson=float(rho), increases=bool(flags[i])))
    for i in range(test.num_demos):
        for t in range(test.length):
            traj.append(dict(env=env, demo=i, step=t + 1, dense=float(test.reward[i, t]),
                             **{k: float(v[i, t]) for k, v in learned.items()}))
    print(f"{env}: {train.num_demos} train / {test.num_demos} held-out demos, TCN loss {losses[:10].mean():.3f} -> "
          f"{losses[-10:].mean():.3f}", flush=True)
    return rows, traj


def summarize(rows: list[dict]) -> list[dict]:
    out = []
    for env in dict.fromkeys(r["env"] for r in rows):
        for kind in models.KINDS:
            sel = [r for r in rows if r["env"] == env and r["reward"] == kind]
            rho = np.array([r["pearson"] for r in sel])
            out.append(dict(env=env, reward=kind, demos=len(sel), pearson_mean=float(np.nanmean(rho)),
                            pearson_std=float(np.nanstd(rho)), increase_rate=float(np.mean([r["increases"] for r in sel]))))
    return out


def plot(traj: list[dict], summary: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    env_names = list(dict.fromkeys(r["env"] for r in traj))
    fig, axes = plt.subplots(2, len(env_names), figsize=(4.5 * len(env_names), 7), squeeze=False)
    scale01 = lambda v: (v - v.min()) / (v.max() - v.min() + 1e-12)
    for j, env in enumerate(env_names):
        rows = [r for r in traj if r["env"] == env]
        steps = np.array(sorted({r["step"] for r in rows}))
        ax = axes[0, j]
        for key, style in [("dense", dict(color="k", lw=2.5))] + [(k, {}) for k in models.KINDS]:
            mean = np.array([np.mean([r[key] for r in rows if r["step"] == s]) for s in steps])
            ax.plot(steps, scale01(mean), label="dense (gold)" if key == "dense" else key, **style)
        ax.set(title=f"{env}: held-out mean, min-max scaled", xlabel="env step", ylabel="reward (scaled)")
        ax.legend(fontsize=7)
        ax = axes[1, j]
        sel = [s for s in summary if s["env"] == env]
        ax.bar(range(len(sel)), [s["pearson_mean"] for s in sel], yerr=[s["pearson_std"] for s in sel], color="C0")
        ax.set_xticks(range(len(sel)), [s["reward"] for s in sel], rotation=20, fontsize=7)
        ax.set(ylabel="Pearson r with dense reward", ylim=(-1, 1), title=f"{env}: per held-out trajectory")
        ax.axhline(0, color="grey", lw=0.5)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _write_csv(path: str, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="smoke")
    parser.add_argument("--envs", default=",".join(ENVS), help="comma-separated tasks with scripted controllers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/perceptual_rewards")
    args = parser.parse_args(argv)
    scale = SCALES[args.scale]
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "command.txt"), "w") as f:
        f.write("python -m experiments.perceptual_rewards " + " ".join(argv if argv is not None else sys.argv[1:]) + "\n")
    start = time.time()
    rows, traj = [], []
    for env in args.envs.split(","):
        r, t = run_env(env.strip(), scale, args.seed)
        rows += r
        traj += t
    summary = summarize(rows)
    _write_csv(os.path.join(args.out, "correlation.csv"), rows)
    _write_csv(os.path.join(args.out, "trajectories.csv"), traj)
    _write_csv(os.path.join(args.out, "summary.csv"), summary)
    plot(traj, summary, os.path.join(args.out, "perceptual_rewards.png"))
    for s in summary:
        print(f"{s['env']:<12} {s['reward']:<18} pearson {s['pearson_mean']:+.2f} ± {s['pearson_std']:.2f}   "
              f"increase rate {s['increase_rate']:.2f} ({s['demos']} held-out demos)")
    print(f"done in {time.time() - start:.0f} s; wrote {args.out}")
    return summary


if __name__ == "__main__":
    main()
