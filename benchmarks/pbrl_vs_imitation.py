"""Preference-based RL: jaxreward against the `imitation` library, time to the same gold return.

Both learn a reward from synthetic preferences over trajectory segments and train PPO on it,
on the same task (`pendulum` = Gymnasium's `Pendulum-v1`: same dynamics, reward and
200-step episodes) with the same label budget and segment length, and both are stopped at
the first progress read where the mean gold return of recent training episodes reaches
`--threshold`:

- jaxreward: `benchmarks/_jaxreward_runner.py` (one fresh process, cold compile cache;
  compile counted in the wall time) with `--reward preference` and the oracle teacher —
  the configuration `tests/test_preference.py` checks reaches >= 80% of gold-trained PPO;
- imitation: `benchmarks/_imitation_runner.py` in `benchmarks/.venv-imitation` (imitation
  1.0.1, PyTorch CPU, SB3 PPO with RL Zoo's Pendulum settings), deterministic oracle labels.

Reported: wall-clock to the threshold for each (imports excluded for both), env steps per
second, and their ratios; jaxreward runs twice, with a cold and then a warm compile cache.
Target (issue): jaxreward at least 10x faster to the same return.

    python benchmarks/pbrl_vs_imitation.py --setup     # once: create benchmarks/.venv-imitation
    python benchmarks/pbrl_vs_imitation.py              # writes benchmarks/results/pbrl_vs_imitation.{json,md}
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(HERE, ".venv-imitation")
VENV_PYTHON = os.path.join(VENV, "bin", "python")
RESULTS = os.path.join(HERE, "results")

#: jaxreward's preference settings: `tests/test_preference.py`'s pendulum configuration.
JAXREWARD_PREFERENCE = dict(feedback_every=4, initial_fraction=0.3, queries_per_session=50)

#: Env steps between jaxreward's progress reads (two iterations of 64 envs x 64 steps). The
#: 64 envs end their 200-step episodes together, a burst of 64 episodes every 12,800 steps;
#: each read averages the bursts in its chunk (or is empty). Reads every 16,384 steps saw the
#: same bursts up to 8,192 steps later; every 4,096 steps gives the same threshold step as 8,192.
LOG_EVERY = 8192


#: imitation 1.0.1 with its dependencies' ranges spelled out: left to itself, pip's resolver
#: spent over 15 minutes backtracking through releases here.
IMITATION_REQUIREMENTS = ["imitation==1.0.1", "gymnasium~=0.29.1", "stable-baselines3~=2.2.1", "seals~=0.2.1",
                          "huggingface_sb3~=3.0", "datasets>=2.8,<4", "optuna>=3.0.1", "sacred>=0.8.4", "numpy<2"]


def setup() -> None:
    """Creates the imitation venv. PyTorch comes from a local CPU wheel when one is in
    /opt/wheels (pip's find-links here), else from the package index."""
    if not os.path.exists(VENV_PYTHON):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    wheels = sorted(glob.glob("/opt/wheels/torch-*+cpu-*.whl"))
    subprocess.run([VENV_PYTHON, "-m", "pip", "install", "-q", *(wheels[-1:] or ["torch"]), *IMITATION_REQUIREMENTS], check=True)


def run_json(cmd: list[str], env: dict | None = None) -> dict:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = round(time.perf_counter() - t, 3)
    return out


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "load_average_at_start": os.getloadavg()}


def ratio(a, b):
    return round(a / b, 2) if a and b else None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setup", action="store_true", help="create benchmarks/.venv-imitation and exit")
    p.add_argument("--threshold", type=float, default=-400.0, help="gold return (random policy: about -1200)")
    p.add_argument("--budget", type=int, default=1000, help="labels (queries) for each")
    p.add_argument("--segment-length", type=int, default=50)
    p.add_argument("--jaxreward-max-steps", type=int, default=800_000)
    p.add_argument("--imitation-max-steps", type=int, default=400_000)
    p.add_argument("--imitation-max-seconds", type=float, default=0.0,
                   help="stop imitation after this wall time (0: no limit); unreached, the speedup is a lower bound")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join(RESULTS, "pbrl_vs_imitation"))
    a = p.parse_args()
    if a.setup:
        setup()
        return
    if not os.path.exists(VENV_PYTHON):
        sys.exit(f"no imitation venv at {VENV}: run `python benchmarks/pbrl_vs_imitation.py --setup` first")

    overrides = {"reward": {"terms": "preference",
                            "preference": dict(JAXREWARD_PREFERENCE, budget=a.budget, segment_length=a.segment_length)}}
    started = os.getloadavg()
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, JAXREWARD_CACHE_DIR=cache, TF_CPP_MIN_LOG_LEVEL="3")
        cmd = [sys.executable, os.path.join(HERE, "_jaxreward_runner.py"), "--env", "pendulum", "--threshold",
               str(a.threshold), "--max-steps", str(a.jaxreward_max_steps), "--log-every", str(LOG_EVERY),
               "--seed", str(a.seed), "--overrides", json.dumps(overrides)]  # fmt: skip
        # Cold: an empty compile cache (a first run). Warm: the same run again, its programs
        # loaded from the persistent cache (any later run of the same configuration).
        print("jaxreward (cold compile cache) ...", flush=True)
        ours = run_json(cmd, env)
        print(json.dumps({k: ours[k] for k in ("time_to_threshold_s", "steps_to_threshold", "steps_per_second")}), flush=True)
        print("jaxreward (warm compile cache) ...", flush=True)
        warm = run_json(cmd, env)
        print(json.dumps({k: warm[k] for k in ("time_to_threshold_s", "steps_to_threshold", "compile_time_s")}), flush=True)
    print("imitation ...", flush=True)
    theirs = run_json([VENV_PYTHON, os.path.join(HERE, "_imitation_runner.py"), "--threshold", str(a.threshold),
                       "--max-steps", str(a.imitation_max_steps), "--comparisons", str(a.budget), "--oracle",
                       "--fragment-length", str(a.segment_length), "--seed", str(a.seed),
                       "--max-seconds", str(a.imitation_max_seconds)])  # fmt: skip
    print(json.dumps({k: theirs[k] for k in ("time_to_threshold_s", "env_steps", "steps_per_second")}), flush=True)

    result = {
        "machine": machine() | {"load_average_at_start": started, "load_average_at_end": os.getloadavg()},
        "command": " ".join(["python", "benchmarks/pbrl_vs_imitation.py", *sys.argv[1:]]),
        "threshold": a.threshold, "budget": a.budget, "segment_length": a.segment_length, "seed": a.seed,
        "jaxreward": ours, "jaxreward_warm": warm, "imitation": theirs,
        "speedup_time_to_threshold": ratio(theirs["time_to_threshold_s"], ours["time_to_threshold_s"]),
        "speedup_time_to_threshold_warm": ratio(theirs["time_to_threshold_s"], warm["time_to_threshold_s"]),
        # imitation stopped unreached: it needs more than its wall time, so the speedup is at least this.
        "speedup_lower_bound": (ratio(theirs["wall_s"], ours["time_to_threshold_s"])
                                if not theirs["reached"] and ours["time_to_threshold_s"] else None),
        "speedup_steps_per_second": ratio(ours["steps_per_second"], theirs["steps_per_second"]),
    }  # fmt: skip
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out + ".json", "w") as f:
        json.dump(result, f, indent=2)
    with open(a.out + ".md", "w") as f:
        f.write(markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    o, w, t = r["jaxreward"], r["jaxreward_warm"], r["imitation"]

    def fmt(x, unit=" s"):
        return f"{x:,.1f}{unit}" if x is not None else "not reached"

    def speedup(r):
        if r["speedup_time_to_threshold"]:
            return f"{r['speedup_time_to_threshold']}x"
        if r.get("speedup_lower_bound"):
            return f"> {r['speedup_lower_bound']}x (imitation stopped unreached after {t['wall_s']:,.0f} s, {t['env_steps']:,} steps)"
        return "–"

    def num(x):
        return f"{x:,}" if x else "–"

    m = r["machine"]
    lines = [
        "# Preference-based RL: jaxreward vs imitation (time to the same gold return)",
        "",
        f"Task `pendulum` / `Pendulum-v1`, oracle labels, budget {r['budget']} labels, segments of "
        f"{r['segment_length']} steps, threshold gold return {r['threshold']} (random policy about -1200), seed {r['seed']}.",
        f"Machine: {m['cpu']}, {m['cores']} cores; load average {m['load_average_at_start'][0]:.1f} at start, "
        f"{m['load_average_at_end'][0]:.1f} at end (a shared machine: read the ratios). Command: `{r['command']}`.",
        "",
        "| | jaxreward | imitation | ratio |",
        "| --- | ---: | ---: | ---: |",
        f"| wall time to threshold (imports excluded) | {fmt(o['time_to_threshold_s'])} | {fmt(t['time_to_threshold_s'])} | "
        f"{speedup(r)} |",
        f"| same, jaxreward with a warm compile cache | {fmt(w['time_to_threshold_s'])} | | "
        f"{r['speedup_time_to_threshold_warm'] or '–'}x |",
        f"| env steps to threshold | {num(o['steps_to_threshold'])} | {num(t['env_steps'] if t['reached'] else None)} | |",
        f"| env steps per second (training) | {o['steps_per_second']:,.0f} | {t['steps_per_second']:,.0f} | "
        f"{r['speedup_steps_per_second'] or '–'}x |",
        f"| of which compile (jaxreward; cold, warm) | {o['compile_time_s']:.1f} s, {w['compile_time_s']:.1f} s | | |",
        "",
        f"jaxreward's times include compiling: cold (an empty persistent cache, a first run) and warm (the same configuration run again, programs loaded from the cache). imitation's step rate includes its reward-model training. jaxreward reads progress every {LOG_EVERY:,} steps, so its steps and time to the threshold are rounded up to a chunk.",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
