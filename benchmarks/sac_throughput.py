"""SAC throughput: jaxreward's SAC against `brax.training.agents.sac.train`, side by side.

Same MJX environment (`reacher`), same settings (num_envs, grad updates per vectorised
step, batch size, 256x256 networks, replay capacity), same process. Reports environment
steps per second and gradient updates per second of each after compilation, their ratio,
and the memory of the default-size replay buffer (exact bytes of the buffer pytree, and the
process's peak resident memory). Each round times jaxreward's compiled chunk of
`--iterations` vectorised steps `--repeats` times (the median counts) and one Brax epoch of
as many steps; rounds alternate the two, so drifting load hits both alike.

    python benchmarks/sac_throughput.py            # default settings
    python benchmarks/sac_throughput.py --quick    # a shorter run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import jax
import numpy as np

import envs
from jaxreward.training import presets
from jaxreward.training.trainer import Trainer

HERE = os.path.dirname(os.path.abspath(__file__))


def machine() -> dict:
    cpu = "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        cpu = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except Exception:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "jax": jax.__version__, "device": str(jax.devices()[0].device_kind)}


def run_jaxreward(args, iterations: int) -> dict:
    cfg = presets.config_for(
        args.env, learner="sac", num_envs=args.num_envs, total_steps=args.num_envs * iterations, num_log_points=1,
        normalize_obs=False,
        sac=dict(unroll_length=1, grad_updates_per_step=args.grad_updates, batch_size=args.batch_size,
                 buffer_size=args.buffer_size, learning_starts=0, actor_hidden=(256, 256), critic_hidden=(256, 256)),
    )
    trainer = Trainer(cfg)
    state = trainer.init_seeds(trainer.seed_keys())
    t0 = time.perf_counter()
    fn = trainer.chunk_fn(iterations).lower(state).compile()
    compile_s = time.perf_counter() - t0
    state, _ = fn(state)  # warm-up (first call also fills the buffer a little)
    jax.block_until_ready(state)
    times = []
    for _ in range(args.repeats):  # the median of several chunks: one chunk alone varied by a quarter
        t0 = time.perf_counter()
        state, _ = fn(state)
        jax.block_until_ready(state)
        times.append(time.perf_counter() - t0)
    dt = statistics.median(times)
    buffer_bytes = sum(x.nbytes for x in jax.tree.leaves(state.learner.buffer))
    return {"env_steps_per_s": iterations * args.num_envs / dt, "updates_per_s": iterations * args.grad_updates / dt,
            "compile_s": compile_s, "buffer_bytes_default_size": buffer_bytes}


def run_brax(args, iterations: int) -> dict:
    import functools

    from brax.training.agents.sac import networks as sac_networks
    from brax.training.agents.sac import train as sac_train

    env = envs.make(args.env, time_limit=False)
    episode_length = env.default_episode_length
    stamps = []

    def progress(step, metrics):
        jax.block_until_ready(metrics)
        stamps.append((step, time.perf_counter()))

    evals = 3  # callbacks at init and after each of 2 equal epochs: time the second epoch only
    total = args.num_envs * iterations * (evals - 1)
    t0 = time.perf_counter()
    sac_train.train(
        environment=env, num_timesteps=total, episode_length=episode_length, num_envs=args.num_envs,
        num_eval_envs=args.num_envs, batch_size=args.batch_size, grad_updates_per_step=args.grad_updates,
        max_replay_size=args.buffer_size, min_replay_size=args.batch_size, num_evals=evals,
        normalize_observations=False, learning_rate=3e-4, discounting=0.99, seed=0,
        network_factory=functools.partial(sac_networks.make_sac_networks, hidden_layer_sizes=(256, 256)),
        progress_fn=progress,
    )
    wall = time.perf_counter() - t0
    (s1, t1), (s2, t2) = stamps[-2], stamps[-1]
    steps = s2 - s1
    # The interval includes one evaluation of num_envs episodes; it is small next to the
    # training epoch at these settings but makes Brax's number slightly pessimistic.
    return {"env_steps_per_s": steps / (t2 - t1), "updates_per_s": steps / args.num_envs * args.grad_updates / (t2 - t1),
            "wall_incl_compile_s": wall}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="reacher")
    p.add_argument("--num-envs", type=int, default=64)
    p.add_argument("--grad-updates", type=int, default=8, help="gradient updates per vectorised env step")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--buffer-size", type=int, default=None, help="default: jaxreward's SACConfig default")
    p.add_argument("--iterations", type=int, default=200, help="vectorised steps per timed chunk")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3, help="timed jaxreward chunks per round (median reported)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=os.path.join(HERE, "results", "sac_throughput"))
    args = p.parse_args()
    from jaxreward.agents.sac import SACConfig

    args.buffer_size = args.buffer_size or SACConfig().buffer_size
    if args.quick:
        args.iterations, args.rounds, args.repeats = 50, 1, 1

    rows = []
    for r in range(args.rounds):  # interleaved, so drifting machine load hits both alike
        ours = run_jaxreward(args, args.iterations)
        theirs = run_brax(args, args.iterations)
        rows.append({"jaxreward": ours, "brax": theirs})
        print(f"round {r}: jaxreward {ours['env_steps_per_s']:.0f} env steps/s, {ours['updates_per_s']:.0f} updates/s | "
              f"brax {theirs['env_steps_per_s']:.0f} env steps/s, {theirs['updates_per_s']:.0f} updates/s", flush=True)

    med = lambda who, key: statistics.median(row[who][key] for row in rows)
    result = {
        "benchmark": "sac_throughput",
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "machine": machine(),
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "rounds": rows,
        "median": {
            "jaxreward_env_steps_per_s": med("jaxreward", "env_steps_per_s"),
            "brax_env_steps_per_s": med("brax", "env_steps_per_s"),
            "jaxreward_updates_per_s": med("jaxreward", "updates_per_s"),
            "brax_updates_per_s": med("brax", "updates_per_s"),
        },
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "replay_buffer_mb_default_size": rows[0]["jaxreward"]["buffer_bytes_default_size"] / 2**20,
    }
    m = result["median"]
    result["ratio_env_steps"] = m["jaxreward_env_steps_per_s"] / m["brax_env_steps_per_s"]
    result["ratio_updates"] = m["jaxreward_updates_per_s"] / m["brax_updates_per_s"]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=2)
    with open(args.out + ".md", "w") as f:
        f.write(f"# SAC throughput: jaxreward vs Brax ({args.env})\n\n")
        f.write(f"Machine: {result['machine']}\n\nCommand: `{result['command']}`\n\n")
        f.write(f"Settings: {result['settings']}\n\n")
        f.write("| | env steps/s | grad updates/s |\n|---|---|---|\n")
        f.write(f"| jaxreward | {m['jaxreward_env_steps_per_s']:.0f} | {m['jaxreward_updates_per_s']:.0f} |\n")
        f.write(f"| brax | {m['brax_env_steps_per_s']:.0f} | {m['brax_updates_per_s']:.0f} |\n")
        f.write(f"| ratio | {result['ratio_env_steps']:.2f} | {result['ratio_updates']:.2f} |\n\n")
        per_round = [row["jaxreward"]["env_steps_per_s"] / row["brax"]["env_steps_per_s"] for row in rows]
        f.write(f"Per-round ratios (jaxreward / Brax, env steps/s): {', '.join(f'{x:.2f}' for x in per_round)}; "
                f"load average at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())}.\n\n")
        f.write(f"Replay buffer at the default size ({args.buffer_size} transitions): "
                f"{result['replay_buffer_mb_default_size']:.1f} MiB; process peak RSS {result['peak_rss_mb']:.0f} MiB.\n")
    print(json.dumps({k: result[k] for k in ("median", "ratio_env_steps", "ratio_updates", "replay_buffer_mb_default_size", "peak_rss_mb")}, indent=2))


if __name__ == "__main__":
    main()
