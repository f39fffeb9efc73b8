"""Overhead of learning the reward from preferences: PPO training throughput, preference / gold.

Two whole training runs of the MJX `reacher` with its PPO preset (128 envs x 32 steps,
1M env steps unless `--steps`): the gold reward, and `--reward preference
--preference.teacher noisy --preference.budget 2000` with every other preference setting
at its default (feedback every 5000 env steps, 100 queries a session, 32 ensemble steps a
session; see `jaxreward/rewards/preference/reward.py`). A whole run is timed, not a few
iterations, because a preference run's cost is uneven: feedback sessions (query selection,
teacher, ensemble fit) fall in its first part, until the budget is spent; the reward
model's scoring of every rollout lasts the whole run. Target: preference
>= 0.5 of gold's env steps/s.

Interleaving: the machine is shared and its load changes by the second, so each round runs
gold then preference, each from a fresh initial state (initialisation not timed), in the
host loop's chunks of `iterations_per_log` iterations (compiled ahead of time, compile time
reported separately; each chunk followed by a `device_get` of its metrics as the host loop
does). Reported: steps/s of each run and the median over rounds of the per-round ratio
preference / gold.

Usage (project venv, from the repository root):
    python benchmarks/preference_overhead.py                      # 3 rounds of 1M-step runs
    python benchmarks/preference_overhead.py --steps 65536 --rounds 1 --out /tmp/pref_check  # does it run
Writes benchmarks/results/preference_overhead.{json,md} (or the `--out` stem).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # this checkout's jaxreward, not another installed copy

from jaxreward.training import presets  # noqa: E402
from jaxreward.training.trainer import Trainer  # noqa: E402
from ppo_throughput import machine  # noqa: E402

ENV = "reacher"
#: What `jaxreward train --env reacher --reward preference --preference.teacher noisy
#: --preference.budget 2000` builds; the gold run differs only in the reward.
PREFERENCE = {"terms": "preference", "preference": {"teacher": "noisy", "budget": 2000}}
VARIANTS = {"gold": {"terms": "gold"}, "preference": PREFERENCE}
TARGET = 0.5


class Run:
    """One variant's whole run, compiled once, re-run from its initial state each round."""

    def __init__(self, reward: dict, total_steps: int):
        self.cfg = presets.config_for(ENV, total_steps=total_steps, reward=reward)
        self.trainer = Trainer(self.cfg)
        self.initial = self.trainer.init_seeds(self.trainer.seed_keys())
        self.chunks = self.cfg.num_iterations // self.cfg.iterations_per_log
        t0 = time.perf_counter()
        self.fn = self.trainer.chunk_fn(self.cfg.iterations_per_log).lower(self.initial).compile()
        self.compile_s = time.perf_counter() - t0
        self.steps = self.cfg.num_iterations * self.cfg.steps_per_iteration

    def timed(self) -> tuple[float, dict]:
        """Env steps per second of one whole run, and its last chunk's metrics."""
        state = jax.block_until_ready(jax.tree.map(lambda x: x.copy(), self.initial))
        t = time.perf_counter()
        for _ in range(self.chunks):
            state, metrics = self.fn(state)
            metrics = jax.device_get(metrics)
        return self.steps / (time.perf_counter() - t), metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=presets.PRESETS[ENV]["total_steps"], help="env steps of each run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=os.path.join("benchmarks", "results", "preference_overhead"))
    args = parser.parse_args()

    runs = {}
    for name, reward in VARIANTS.items():
        runs[name] = Run(reward, args.steps)
        print(f"compiled {name}: {runs[name].compile_s:.1f}s", flush=True)
    load_start = os.getloadavg()

    sps = {name: [] for name in runs}
    last = {}
    for r in range(args.rounds):
        for name, run in runs.items():
            rate, last[name] = run.timed()
            sps[name].append(rate)
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:,.0f} steps/s" for k, v in sps.items()), flush=True)

    ratios = np.asarray(sps["preference"]) / np.asarray(sps["gold"])
    pref = runs["preference"]
    model = pref.trainer.reward_model.models[0]
    queries = float(np.asarray(last["preference"]["reward_model/preference/queries"])[0, -1])
    result = {
        "env": ENV,
        "num_envs": pref.cfg.num_envs,
        "unroll_length": pref.cfg.unroll_length,
        "env_steps_per_run": pref.steps,
        "iterations_per_chunk": pref.cfg.iterations_per_log,
        "rounds": args.rounds,
        "command": "python " + " ".join(sys.argv),
        "preference_settings": {"teacher": "noisy", "budget": 2000, "feedback_every_iterations": model.feedback_every,
                                "queries_per_session": model.cfg.queries_per_session, "grad_steps": model.cfg.grad_steps,
                                "window_length": model.window_length, "queries_asked": queries},
        "machine": machine() | {"load_average_start": load_start, "load_average_end": os.getloadavg()},
        "steps_per_second": sps,
        "median_steps_per_second": {k: float(np.median(v)) for k, v in sps.items()},
        "ratio_per_round": ratios.tolist(),
        "ratio": float(np.median(ratios)),
        "target": TARGET,
        "compile_s": {k: round(v.compile_s, 1) for k, v in runs.items()},
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=2)
    m = result["machine"]
    lines = [
        "# Preference overhead: PPO throughput with a learned preference reward / with the gold reward",
        "",
        f"`{ENV}`, {pref.cfg.num_envs} envs x {pref.cfg.unroll_length} steps, whole runs of {pref.steps:,} env steps; "
        f"preference: noisy teacher, budget 2000 ({queries:.0f} asked), feedback every {model.feedback_every} iterations, "
        f"{model.cfg.queries_per_session} queries and {model.cfg.grad_steps} ensemble steps a session; "
        f"{args.rounds} interleaved rounds; {m['cpu_model']}, {m['cpu_cores']} CPUs, load average "
        f"{load_start[0]:.1f} at the start and {m['load_average_end'][0]:.1f} at the end (shared machine: read the ratio).",
        "",
        "| reward | steps/s (median) | ratio to gold (median of rounds) | target | compile (s) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| gold | {result['median_steps_per_second']['gold']:,.0f} | 1.00 | | {result['compile_s']['gold']} |",
        f"| preference | {result['median_steps_per_second']['preference']:,.0f} | {result['ratio']:.2f} | "
        f">= {TARGET} {'✓' if result['ratio'] >= TARGET else '✗'} | {result['compile_s']['preference']} |",
        "",
        f"Command: `{result['command']}`",
    ]
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
