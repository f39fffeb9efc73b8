"""Overhead of each exploration bonus: PPO training throughput with the bonus / without it.

Same task, same PPO settings, 256 envs: `gold` (single value head, no bonus) against
`gold,<bonus>` for each bonus (and `rnd_1_epoch`: RND with one predictor epoch per update
instead of the reference's four). What a bonus costs includes everything it brings along: its
networks' forward passes on the rollout (twice for episodic bonuses, which `reward` and
`update` both scan), its own training (RND's predictor epochs, the inverse-dynamics
embedding of ICM / E3B / kNN), its per-env episodic memory, RND's random-policy warm-up
(at init only, not timed) and PPO's second (intrinsic) value head. Targets (throughput
with the bonus / without): RND, E3B and count >= 0.8.

The task is the pure-JAX `point_maze_sparse`, whose step is cheap, so the bonus's share is
close to the worst case; on an MJX task the same bonus would cost a smaller fraction.

Interleaving: the machine is shared and its load changes by the second, so variants are
timed round-robin, one compiled chunk each per round (compiled ahead of time, each call
followed by a `device_get` of its metrics as the host loop does). Reported: median steps/s
over the rounds and the median over rounds of the per-round ratio bonus / no bonus.

Usage (project venv): python benchmarks/intrinsic_overhead.py [--quick] [--bonuses rnd,count,e3b] [--env ant_maze]
Writes benchmarks/results/intrinsic_overhead.{json,md} (or `--out` stem).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxreward.training import presets  # noqa: E402
from jaxreward.training.trainer import Trainer  # noqa: E402

ENV = "point_maze_sparse"
SETTINGS = dict(
    num_envs=256,
    num_seeds=1,
    ppo=dict(unroll_length=32, num_minibatches=4, update_epochs=4, policy_hidden=(64, 64), value_hidden=(64, 64)),
)
BONUSES = ("rnd", "rnd_1_epoch", "count", "e3b", "icm", "knn", "global_x_episodic")
#: Rows that are a bonus with non-default settings: name -> (term, reward config overrides).
SETTINGS_VARIANTS = {"rnd_1_epoch": ("rnd", {"rnd": {"update_epochs": 1}})}
TARGETS = {"rnd": 0.8, "rnd_1_epoch": 0.8, "count": 0.8, "e3b": 0.8}


def compiled_variant(terms: str, iterations: int, reward: dict | None = None, env: str = ENV):
    reward = dict(reward or {}, terms=terms)
    cfg = presets.config_for(env, **SETTINGS, total_steps=iterations * 256 * 32, num_log_points=1, reward=reward)
    trainer = Trainer(cfg)
    state = trainer.init_seeds(trainer.seed_keys())
    t0 = time.perf_counter()
    fn = trainer.chunk_fn(iterations).lower(state).compile()
    return {"fn": fn, "state": state, "compile_s": time.perf_counter() - t0, "steps": iterations * cfg.steps_per_iteration}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 2 iterations")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=4, help="PPO iterations per timed chunk")
    parser.add_argument("--bonuses", default=",".join(BONUSES))
    parser.add_argument("--env", default=ENV, help=f"task (default {ENV}; e.g. ant_maze, the MJX exploration task)")
    parser.add_argument("--out", default=os.path.join("benchmarks", "results", "intrinsic_overhead"))
    args = parser.parse_args()
    rounds, iterations = (3, 2) if args.quick else (args.rounds, args.iterations)
    bonuses = args.bonuses.split(",")

    variants = {"none": compiled_variant("gold", iterations, env=args.env)}
    for b in bonuses:
        term, overrides = SETTINGS_VARIANTS.get(b, (b, None))
        variants[b] = compiled_variant(f"gold,{term}", iterations, overrides, env=args.env)
        print(f"compiled {b}: {variants[b]['compile_s']:.1f}s", flush=True)
    for v in variants.values():  # one untimed call each: first-call allocations
        v["state"], m = v["fn"](v["state"])
        jax.device_get(m)

    sps = {k: [] for k in variants}
    for r in range(rounds):
        for name, v in variants.items():
            t = time.perf_counter()
            v["state"], m = v["fn"](v["state"])
            jax.device_get(m)
            sps[name].append(v["steps"] / (time.perf_counter() - t))
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {s[-1]:,.0f}" for k, s in sps.items()), flush=True)

    base = np.asarray(sps["none"])
    result = {
        "env": args.env,
        "settings": SETTINGS,
        "iterations_per_chunk": iterations,
        "rounds": rounds,
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "device": str(jax.devices()[0].device_kind), "load_average": os.getloadavg()},
        "steps_per_second": {k: v for k, v in sps.items()},
        "compile_s": {k: round(v["compile_s"], 1) for k, v in variants.items()},
        "ratio": {b: float(np.median(np.asarray(sps[b]) / base)) for b in bonuses},
        "median_steps_per_second": {k: float(np.median(v)) for k, v in sps.items()},
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=2)
    lines = [
        "# Bonus overhead: PPO throughput with / without each exploration bonus",
        "",
        f"`{args.env}`, 256 envs, unroll 32, 4 minibatches x 4 epochs, 64x64 MLPs; {rounds} round-robin rounds of "
        f"{iterations} iterations; {result['machine']['cpus']} CPUs, load average at the end "
        f"{', '.join(f'{x:.1f}' for x in result['machine']['load_average'])} (shared machine: read the ratios).",
        "",
        "| bonus | steps/s (median) | ratio to no bonus (median of rounds) | target | compile (s) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| none (gold only) | {result['median_steps_per_second']['none']:,.0f} | 1.00 | | {result['compile_s']['none']} |",
    ]
    for b in bonuses:
        target = TARGETS.get(b)
        mark = "" if target is None else (f">= {target} ✓" if result["ratio"][b] >= target else f">= {target} ✗")
        lines.append(f"| {b} | {result['median_steps_per_second'][b]:,.0f} | {result['ratio'][b]:.2f} | {mark} | {result['compile_s'][b]} |")
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
