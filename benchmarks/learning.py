"""Reference learning curves: every registered environment trained with its preset.

For each environment, PPO with the environment's preset (`jaxreward.training.presets`)
trains `--seeds` seeds vmapped in one program on the gold reward, with the deterministic
evaluation of `training/policy_eval.py` at every log point. Budget: the preset's
`total_steps`, and at least `LOCOMOTION_MIN_STEPS` for the locomotion tasks.

Per environment the results record: the final evaluation return (mean of the last tenth of
log points per seed), its mean over seeds with a 95% Student-t interval, the evaluation
return at the first log point (an almost untrained policy), whether the environment learned
(the interval's lower end above the first log point's mean return), the env steps and
wall-clock time at which the seed-mean curve first reached 90% of the way from its first to
its final value, the training throughput, and, for the tasks that follow a Gymnasium
task, the published RL Baselines3 Zoo PPO return at its budget (a dashed line in the figure).

Writes, after every environment (so an interrupted run keeps what it finished):
`benchmarks/results/learning.{json,md}` and `docs/figures/learning_curves_{steps,time}.png`.
Runs live in `runs/learning/<env>`; `--resume` skips environments already in the JSON and
continues an interrupted environment from its last checkpoint.

    python benchmarks/learning.py --resume                     # everything (hours on a 2-core CPU)
    python benchmarks/learning.py --envs hopper,reacher --resume
    python benchmarks/learning.py --envs pendulum --steps 50000  # a quick look (not the published budget)
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import platform
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LOCOMOTION = ("hopper", "walker2d", "halfcheetah", "ant", "humanoid")
LOCOMOTION_MIN_STEPS = 3_000_000
#: Published PPO returns on the Gymnasium task each env follows: (task, mean return, env
#: steps). RL Baselines3 Zoo's benchmark table (github.com/DLR-RM/rl-baselines3-zoo,
#: benchmark.md): one agent trained with the Zoo's hyperparameters, then evaluated with its
#: deterministic policy over 150k steps.
PUBLISHED = {
    "hopper": ("Hopper-v3", 2410.4, 1_000_000),
    "walker2d": ("Walker2d-v3", 3478.8, 1_000_000),
    "halfcheetah": ("HalfCheetah-v3", 5819.1, 1_000_000),
    "ant": ("Ant-v3", 1327.2, 1_000_000),
    "pendulum": ("Pendulum-v1", -172.2, 100_000),
    "cartpole": ("CartPole-v1", 500.0, 100_000),
}
PUBLISHED_SOURCE = "RL Baselines3 Zoo benchmark.md (PPO, one trained agent, deterministic evaluation)"
COLUMN = "eval/gold_return"


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        cpu = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except Exception:
        pass
    import jax

    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "jax": jax.__version__,
            "device": str(jax.devices()[0].device_kind)}


def budget(env: str, preset_steps: int, override: int | None) -> int:
    if override:
        return override
    return max(preset_steps, LOCOMOTION_MIN_STEPS) if env in LOCOMOTION else preset_steps


def t_interval(values: np.ndarray) -> tuple[float, float]:
    """95% Student-t interval of the mean (nan, nan) for fewer than two values."""
    from scipy import stats

    values = values[np.isfinite(values)]
    if len(values) < 2:
        return math.nan, math.nan
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def curve(rows: list[dict], column: str = COLUMN) -> dict:
    """Seed-mean curve of `column`: env steps, wall time, mean and per-seed values."""
    steps = sorted({r["env_steps"] for r in rows})
    table = np.array([[r[column] for r in rows if r["env_steps"] == s] for s in steps], dtype=float)
    wall = [float(np.nanmean([r["wall_time_s"] for r in rows if r["env_steps"] == s])) for s in steps]
    return {"env_steps": steps, "wall_time_s": wall, "mean": np.nanmean(table, axis=1).tolist(),
            "per_seed": table.T.tolist()}


def analyse(env: str, rows: list[dict], summary: dict, cfg) -> dict:
    from jaxreward import results

    finals = np.array(list(results.final_value(rows, COLUMN).values()), dtype=float)
    c = curve(rows)
    lo, hi = t_interval(finals)
    first = c["mean"][0]
    final = float(np.nanmean(finals))
    goal = first + 0.9 * (final - first)
    reach = next((i for i, v in enumerate(c["mean"]) if (v >= goal if final >= first else v <= goal)), len(c["mean"]) - 1)
    tail = c["mean"][-max(2, len(c["mean"]) // 10):]
    entry = {
        "env": env,
        "seeds": len(finals),
        "env_steps": int(c["env_steps"][-1]),
        "final_eval_return": final,
        "interval_95": [lo, hi],
        "per_seed_final": finals.tolist(),
        "first_eval_return": first,
        "learned": bool(np.isfinite(lo) and lo > first),
        "steps_to_90pct": int(c["env_steps"][reach]),
        "time_to_90pct_s": round(c["wall_time_s"][reach], 1),
        "wall_time_s": round(c["wall_time_s"][-1], 1),
        "steps_per_second": summary.get("steps_per_second"),
        "compile_time_s": summary.get("compile_time_s"),
        "still_rising": bool(len(tail) >= 2 and tail[-1] > tail[0] + 0.02 * abs(tail[0] - first)),
        "config": {"num_envs": cfg.num_envs, "ppo": dataclasses.asdict(cfg.ppo)},
        "curve": c,
    }
    if env in PUBLISHED:
        task, value, steps = PUBLISHED[env]
        # Ours at the first log point at or after the published budget.
        i = int(np.searchsorted(c["env_steps"], steps))
        if i < len(c["env_steps"]):
            entry["ours_at_published_budget"] = {"env_steps": c["env_steps"][i], "mean": c["mean"][i],
                                                 "per_seed": [s[i] for s in c["per_seed"]]}
        entry["published"] = {"task": task, "return": value, "env_steps": steps, "source": PUBLISHED_SOURCE}
    return entry


def train_env(env: str, seeds: int, steps: int | None, run_root: str, resume: bool, eval_episodes: int) -> dict:
    from jaxreward.training import loop, presets

    preset_steps = presets.config_for(env).total_steps
    total = budget(env, preset_steps, steps)
    # Checkpoints every tenth of the budget, so an interrupted environment continues (--resume).
    cfg = presets.config_for(env, num_seeds=seeds, total_steps=total, eval_episodes=eval_episodes,
                             checkpoint_every=max(1, total // 10))
    run_dir = os.path.join(run_root, env.replace("/", "_"))
    partial = os.path.exists(os.path.join(run_dir, "checkpoints"))
    if os.path.exists(run_dir) and not (resume and partial):
        import shutil

        shutil.rmtree(run_dir)  # a run without a checkpoint to continue from starts again
    result = loop.train(cfg, run_dir=run_dir, resume=bool(resume and partial), quiet=True)
    return analyse(env, result.rows, result.summary, cfg)


def write_outputs(data: dict, out: str, figures: str) -> None:
    with open(out + ".json", "w") as f:
        json.dump(data, f, indent=1)
    entries = [data["envs"][k] for k in sorted(data["envs"])]
    lines = [
        "# Reference learning curves: PPO with each environment's preset, gold reward",
        "",
        f"Command: `{data['command']}`. Updated {data['updated']}. Machine: {data['machine']['cpu']}, "
        f"{data['machine']['cores']} cores, device `{data['machine']['device']}`, jax {data['machine']['jax']}.",
        "",
        f"Return: deterministic-policy evaluation on the gold reward (`eval/gold_return`, {data['eval_episodes']} episodes "
        "per seed and log point); final = mean over the last tenth of log points, per seed; interval = 95% Student-t over seeds. "
        "Learned: the interval lies above the evaluation return at the first log point. Time to 90%: wall time "
        "(compile excluded) until the seed-mean curve first covers 90% of the way from its first to its final value.",
        "",
        "| env | seeds | env steps | final eval return (95% interval) | first log point | learned | "
        "steps to 90% | time to 90% | steps/s | published PPO (ours at that budget) |",
        "| --- | ---: | ---: | --- | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for e in entries:
        lo, hi = e["interval_95"]
        interval = f"{e['final_eval_return']:.1f} ({lo:.1f} to {hi:.1f})" if math.isfinite(lo) else f"{e['final_eval_return']:.1f}"
        learned = "yes" if e["learned"] else "**no**"
        if e["still_rising"]:
            learned += " (still rising)"
        published = ""
        if "published" in e:
            p = e["published"]
            at = e.get("ours_at_published_budget")
            ours = f" (ours {at['mean']:.0f} at {at['env_steps']:,})" if at else ""
            published = f"{p['task']} {p['return']:.0f} at {p['env_steps']:,}{ours}"
        sps = f"{e['steps_per_second']:,.0f}" if e.get("steps_per_second") else ""
        lines.append(f"| `{e['env']}` | {e['seeds']} | {e['env_steps']:,} | {interval} | {e['first_eval_return']:.1f} | "
                     f"{learned} | {e['steps_to_90pct']:,} | {e['time_to_90pct_s']:.0f} s | {sps} | {published} |")
    missing = data.get("not_run", [])
    if missing:
        lines += ["", "Not run yet: " + ", ".join(f"`{m}`" for m in missing) + "."]
    lines += ["", f"Published numbers: {PUBLISHED_SOURCE}, on the Gymnasium task named.",
              "", "Figures: `docs/figures/learning_curves_steps.png`, `docs/figures/learning_curves_time.png`."]
    with open(out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    plot(entries, figures)


def plot(entries: list[dict], figures: str) -> None:
    if not entries:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(figures, exist_ok=True)
    for axis, label, name in (("env_steps", "environment steps per seed", "steps"), ("wall_time_s", "wall-clock time (s)", "time")):
        cols = min(6, len(entries))
        rows = math.ceil(len(entries) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.4 * rows), dpi=100, squeeze=False)
        for ax, e in zip(axes.flat, entries):
            x = np.asarray(e["curve"][axis])
            per_seed = np.asarray(e["curve"]["per_seed"], dtype=float)
            ax.plot(x, np.nanmean(per_seed, axis=0), color="tab:green")
            ax.fill_between(x, np.nanmin(per_seed, axis=0), np.nanmax(per_seed, axis=0), color="tab:green", alpha=0.2)
            if "published" in e and axis == "env_steps":
                ax.axhline(e["published"]["return"], color="tab:red", ls="--", lw=1)
                ax.axvline(e["published"]["env_steps"], color="grey", ls=":", lw=0.8)
            ax.set_title(e["env"], fontsize=9)
            ax.tick_params(labelsize=7)
            ax.xaxis.get_offset_text().set_fontsize(7)
        for ax in list(axes.flat)[len(entries):]:
            ax.axis("off")
        fig.supxlabel(label, fontsize=9)
        fig.supylabel("eval return (mean, min-max of seeds)", fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(figures, f"learning_curves_{name}.png"))
        plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", default="", help="comma-separated (default: every registered environment)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="env steps per seed for every env (default: the budget rule)")
    parser.add_argument("--eval-episodes", type=int, default=16, help="evaluation episodes per seed and log point")
    parser.add_argument("--resume", action="store_true", help="skip envs already in the JSON, continue interrupted ones")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "learning"))
    parser.add_argument("--figures", default=os.path.join(ROOT, "docs", "figures"))
    parser.add_argument("--runs", default=os.path.join(ROOT, "runs", "learning"))
    args = parser.parse_args()

    import envs

    names = args.envs.split(",") if args.envs else envs.names()
    for n in names:
        if n not in envs.names():
            raise SystemExit(str(envs.registry.unknown_name_error("environment", n, envs.names())))
    data = {"envs": {}}
    if args.resume and os.path.exists(args.out + ".json"):
        with open(args.out + ".json") as f:
            data = json.load(f)
    command = "python benchmarks/learning.py " + " ".join(sys.argv[1:])
    todo = [n for n in names if not (args.resume and n in data["envs"])]
    print(f"{len(todo)} environments to train ({len(names) - len(todo)} already done): {', '.join(todo)}", flush=True)
    for i, env in enumerate(todo):
        print(f"[{i + 1}/{len(todo)}] {env}", flush=True)
        try:
            entry = train_env(env, args.seeds, args.steps, args.runs, args.resume, args.eval_episodes)
        except Exception as err:  # one environment's failure is reported and the others still run
            print(f"  {env} failed: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            continue
        data["envs"][env] = entry
        data.update(command=command, updated=datetime.date.today().isoformat(), machine=machine(),
                    eval_episodes=args.eval_episodes)
        data["not_run"] = sorted(set(envs.names()) - set(data["envs"]))
        write_outputs(data, args.out, args.figures)
        lo, hi = entry["interval_95"]
        print(f"  final eval return {entry['final_eval_return']:.1f} [{lo:.1f}, {hi:.1f}], learned {entry['learned']}, "
              f"{entry['wall_time_s']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
