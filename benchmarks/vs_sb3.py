"""Wall-clock time to a stated return: jaxreward PPO vs Stable-Baselines3 PPO, same machine.

Tasks (see `TASKS`): jaxreward `pendulum` vs Gymnasium `Pendulum-v1` (same dynamics and
reward), jaxreward's MJX `reacher` vs Gymnasium `Reacher-v5` (MuJoCo on the CPU; same
task, observation and reward terms, our own MJCF, see envs/manipulation/reacher.py), and
jaxreward's MJX `hopper` vs Gymnasium `Hopper-v5` (Brax's model of the same robot; the
differences are listed in docs/gymnasium-parity.md).

Every run is a fresh process:
- jaxreward cold: `$JAXREWARD_CACHE_DIR` is a new empty directory, so everything compiles;
- jaxreward warm: a second process with the same directory, so XLA programs load from the
  persistent compilation cache (jaxreward's default behaviour on a second run);
- SB3: `benchmarks/_sb3_runner.py` in the SB3 venv (`benchmarks/.venv-sb3`; SB3 and
  PyTorch are not project dependencies), with RL Baselines3 Zoo's tuned PPO settings.

What is timed, for both: from just after the imports (import time is excluded and reported
apart) to the first progress read whose mean return of recent *training* episodes
(stochastic policy, the env's own reward) reaches the threshold; env and model
construction, compilation (jaxreward) and training are included. jaxreward reads progress
after every chunk of `log_every` env steps (the mean over the episodes that ended in it);
SB3 after every rollout (the mean over its last `window` episodes). Each run stops at the
threshold.

Usage (project venv):
    python benchmarks/vs_sb3.py --setup          # once: create benchmarks/.venv-sb3
    python benchmarks/vs_sb3.py [--tasks pendulum,reacher] [--seed 0]
Writes benchmarks/results/vs_sb3.{json,md} (or `--out` stem).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SB3_VENV = os.path.join(HERE, ".venv-sb3")
SB3_PYTHON = os.path.join(SB3_VENV, "bin", "python")
# torch 2.13.0 is the CPU wheel on this machine's disk; plain `torch` would fetch a CUDA build.
SB3_REQUIREMENTS = [["torch==2.13.0"], ["torch==2.13.0", "stable-baselines3==2.9.2", "gymnasium[mujoco]==1.4.0"]]

TASKS = {
    "pendulum": dict(
        jaxreward_env="pendulum",
        jaxreward_overrides={},  # the `pendulum` preset
        sb3_env="Pendulum-v1",
        threshold=-250.0,
        jaxreward_max_steps=1_000_000,
        jaxreward_log_every=8_192,
        sb3_max_steps=400_000,
        sb3_window=20,  # = one rollout of 4 envs x 1024 steps
    ),
    "reacher": dict(
        jaxreward_env="reacher",
        jaxreward_overrides={},  # the `reacher` preset
        sb3_env="Reacher-v5",
        threshold=-10.0,
        jaxreward_max_steps=3_000_000,
        jaxreward_log_every=16_384,
        sb3_max_steps=500_000,
        sb3_window=20,  # = 1000 steps, two rollouts of 512
    ),
    "hopper": dict(
        jaxreward_env="hopper",
        jaxreward_overrides={},  # the `hopper` preset
        sb3_env="Hopper-v5",
        threshold=1000.0,
        jaxreward_max_steps=1_000_000,
        jaxreward_log_every=20_480,
        sb3_max_steps=1_000_000,
        sb3_window=10,
    ),
}


def setup_sb3() -> None:
    """Creates the SB3 venv (idempotent: pip skips what is installed)."""
    if not os.path.exists(SB3_PYTHON):
        subprocess.run([sys.executable, "-m", "venv", SB3_VENV], check=True)
    for req in SB3_REQUIREMENTS:
        subprocess.run([SB3_PYTHON, "-m", "pip", "install", "-q", *req], check=True)


def machine() -> dict:
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "")
    except (OSError, subprocess.CalledProcessError):
        pass
    import jax

    return {
        "cpu_model": model or platform.processor(),
        "cpu_cores": os.cpu_count(),
        "jax_device": str(jax.devices()[0].device_kind),
        "python": platform.python_version(),
        "jax": jax.__version__,
    }


def _run_json(cmd: list[str], env: dict | None = None) -> dict:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = round(wall, 3)
    return out


def run_jaxreward(task: dict, cache_dir: str, seed: int) -> dict:
    env = dict(os.environ, JAXREWARD_CACHE_DIR=cache_dir, TF_CPP_MIN_LOG_LEVEL="3")
    return _run_json(
        [sys.executable, os.path.join(HERE, "_jaxreward_runner.py"), "--env", task["jaxreward_env"],
         "--threshold", str(task["threshold"]), "--max-steps", str(task["jaxreward_max_steps"]),
         "--log-every", str(task["jaxreward_log_every"]), "--seed", str(seed),
         "--overrides", json.dumps(task["jaxreward_overrides"])],
        env,
    )


def run_sb3(task: dict, seed: int) -> dict:
    return _run_json(
        [SB3_PYTHON, os.path.join(HERE, "_sb3_runner.py"), "--env", task["sb3_env"], "--threshold",
         str(task["threshold"]), "--max-steps", str(task["sb3_max_steps"]), "--seed", str(seed),
         "--window", str(task["sb3_window"])]
    )


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setup", action="store_true", help="create benchmarks/.venv-sb3 and exit")
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, from {', '.join(TASKS)}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join(HERE, "results", "vs_sb3"), help="output path stem")
    args = p.parse_args()
    if args.setup:
        setup_sb3()
        return
    if not os.path.exists(SB3_PYTHON):
        sys.exit(f"no SB3 venv at {SB3_VENV}: run `python benchmarks/vs_sb3.py --setup` first")

    t_all = time.perf_counter()
    results = {}
    for name in args.tasks.split(","):
        task = TASKS[name]
        cache_dir = tempfile.mkdtemp(prefix=f"jaxreward-xla-{name}-")
        print(f"[{name}] jaxreward cold (empty compile cache {cache_dir})...", flush=True)
        cold = run_jaxreward(task, cache_dir, args.seed)
        print(f"[{name}] jaxreward warm...", flush=True)
        warm = run_jaxreward(task, cache_dir, args.seed)
        print(f"[{name}] stable-baselines3 {task['sb3_env']}...", flush=True)
        sb3 = run_sb3(task, args.seed)
        results[name] = {
            "task": task,
            "jaxreward_cold": cold,
            "jaxreward_warm": warm,
            "sb3": sb3,
            "ratios": {
                "sb3_over_jaxreward_cold": ratio(sb3["time_to_threshold_s"], cold["time_to_threshold_s"]),
                "sb3_over_jaxreward_warm": ratio(sb3["time_to_threshold_s"], warm["time_to_threshold_s"]),
            },
        }
        print(f"[{name}] time to {task['threshold']}: jaxreward cold {cold['time_to_threshold_s']} s, "
              f"warm {warm['time_to_threshold_s']} s, SB3 {sb3['time_to_threshold_s']} s; ratios "
              f"{results[name]['ratios']}", flush=True)

    cmd = "python benchmarks/vs_sb3.py" + (f" --tasks {args.tasks}" if args.tasks != ",".join(TASKS) else "") + (
        f" --seed {args.seed}" if args.seed else "")
    out = {"benchmark": "vs_sb3", "command": cmd, "seed": args.seed, "machine": machine(), "results": results,
           "wall_time_s": round(time.perf_counter() - t_all, 1)}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump(out, f, indent=2)
    with open(args.out + ".md", "w") as f:
        f.write(render_markdown(out))
    print(f"wrote {args.out}.json and {args.out}.md")


def _fmt(x, unit=" s"):
    return f"{x:.1f}{unit}" if isinstance(x, (int, float)) else "not reached"


def render_markdown(o: dict) -> str:
    m = o["machine"]
    lines = [
        "# Time to a stated return: jaxreward PPO vs Stable-Baselines3 PPO",
        "",
        f"Command: `{o['command']}` (project venv; SB3 runs in `benchmarks/.venv-sb3`). Seed {o['seed']}, one seed "
        f"per run. Total wall time {o['wall_time_s']:.0f} s.",
        "",
        f"Machine: {m['cpu_model']}, {m['cpu_cores']} cores, no GPU (JAX device `{m['jax_device']}`); Python "
        f"{m['python']}, jax {m['jax']}. Shared machine under load from other processes: the runs are sequential in "
        "one script run; read the ratios, not the absolute times.",
        "",
        "Timed for both: from just after the imports to the first progress read whose mean return over recent "
        "training episodes (stochastic policy, the env's own reward) reaches the threshold. Included: building envs "
        "and model, compiling (jaxreward), training. Excluded: Python imports (reported below). jaxreward reads "
        "progress after each chunk (mean over the episodes that ended in it); SB3 after each rollout (mean of its "
        "last `window` episodes). Cold: fresh process, empty persistent compilation cache; warm: fresh process, "
        "the cache the cold run filled. Warm runs still trace and lower the program in Python (the column "
        "'trace+lower'); only XLA's compilation is replaced by a load.",
        "",
        "SB3 runs with one PyTorch thread (`torch.set_num_threads(1)`): with the default two threads on this loaded "
        "2-core machine it managed 43 steps/s on Pendulum-v1, against 588 with one. Its hyperparameters are RL "
        "Baselines3 Zoo's; jaxreward uses its presets (`training/presets.py`), so steps to threshold differ too.",
        "",
    ]
    for name, r in o["results"].items():
        t, c, w, s = r["task"], r["jaxreward_cold"], r["jaxreward_warm"], r["sb3"]
        hp = s["hyperparameters"]
        lines += [
            f"## {name}: jaxreward `{t['jaxreward_env']}` vs Gymnasium `{t['sb3_env']}`, threshold {t['threshold']}",
            "",
            "| run | time to threshold | env steps to threshold | return there | chunk compile = trace+lower + XLA | init (incl. its compile) | import (excluded) | steps/s while training |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| jaxreward cold | {_fmt(c['time_to_threshold_s'])} | {c['steps_to_threshold'] or '-'} | "
            f"{(c['reached'] or {}).get('return', '-')} | {c['compile_time_s']:.1f} s = {c['compile_trace_lower_s']:.1f} + "
            f"{c['compile_xla_s']:.1f} s | {c['init_time_s']:.1f} s | {c['import_time_s']:.1f} s | {c['steps_per_second']:,.0f} |",
            f"| jaxreward warm | {_fmt(w['time_to_threshold_s'])} | {w['steps_to_threshold'] or '-'} | "
            f"{(w['reached'] or {}).get('return', '-')} | {w['compile_time_s']:.1f} s = {w['compile_trace_lower_s']:.1f} + "
            f"{w['compile_xla_s']:.1f} s | {w['init_time_s']:.1f} s | {w['import_time_s']:.1f} s | {w['steps_per_second']:,.0f} |",
            f"| SB3 | {_fmt(s['time_to_threshold_s'])} | {s['steps_to_threshold'] or '-'} | "
            f"{(s['reached'] or {}).get('return', '-')} | - | - (setup {s['setup_time_s']:.1f} s) | {s['import_time_s']:.1f} s | "
            f"{s['steps_per_second']:,.0f} |",
            "",
            f"Ratios: SB3 / jaxreward cold = **{r['ratios']['sb3_over_jaxreward_cold']}**, SB3 / jaxreward warm = "
            f"**{r['ratios']['sb3_over_jaxreward_warm']}** (> 1: jaxreward is faster).",
            "",
            f"jaxreward config: num_envs {c['config']['num_envs']}, ppo {json.dumps({k: c['config']['ppo'][k] for k in ('unroll_length', 'num_minibatches', 'update_epochs', 'learning_rate', 'gamma', 'gae_lambda', 'policy_hidden')})}, "
            f"progress read every {c['steps_per_chunk']} env steps. SB3 (RL Zoo): {json.dumps(hp)}; "
            f"progress over the last {s['window_episodes']} episodes; versions {json.dumps(s['versions'])}.",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
