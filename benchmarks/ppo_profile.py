"""Where jaxreward's PPO training time goes on the MJX `reacher` (settings of ppo_throughput.py).

Each variant is one jitted program over the same number of env steps (`chunk` iterations
of `num_envs * unroll_length`), built from jaxreward's own pieces without changing them:

    A  raw stepping            scan of jax.vmap(env.step), random actions
    B  training_wrap stepping  scan of AutoReset(Vmap(TimeLimit(env))).step
    C  B, vmapped over 1 seed  as Trainer.chunk_fn runs it (a batched lax.cond predicate)
    D  rollout, zero policy    training/rollout.py's scan (stores the transitions), no network
    E  rollout, policy         D with the agent's act() (policy + value forward, sampling)
    F  iteration, no seed vmap Trainer.iteration scanned: rollout + rewards + PPO learn + stats
    G  iteration, 1-seed vmap  F under vmap, i.e. Trainer.chunk_fn
    H  G with update_epochs=1  learning cost per epoch = (G - H) / 3
    I  G with normalize_obs=False
    L  PPO's learning alone    `update_epochs` x `num_minibatches` updates on one fixed rollout
                               (no env, no rollout): A / (A + L) bounds the training
                               throughput as a fraction of raw stepping

Variants run round-robin `--rounds` times (each call ~0.1-1 s) so that load from other
processes spreads over all of them; the median and the minimum per variant are reported.
Differences between variants attribute the time: B-A auto-reset and time limit, C-B the
seed vmap turning AutoReset's lax.cond into a select, D-B rollout bookkeeping, E-D the
policy, F-E the update, G-F the seed vmap overall.

Usage (project venv): python benchmarks/ppo_profile.py [--rounds 7]
Writes benchmarks/results/ppo_profile.{json,md}.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import envs  # noqa: E402
from jaxreward.agents.base import Experience, LearnContext  # noqa: E402
from jaxreward.training.compile_cache import enable_compile_cache  # noqa: E402
from jaxreward.training.rollout import rollout  # noqa: E402
from jaxreward.training.trainer import RUNS_AXIS, Trainer  # noqa: E402
from ppo_throughput import ENV, SETTINGS, jaxreward_config, machine  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def stepping(env, num_envs: int, length: int):
    def run(state):
        def body(s, k):
            return env.step(s, jax.random.uniform(k, (num_envs, 2), minval=-1.0, maxval=1.0)), None

        return jax.lax.scan(body, state, jax.random.split(jax.random.PRNGKey(0), length))[0]

    return run


def rollouts(trainer: Trainer, n: int, zero_policy: bool):
    cfg = trainer.cfg

    def run(ts):
        def body(ts, _):
            if zero_policy:
                b = cfg.num_envs
                policy = lambda obs, key: (jnp.zeros((b, 2)), {})  # noqa: E731
            else:
                policy = lambda obs, key: trainer.learner.act(ts.learner, trainer._normalize(ts.normalizer, obs), key)  # noqa: E731
            rng, key = jax.random.split(ts.rng)
            env_state, roll = rollout(trainer.env, policy, ts.env, key, cfg.unroll_length)
            return ts.replace(env=env_state, rng=rng), jnp.sum(roll.transitions.obs)

        return jax.lax.scan(body, ts, None, length=n)[0]

    return run


def learning(trainer: Trainer, n: int):
    """PPO's update alone, `n` times on the rollout carried beside the train state."""

    def run(carry):
        ts, roll = carry

        def body(ts, _):
            rng, key = jax.random.split(ts.rng)
            t = roll.transitions
            experience = Experience(t, roll.extras, t.gold_reward, None, t.next_obs[-1])
            ctx = LearnContext(functools.partial(trainer._normalize, ts.normalizer), None, jnp.asarray(False))
            learner, _ = trainer.learner.learn(ts.learner, experience, ctx, key)
            return ts.replace(learner=learner, rng=rng), None

        return jax.lax.scan(body, ts, None, length=n)[0], roll

    return run


def iterations(trainer: Trainer, n: int):
    return lambda ts: jax.lax.scan(lambda s, _: trainer.iteration(s), ts, None, length=n)[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--chunk", type=int, default=5, help="iterations per timed call")
    p.add_argument("--variants", default="ABCDEFGHIL", help="letters of the variants to run (A is always run)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "ppo_profile"))
    args = p.parse_args()
    enable_compile_cache()
    n, s = args.chunk, SETTINGS
    steps = n * s["num_envs"] * s["unroll_length"]
    cfg = jaxreward_config()
    tr = Trainer(cfg)
    seeds = tr.init_seeds(tr.seed_keys())
    one = jax.tree.map(lambda x: x[0], seeds)
    base = envs.make(ENV, time_limit=False)
    raw_env = type("RawBatch", (), {"step": staticmethod(jax.vmap(base.step))})
    raw_state = jax.vmap(base.reset)(jax.random.split(jax.random.PRNGKey(0), s["num_envs"]))
    # The trainer's env reduces its reset predicate over the vmapped runs axis; the
    # variants without that vmap step a copy whose env has no such axis.
    tr_flat = Trainer(cfg)
    tr_flat.env = envs.training_wrap(tr.env.env.env)
    runs_vmap = functools.partial(jax.vmap, axis_name=RUNS_AXIS)
    tr_e1 = Trainer(dataclasses.replace(cfg, ppo=dataclasses.replace(cfg.ppo, update_epochs=1)))
    tr_nn = Trainer(dataclasses.replace(cfg, normalize_obs=False))
    length = n * s["unroll_length"]

    def one_rollout(ts):
        policy = lambda obs, key: tr_flat.learner.act(ts.learner, tr_flat._normalize(ts.normalizer, obs), key)  # noqa: E731
        return rollout(tr_flat.env, policy, ts.env, jax.random.PRNGKey(1), cfg.unroll_length)[1]

    variants = {
        "A raw stepping": (stepping(raw_env, s["num_envs"], length), raw_state),
        "B training_wrap stepping": (stepping(tr_flat.env, s["num_envs"], length), one.env),
        "C training_wrap stepping, vmap over 1 seed": (runs_vmap(stepping(tr.env, s["num_envs"], length)), seeds.env),
        "D rollout, zero policy": (rollouts(tr_flat, n, True), one),
        "E rollout, policy": (rollouts(tr_flat, n, False), one),
        "F iteration, no seed vmap": (iterations(tr_flat, n), one),
        "G iteration, vmap over 1 seed (= Trainer.chunk_fn)": (runs_vmap(iterations(tr, n)), seeds),
        "H G with update_epochs=1": (runs_vmap(iterations(tr_e1, n)), tr_e1.init_seeds(tr_e1.seed_keys())),
        "I G with normalize_obs=False": (runs_vmap(iterations(tr_nn, n)), tr_nn.init_seeds(tr_nn.seed_keys())),
        "L PPO learning alone, fixed rollout": (learning(tr_flat, n), (one, jax.jit(one_rollout)(one))),
    }
    variants = {k: v for k, v in variants.items() if k[0] == "A" or k[0] in args.variants}
    # Each variant owns a private copy of its input and feeds its output back in.
    state = {k: [jax.jit(f), jax.tree.map(jnp.copy, x), []] for k, (f, x) in variants.items()}

    def call(v) -> float:
        t = time.perf_counter()
        v[1] = v[0](v[1])
        jax.block_until_ready(v[1])
        return time.perf_counter() - t

    for name, v in state.items():
        print(f"compiling {name}...", flush=True)
        call(v)
        call(v)  # a retrace when outputs differ from inputs in weak types
    for r in range(args.rounds):
        for v in state.values():
            v[2].append(call(v))
        print(f"round {r + 1}/{args.rounds}", flush=True)

    table = {}
    for name, v in state.items():
        med, low = float(np.median(v[2])), float(np.min(v[2]))
        table[name] = {"median_ms": med * 1e3, "min_ms": low * 1e3, "median_steps_per_second": steps / med,
                       "max_steps_per_second": steps / low, "samples_ms": [x * 1e3 for x in v[2]]}
    out = {"benchmark": "ppo_profile", "command": "python benchmarks/ppo_profile.py"
           + (f" --rounds {args.rounds}" if args.rounds != 7 else "")
           + (f" --variants {args.variants}" if args.variants != "ABCDEFGHIL" else ""),
           "env": ENV, "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in s.items()},
           "steps_per_call": steps, "rounds": args.rounds, "machine": machine(), "variants": table}
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    lines = [
        "# Where jaxreward's PPO time goes (MJX `reacher`, settings of ppo_throughput.py)",
        "",
        f"Command: `{out['command']}`. Machine: {out['machine']['cpu_model']}, {out['machine']['cpu_cores']} cores, "
        f"jax {out['machine']['jax']}. Each call: {steps} env steps; {args.rounds} rounds, round-robin.",
        "",
        "| variant | median ms | min ms | median steps/s | time / A (min) | time / A (median of rounds) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    a_min = table["A raw stepping"]["min_ms"]
    a_rounds = np.array(table["A raw stepping"]["samples_ms"])
    for name, t in table.items():
        per_round = float(np.median(np.array(t["samples_ms"]) / a_rounds))
        t["time_over_A_median_of_rounds"] = per_round
        lines.append(f"| {name} | {t['median_ms']:.0f} | {t['min_ms']:.0f} | {t['median_steps_per_second']:,.0f} | "
                     f"{t['min_ms'] / a_min:.2f} | {per_round:.2f} |")
    lines.append("")
    learn = table.get("L PPO learning alone, fixed rollout")
    if learn:
        bound = 1.0 / (1.0 + learn["time_over_A_median_of_rounds"])
        lines.append(f"PPO's learning alone takes {learn['time_over_A_median_of_rounds']:.2f}x the time of raw stepping "
                     f"(median of per-round ratios), so training can run at most A / (A + L) = {bound:.2f} of raw "
                     "stepping at these settings, before any rollout bookkeeping.")
        lines.append("")
    with open(args.out + ".json", "w") as f:
        json.dump(out, f, indent=2)
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
