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
Both are run for `--seeds` seeds (seed, seed+1, ...; each jaxreward seed cold from its own
empty cache), and the speedup is the ratio of the median times to threshold: a single run of
either says little, as the steps each needs vary by seed (imitation needed 74k-283k steps in
four unseeded runs of one configuration). Target: jaxreward at least 10x faster to the
same return.

`--also` lists lower gold returns whose times are read off the same runs' progress curves
(each run stops at `--threshold`), so one run reports e.g. both -400 and -200.

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

import numpy as np

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
#: backtracks through many releases of them before it settles.
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


def first_time(result: dict, threshold: float) -> float | None:
    """Wall time of the first progress read at or above `threshold` in a runner's curve."""
    for point in result["curve"]:
        if isinstance(point, dict):  # imitation: counted once `window` episodes have ended
            if point["gold_return"] is not None and point["gold_return"] >= threshold and point["episodes"] >= 20:
                return point["wall_s"]
        elif point[2] >= threshold:  # jaxreward: (env_steps, wall_s, return)
            return point[1]
    return None


def run_wall(result: dict) -> float:
    """Wall time of a whole run (imports excluded): a lower bound on an unreached threshold's time."""
    return result["wall_s"] if "wall_s" in result else result["curve"][-1][1]


def median_time(times: list[float | None], walls: list[float]) -> tuple[float, bool]:
    """(median over seeds, whether it is only a lower bound).

    A run that stopped without reaching the return counts with its whole wall time, a lower
    bound on its time; the median is then exact only if no such run sorts at or below it.
    """
    values = sorted((w if t is None else t, t is None) for t, w in zip(times, walls))
    med = float(np.median([v for v, _ in values]))
    return round(med, 3), any(lower for _, lower in values[: len(values) // 2 + 1])


def speedup_of(theirs: tuple[float, bool], ours: tuple[float, bool]) -> str | None:
    """"12.3x", "> 12.3x" (imitation's median a lower bound), or None if ours is a bound."""
    if ours[1]:
        return None
    return f"{'> ' if theirs[1] else ''}{ratio(theirs[0], ours[0])}x"


def milestones(runs: list[dict], thresholds: list[float]) -> dict:
    """{threshold: median times of each framework and their ratios} over the seeds' runs."""
    out = {}
    for thr in thresholds:
        med = {}
        for key in ("jaxreward", "jaxreward_warm", "imitation"):
            med[key] = median_time([first_time(r[key], thr) for r in runs], [run_wall(r[key]) for r in runs])
        out[str(thr)] = {"median_time_s": med, "speedup_of_medians": speedup_of(med["imitation"], med["jaxreward"]),
                         "speedup_of_medians_warm": speedup_of(med["imitation"], med["jaxreward_warm"])}
    return out


def run_seed(a, seed: int, overrides: dict) -> dict:
    """jaxreward cold, jaxreward warm, then imitation, all with `seed`."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, JAXREWARD_CACHE_DIR=cache, TF_CPP_MIN_LOG_LEVEL="3")
        cmd = [sys.executable, os.path.join(HERE, "_jaxreward_runner.py"), "--env", "pendulum", "--threshold",
               str(a.threshold), "--max-steps", str(a.jaxreward_max_steps), "--log-every", str(LOG_EVERY),
               "--seed", str(seed), "--overrides", json.dumps(overrides)]  # fmt: skip
        # Cold: an empty compile cache (a first run). Warm: the same run again, its programs
        # loaded from the persistent cache (any later run of the same configuration).
        print(f"seed {seed}: jaxreward (cold compile cache) ...", flush=True)
        ours = run_json(cmd, env)
        print(json.dumps({k: ours[k] for k in ("time_to_threshold_s", "steps_to_threshold", "steps_per_second")}), flush=True)
        print(f"seed {seed}: jaxreward (warm compile cache) ...", flush=True)
        warm = run_json(cmd, env)
        print(json.dumps({k: warm[k] for k in ("time_to_threshold_s", "steps_to_threshold", "compile_time_s")}), flush=True)
    print(f"seed {seed}: imitation ...", flush=True)
    theirs = run_json([VENV_PYTHON, os.path.join(HERE, "_imitation_runner.py"), "--threshold", str(a.threshold),
                       "--max-steps", str(a.imitation_max_steps), "--comparisons", str(a.budget), "--oracle",
                       "--fragment-length", str(a.segment_length), "--seed", str(seed),
                       "--max-seconds", str(a.imitation_max_seconds)])  # fmt: skip
    print(json.dumps({k: theirs[k] for k in ("time_to_threshold_s", "env_steps", "steps_per_second")}), flush=True)
    return {
        "seed": seed, "jaxreward": ours, "jaxreward_warm": warm, "imitation": theirs,
        "speedup_time_to_threshold": ratio(theirs["time_to_threshold_s"], ours["time_to_threshold_s"]),
        "speedup_time_to_threshold_warm": ratio(theirs["time_to_threshold_s"], warm["time_to_threshold_s"]),
        # imitation stopped unreached: it needs more than its wall time, so the speedup is at least this.
        "speedup_lower_bound": (ratio(theirs["wall_s"], ours["time_to_threshold_s"])
                                if not theirs["reached"] and ours["time_to_threshold_s"] else None),
        "speedup_steps_per_second": ratio(ours["steps_per_second"], theirs["steps_per_second"]),
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setup", action="store_true", help="create benchmarks/.venv-imitation and exit")
    p.add_argument("--threshold", type=float, default=-400.0, help="gold return (random policy: about -1200)")
    p.add_argument("--also", default="", help="comma-separated lower returns also timed from the curves, e.g. -400")
    p.add_argument("--budget", type=int, default=1000, help="labels (queries) for each")
    p.add_argument("--segment-length", type=int, default=50)
    p.add_argument("--jaxreward-max-steps", type=int, default=800_000)
    p.add_argument("--imitation-max-steps", type=int, default=400_000)
    p.add_argument("--imitation-max-seconds", type=float, default=0.0,
                   help="stop imitation after this wall time (0: no limit); unreached, the speedup is a lower bound")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--seeds", type=int, default=3, help="seeds run by each (seed, seed+1, ...); medians compared")
    p.add_argument("--out", default=os.path.join(RESULTS, "pbrl_vs_imitation"))
    p.add_argument("--report", metavar="JSON", nargs="+",
                   help="recompute the summary of saved results (with --also), pooling the runs of several files "
                        "of one threshold into the first, and exit")
    a = p.parse_args()
    also = [float(x) for x in a.also.split(",") if x]
    if a.setup:
        setup()
        return
    if a.report:
        write(summarise(pooled(a.report), also), a.report[0].removesuffix(".json"))
        return
    if not os.path.exists(VENV_PYTHON):
        sys.exit(f"no imitation venv at {VENV}: run `python benchmarks/pbrl_vs_imitation.py --setup` first")

    overrides = {"reward": {"terms": "preference",
                            "preference": dict(JAXREWARD_PREFERENCE, budget=a.budget, segment_length=a.segment_length)}}
    started = os.getloadavg()
    runs = []
    for seed in range(a.seed, a.seed + a.seeds):
        runs.append(run_seed(a, seed, overrides))
        print(json.dumps({"seed": seed, "speedup": runs[-1]["speedup_time_to_threshold"]}), flush=True)

    result = summarise({
        "machine": machine() | {"load_average_at_start": started, "load_average_at_end": os.getloadavg()},
        "command": " ".join(["python", "benchmarks/pbrl_vs_imitation.py", *sys.argv[1:]]),
        "threshold": a.threshold, "budget": a.budget, "segment_length": a.segment_length,
        "seeds": list(range(a.seed, a.seed + a.seeds)), "runs": runs,
    }, also)  # fmt: skip
    write(result, a.out)


def pooled(paths: list[str]) -> dict:
    """The first saved result with the runs of the others added (same threshold, budget, segments)."""
    results = []
    for path in paths:
        with open(path) as f:
            results.append(json.load(f))
    first = results[0]
    for other in results[1:]:
        for key in ("threshold", "budget", "segment_length"):
            if other[key] != first[key]:
                sys.exit(f"{key} differs: {first[key]} in {paths[0]}, {other[key]} in {paths[results.index(other)]}")
        seen = {run["seed"] for run in first["runs"]}
        new = [run for run in other["runs"] if run["seed"] not in seen]
        if new:
            first["runs"] += new
            first["command"] += f"; {other['command']}"
    first["seeds"] = [run["seed"] for run in first["runs"]]
    return first


def summarise(result: dict, also: list[float]) -> dict:
    """`result` with the medians over its runs, their ratios and the `also` milestones added."""
    runs = result["runs"]
    ours, warm, theirs = (median_time([r[key]["time_to_threshold_s"] for r in runs], [run_wall(r[key]) for r in runs])
                          for key in ("jaxreward", "jaxreward_warm", "imitation"))
    return result | {
        # (median, whether only a lower bound: runs that stopped unreached count with their wall time)
        "median_time_to_threshold_s": {"jaxreward": ours, "jaxreward_warm": warm, "imitation": theirs},
        "speedup_of_medians": speedup_of(theirs, ours), "speedup_of_medians_warm": speedup_of(theirs, warm),
        "milestones": milestones(runs, also),
        "speedup_steps_per_second_median": float(np.median([r["speedup_steps_per_second"] for r in runs])),
    }  # fmt: skip


def write(result: dict, out: str) -> None:
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out + ".json", "w") as f:
        json.dump(result, f, indent=2)
    with open(out + ".md", "w") as f:
        f.write(markdown(result))
    print(markdown(result))


def markdown(r: dict) -> str:
    def fmt(x, unit=" s"):
        return f"{x:,.1f}{unit}" if x is not None else "not reached"

    def num(x):
        return f"{x:,}" if x else "–"

    def times(run):
        o, w, t = run["jaxreward"], run["jaxreward_warm"], run["imitation"]
        if run["speedup_time_to_threshold"]:
            speedup = f"{run['speedup_time_to_threshold']}x"
        elif run.get("speedup_lower_bound"):
            speedup = f"> {run['speedup_lower_bound']}x (imitation unreached after {t['wall_s']:,.0f} s)"
        else:
            speedup = "–"
        return (f"| {run['seed']} | {fmt(o['time_to_threshold_s'])} | {fmt(w['time_to_threshold_s'])} | "
                f"{fmt(t['time_to_threshold_s'])} | {speedup} | {num(o['steps_to_threshold'])} | "
                f"{num(t['env_steps'] if t['reached'] else None)} | {o['steps_per_second']:,.0f} | "
                f"{t['steps_per_second']:,.0f} | {o['compile_time_s']:.1f} s, {w['compile_time_s']:.1f} s |")  # fmt: skip

    def bound(m):
        return f"{'> ' if m[1] else ''}{fmt(m[0])}"

    m, med = r["machine"], r["median_time_to_threshold_s"]
    lines = [
        "# Preference-based RL: jaxreward vs imitation (time to the same gold return)",
        "",
        f"Task `pendulum` / `Pendulum-v1`, oracle labels, budget {r['budget']} labels, segments of "
        f"{r['segment_length']} steps, threshold gold return {r['threshold']} (random policy about -1200), "
        f"seeds {', '.join(map(str, r['seeds']))}.",
        f"Machine: {m['cpu']}, {m['cores']} cores; load average {m['load_average_at_start'][0]:.1f} at start, "
        f"{m['load_average_at_end'][0]:.1f} at end (a shared machine: read the ratios). Command: `{r['command']}`.",
        "",
        f"**Median wall time to threshold (imports excluded): jaxreward {bound(med['jaxreward'])} cold, "
        f"{bound(med['jaxreward_warm'])} warm; imitation {bound(med['imitation'])}. Speedup of the medians: "
        f"{r['speedup_of_medians'] or '–'} cold, {r['speedup_of_medians_warm'] or '–'} warm.**",
        *[f"Lower return {thr}, read off the same runs: median jaxreward {bound(ms['median_time_s']['jaxreward'])} cold, "
          f"{bound(ms['median_time_s']['jaxreward_warm'])} warm; imitation {bound(ms['median_time_s']['imitation'])}; "
          f"speedup {ms['speedup_of_medians'] or '–'} cold, {ms['speedup_of_medians_warm'] or '–'} warm."
          for thr, ms in r.get("milestones", {}).items()],
        "",
        "| seed | jaxreward cold | jaxreward warm | imitation | speedup (cold) | jaxreward steps | imitation steps "
        "| jaxreward steps/s | imitation steps/s | jaxreward compile (cold, warm) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *[times(run) for run in r["runs"]],
        "",
        "A median marked > is a lower bound: runs that stopped without reaching the return count with their whole "
        "wall time.",
        "",
        f"jaxreward's times include compiling: cold (an empty persistent cache, a first run) and warm (the same configuration run again, programs loaded from the cache). imitation's step rate includes its reward-model training. jaxreward reads progress every {LOG_EVERY:,} steps, so its steps and time to the threshold are rounded up to a chunk.",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
