"""Environment throughput: env steps per second of every registered env at 1–1024 parallel envs.

For each env and batch size B in (1, 64, 256, 1024), one jitted program runs T steps of the
batched env the learners step — `training_wrap(env)`: vmapped `step`, time limit, fresh
auto-resets — under `lax.scan`, with uniform random actions drawn inside the scan. Reported:
the compile time (lowering + XLA compilation of that program, per B) and steps/s = B·T over
the best wall time of `--repeats` calls (after the compile and one untimed call). T is
chosen per B so that each call makes about `--budget` env steps (10 ≤ T ≤ 1000).

Side by side, for the envs that exist in Gymnasium (`envs._catalog.GYMNASIUM_IDS`: the MuJoCo locomotion
tasks Hopper/Walker2d/HalfCheetah/Ant/Humanoid-v5 once their jaxreward versions are
registered, plus Reacher-v5, Pendulum-v1, CartPole-v1, MountainCarContinuous-v0), the same
count of steps (B·T, with pre-drawn random actions) through Gymnasium's synchronous vector
env of B copies (MuJoCo on the CPU), and the ratio jaxreward / Gymnasium. Gymnasium is not a
project dependency: it runs in a separate virtual environment (default
`benchmarks/.venv-sb3`, which has gymnasium[mujoco]; `--gymnasium-python` picks another),
by re-running this file there with `--gymnasium-worker`, which imports only gymnasium and
numpy. The jaxreward and Gymnasium models of a task are not the same MJCF (see each env's
docstring), so the ratio compares simulators of the same task, not identical programs.

Usage (project venv):
    python benchmarks/env_throughput.py [--envs 'point_maze*,hopper'] [--quick]
Writes (merging with earlier runs, by env) benchmarks/results/env_throughput.{json,md}.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results", "env_throughput")
GYMNASIUM_PYTHON = os.path.join(HERE, ".venv-sb3", "bin", "python")
BATCH_SIZES = (1, 64, 256, 1024)



# ---------------------------------------------------------------------------------------------
# The Gymnasium side (runs in the Gymnasium venv: gymnasium and numpy only).


def gymnasium_worker(spec: dict) -> dict:
    """Steps `spec["env_id"]` as a sync vector env of each B for B·T pre-drawn random actions."""
    import gymnasium as gym
    import numpy as np

    out = {"gymnasium": gym.__version__, "runs": {}}
    try:
        import mujoco

        out["mujoco"] = mujoco.__version__
    except ImportError:
        pass
    for batch, steps in spec["runs"]:
        envs = gym.make_vec(spec["env_id"], num_envs=batch, vectorization_mode="sync")
        envs.reset(seed=0)
        envs.action_space.seed(0)
        space = envs.action_space
        rng = np.random.default_rng(0)
        if hasattr(space, "nvec"):  # MultiDiscrete: one discrete action per env
            actions = rng.integers(0, space.nvec[0], (steps, batch))
        else:
            actions = rng.uniform(space.low, space.high, (steps,) + space.shape).astype(space.dtype)
        best = float("inf")
        for t in range(min(steps, 10)):  # warm-up, as the jaxreward side's untimed call
            envs.step(actions[t])
        for _ in range(spec["repeats"]):
            start = time.perf_counter()
            for t in range(steps):
                envs.step(actions[t])
            best = min(best, time.perf_counter() - start)
        envs.close()
        out["runs"][str(batch)] = batch * steps / best
    return out


def run_gymnasium(python: str, env_id: str, runs: list[tuple[int, int]], repeats: int) -> dict | None:
    spec = json.dumps({"env_id": env_id, "runs": runs, "repeats": repeats})
    proc = subprocess.run(
        [python, os.path.abspath(__file__), "--gymnasium-worker", spec], capture_output=True, text=True
    )
    if proc.returncode != 0:
        print(f"  gymnasium {env_id} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# The jaxreward side.


def machine() -> dict:
    import jax
    import mujoco

    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    return {
        "cpu_model": model or platform.processor(),
        "cpu_cores": os.cpu_count(),
        "device": str(jax.devices()[0].device_kind),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "mujoco": mujoco.__version__,
    }


def steps_for(batch: int, budget: int) -> int:
    """Scan length T for batch size B: about `budget` env steps per call, 10 ≤ T ≤ 1000."""
    return int(min(1000, max(10, budget // batch)))


def measure_env(name: str, batch_sizes, budget: int, repeats: int) -> list[dict]:
    """Compile time and steps/s of `training_wrap(envs.make(name))` at each batch size."""
    import jax
    import jax.numpy as jnp

    import envs
    from envs.wrappers import training_wrap

    env = envs.make(name)
    batched = training_wrap(env)

    def random_actions(key, batch):
        if env.discrete:
            return jax.random.randint(key, (batch,), 0, env.action_size, jnp.int32)
        return jax.random.uniform(key, (batch, env.action_size), minval=-1.0, maxval=1.0)

    rows = []
    for batch in batch_sizes:
        steps = steps_for(batch, budget)

        def rollout(state, key, batch=batch, steps=steps):
            def one(state, k):
                state = batched.step(state, random_actions(k, batch))
                return state, state.reward

            state, rewards = jax.lax.scan(one, state, jax.random.split(key, steps))
            return state, rewards.sum()

        start = time.perf_counter()
        reset = jax.jit(batched.reset).lower(jax.random.split(jax.random.PRNGKey(0), batch)).compile()
        state = reset(jax.random.split(jax.random.PRNGKey(0), batch))
        compiled = jax.jit(rollout).lower(state, jax.random.PRNGKey(1)).compile()
        compile_s = time.perf_counter() - start
        # One untimed call first: the first run of a fresh executable pays one-off costs that
        # can exceed a small program's own run time many times over (docs/performance.md).
        jax.block_until_ready(compiled(state, jax.random.PRNGKey(1)))
        best = float("inf")
        for r in range(repeats):
            # Every call starts from the reset state: the compiled program's input types are
            # exactly those it was lowered with.
            t0 = time.perf_counter()
            jax.block_until_ready(compiled(state, jax.random.PRNGKey(2 + r)))
            best = min(best, time.perf_counter() - t0)
        rows.append(
            {"env": name, "num_envs": batch, "scan_steps": steps, "compile_s": round(compile_s, 2),
             "steps_per_s": round(batch * steps / best, 1), "load_1min": round(os.getloadavg()[0], 1)}
        )
        print(f"  {name:28s} B={batch:5d} T={steps:5d} compile {compile_s:6.1f} s  {rows[-1]['steps_per_s']:12.0f} steps/s",
              flush=True)
    return rows


# ---------------------------------------------------------------------------------------------
# Results.


def summary_tables(out: dict) -> list[str]:
    """Markdown: steps/s per env at each batch size; then jaxreward vs Gymnasium."""
    by_env: dict[str, dict[int, dict]] = {}
    for row in out["rows"]:
        by_env.setdefault(row["env"], {})[row["num_envs"]] = row
    sizes = sorted({row["num_envs"] for row in out["rows"]})
    lines = [
        "| env | " + " | ".join(f"B={b} steps/s" for b in sizes) + " | compile (s) |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " | ---: |",
    ]
    for env, rows in by_env.items():
        compiles = [r["compile_s"] for r in rows.values()]
        cells = [f"{rows[b]['steps_per_s']:,.0f}" if b in rows else "" for b in sizes]
        lines.append(f"| {env} | " + " | ".join(cells) + f" | {min(compiles):.0f}–{max(compiles):.0f} |")
    compared = {env: rows for env, rows in by_env.items() if any("gymnasium_steps_per_s" in r for r in rows.values())}
    if compared:
        lines += [
            "",
            "| env (Gymnasium id) | " + " | ".join(f"B={b}: ours / Gymnasium steps/s (ratio)" for b in sizes) + " |",
            "| --- | " + " | ".join("---:" for _ in sizes) + " |",
        ]
        for env, rows in compared.items():
            gym_id = next(r["gymnasium_id"] for r in rows.values() if "gymnasium_id" in r)
            cells = []
            for b in sizes:
                r = rows.get(b)
                if r and r.get("gymnasium_steps_per_s"):
                    ratio = r["steps_per_s"] / r["gymnasium_steps_per_s"]
                    cells.append(f"{r['steps_per_s']:,.0f} / {r['gymnasium_steps_per_s']:,.0f} ({ratio:.1f}x)")
                else:
                    cells.append("")
            lines.append(f"| {env} ({gym_id}) | " + " | ".join(cells) + " |")
    return lines


def write_markdown(out: dict, path: str) -> None:
    m = out["machine"]
    lines = [
        "# Environment throughput",
        "",
        f"Machine: {m['cpu_model']}, {m['cpu_cores']} cores ({m['device']}), jax {m['jax']}, mujoco {m['mujoco']}"
        + (f"; Gymnasium {out['gymnasium']['gymnasium']} with mujoco {out['gymnasium'].get('mujoco', '?')}"
           if out.get("gymnasium") else "")
        + ". A shared machine: other processes ran alongside (the `load` column is the 1-minute load average "
        "after each measurement; 2 means both cores busy), so absolute numbers are noisy; each ratio was "
        "measured back to back.",
        "",
        "jaxreward: `training_wrap(env)` (vmapped step, time limit, auto-reset) under `lax.scan`, random actions, "
        "best of the repeats after compiling; compile = lowering + XLA compile of that program per batch size. "
        "Gymnasium: a synchronous vector env of B copies, the same number of steps. Commands: "
        + ", ".join(f"`{c}`" for c in out["commands"]) + ".",
        "",
        *summary_tables(out),
        "",
        "All measurements:",
        "",
        "| env | B | T | compile (s) | jaxreward steps/s | Gymnasium steps/s | jaxreward / Gymnasium | load |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in out["rows"]:
        gym = row.get("gymnasium_steps_per_s")
        gym_cell = f"{gym:,.0f} ({row['gymnasium_id']})" if gym else ""
        ratio = f"{row['steps_per_s'] / gym:.2f}" if gym else ""
        lines.append(
            f"| {row['env']} | {row['num_envs']} | {row['scan_steps']} | {row['compile_s']:.1f} | "
            f"{row['steps_per_s']:,.0f} | {gym_cell} | {ratio} | {row.get('load_1min', '')} |"
        )
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", default="*", help="comma-separated names or glob patterns (default: all)")
    parser.add_argument("--quick", action="store_true", help="batch sizes 1 and 64, small budget, one repeat")
    parser.add_argument("--budget", type=int, default=None, help="env steps per timed call (default 20000)")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls per measurement (default 3)")
    parser.add_argument("--no-gymnasium", action="store_true", help="skip the Gymnasium side")
    parser.add_argument("--gymnasium-python", default=GYMNASIUM_PYTHON, help="python of a venv with gymnasium[mujoco]")
    parser.add_argument("--out", default=RESULTS, help="output path stem (.json and .md are added)")
    parser.add_argument("--gymnasium-worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.gymnasium_worker:
        print(json.dumps(gymnasium_worker(json.loads(args.gymnasium_worker))))
        return

    sys.path.insert(0, ROOT)
    import envs
    from envs._catalog import GYMNASIUM_IDS

    batch_sizes = BATCH_SIZES[:2] if args.quick else BATCH_SIZES
    budget = args.budget or (2_000 if args.quick else 20_000)
    repeats = args.repeats or (1 if args.quick else 3)
    patterns = [p.strip() for p in args.envs.split(",") if p.strip()]
    names = [n for n in envs.names() if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    if not names:
        raise SystemExit(f"no environment matches {args.envs!r}; valid names: {', '.join(envs.names())}")
    gymnasium_ok = not args.no_gymnasium and os.path.exists(args.gymnasium_python)
    if not args.no_gymnasium and not gymnasium_ok:
        print(f"no Gymnasium python at {args.gymnasium_python}: skipping the Gymnasium side", file=sys.stderr)

    command = ("python benchmarks/env_throughput.py " + " ".join(sys.argv[1:])).strip()
    gymnasium_info = None
    for name in names:
        print(name, flush=True)
        try:
            env_rows = measure_env(name, batch_sizes, budget, repeats)
        except Exception as err:  # one broken env must not lose the others' numbers
            print(f"  {name} failed: {type(err).__name__}: {err}", file=sys.stderr)
            continue
        if gymnasium_ok and name in GYMNASIUM_IDS:
            result = run_gymnasium(args.gymnasium_python, GYMNASIUM_IDS[name],
                                   [(r["num_envs"], r["scan_steps"]) for r in env_rows], repeats)
            if result:
                gymnasium_info = {k: v for k, v in result.items() if k != "runs"}
                for r in env_rows:
                    r["gymnasium_id"] = GYMNASIUM_IDS[name]
                    r["gymnasium_steps_per_s"] = round(result["runs"][str(r["num_envs"])], 1)
                    print(f"  {GYMNASIUM_IDS[name]:28s} B={r['num_envs']:5d} {r['gymnasium_steps_per_s']:12.0f} steps/s"
                          f"  ratio {r['steps_per_s'] / r['gymnasium_steps_per_s']:.2f}", flush=True)
        save(args.out, name, env_rows, command, gymnasium_info)  # after each env: a long run keeps its progress
    print(f"wrote {args.out}.json and {args.out}.md")


def save(stem: str, name: str, rows: list[dict], command: str, gymnasium_info: dict | None) -> None:
    """Merges one env's rows into `stem`.json (replacing its earlier rows) and rewrites `stem`.md."""
    out = {"machine": machine(), "gymnasium": gymnasium_info, "commands": [command], "rows": rows}
    if os.path.exists(stem + ".json"):
        with open(stem + ".json") as f:
            old = json.load(f)
        out["rows"] = [r for r in old["rows"] if r["env"] != name] + rows
        out["commands"] = [c for c in old.get("commands", []) if c != command] + [command]
        out["gymnasium"] = gymnasium_info or old.get("gymnasium")
    out["rows"].sort(key=lambda r: (r["env"], r["num_envs"]))
    os.makedirs(os.path.dirname(stem) or ".", exist_ok=True)
    with open(stem + ".json", "w") as f:
        json.dump(out, f, indent=1)
    write_markdown(out, stem + ".md")


if __name__ == "__main__":
    main()
