"""Sweep scaling: K runs vmapped in one program vs the same K runs one after another.

Part 1 — for K = 1, 2, 4, 8, 16 runs of one config (PPO on `pendulum`, seeds 0..K-1): the
wall time of one vmapped program over K runs (`Trainer.chunk_fn` on K stacked states,
what `jaxreward sweep` runs) against K sequential calls of the 1-run program, both after
compilation (compile times are reported separately). Reports runs per hour and the ratio
sequential / vmapped.

Part 2 — one run's training throughput (env steps/s) against num_envs (64 ... 4096), to
show where this machine saturates.

    python benchmarks/sweep_scaling.py            # full
    python benchmarks/sweep_scaling.py --quick    # smaller K and num_envs lists
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sac_throughput import machine  # noqa: E402

from jaxreward.training import presets  # noqa: E402
from jaxreward.training.trainer import Trainer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ITERATIONS = 10


def config(num_envs: int, num_runs: int):
    return presets.config_for("pendulum", num_envs=num_envs, num_seeds=num_runs, total_steps=num_envs * 32 * ITERATIONS,
                              num_log_points=1, ppo=dict(unroll_length=32, num_minibatches=4))


def timed_program(num_envs: int, num_runs: int):
    """(compile seconds, run seconds) of one chunk of ITERATIONS iterations over num_runs runs."""
    tr = Trainer(config(num_envs, num_runs))
    state = tr.init_seeds(tr.seed_keys())
    t0 = time.perf_counter()
    fn = tr.chunk_fn(ITERATIONS).lower(state).compile()
    compile_s = time.perf_counter() - t0
    state, _ = fn(state)  # warm-up
    jax.block_until_ready(state)
    t0 = time.perf_counter()
    state, _ = fn(state)
    jax.block_until_ready(state)
    return compile_s, time.perf_counter() - t0, fn, state


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--num-envs", type=int, default=64, help="envs per run in part 1")
    p.add_argument("--out", default=os.path.join(HERE, "results", "sweep_scaling"))
    args = p.parse_args()
    ks = [1, 2, 4] if args.quick else [1, 2, 4, 8, 16]
    env_counts = [64, 256, 1024] if args.quick else [64, 256, 1024, 4096]
    steps_per_run = args.num_envs * 32 * ITERATIONS

    c1, _, fn1, s = timed_program(args.num_envs, 1)  # `s` is donated and replaced by every call
    part1 = []
    for k in ks:
        ck, tk, _, _ = timed_program(args.num_envs, k)
        # K sequential runs of the compiled 1-run program, each timed for real.
        t0 = time.perf_counter()
        for _ in range(k):
            s, _ = fn1(s)
            jax.block_until_ready(s)
        seq = time.perf_counter() - t0
        row = {"runs": k, "vmapped_s": tk, "sequential_s": seq, "sequential_over_vmapped": seq / tk,
               "vmapped_runs_per_hour": k / tk * 3600, "sequential_runs_per_hour": k / seq * 3600,
               "compile_vmapped_s": ck, "compile_single_s": c1}
        part1.append(row)
        print(f"K={k:3d}  vmapped {tk:7.2f}s  sequential {seq:7.2f}s  ratio {seq / tk:5.2f}  (compile {ck:.1f}s vs {c1:.1f}s)", flush=True)

    part2 = []
    for n in env_counts:
        c, t, _, _ = timed_program(n, 1)
        sps = n * 32 * ITERATIONS / t
        part2.append({"num_envs": n, "steps_per_second": sps, "compile_s": c})
        print(f"num_envs={n:5d}  {sps:10,.0f} steps/s  (compile {c:.1f}s)", flush=True)

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    result = {"machine": machine(), "env": "pendulum", "learner": "ppo", "iterations_per_run": ITERATIONS,
              "env_steps_per_run": steps_per_run, "runs": part1, "num_envs_scaling": part2}
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=2)
    lines = ["# Sweep scaling: K vmapped runs vs K sequential runs (PPO, `pendulum`)", "",
             f"Command: `python benchmarks/sweep_scaling.py{' --quick' if args.quick else ''}`. Machine: {result['machine']}.",
             "The machine is shared; absolute times drift, read the ratios.", "",
             f"Each run: {args.num_envs} envs x 32 steps x {ITERATIONS} iterations = {steps_per_run:,} env steps; times after compilation.", "",
             "| K runs | vmapped (s) | sequential (s) | sequential / vmapped | runs/hour vmapped | runs/hour sequential | compile K-run program (s) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in part1:
        lines.append(f"| {r['runs']} | {r['vmapped_s']:.2f} | {r['sequential_s']:.2f} | {r['sequential_over_vmapped']:.2f} | "
                     f"{r['vmapped_runs_per_hour']:,.0f} | {r['sequential_runs_per_hour']:,.0f} | {r['compile_vmapped_s']:.1f} |")
    lines += ["", f"Compile of the 1-run program: {c1:.1f} s (a sequential sweep of distinct static configs pays it per run).", "",
              "## One run's throughput against num_envs", "", "| num_envs | env steps/s | compile (s) |", "| ---: | ---: | ---: |"]
    lines += [f"| {r['num_envs']} | {r['steps_per_second']:,.0f} | {r['compile_s']:.1f} |" for r in part2]
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}.json and .md")


if __name__ == "__main__":
    main()
