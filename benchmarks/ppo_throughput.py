"""PPO training throughput on the MJX `reacher`: jaxreward vs Brax's PPO vs pure env stepping.

Three measurements, same machine, same process, all after compilation:

(a) jaxreward: `Trainer.chunk_fn(n)` (jit of vmap over one seed of a scan of n PPO
    iterations), compiled ahead of time; each call is followed by a `device_get` of its
    metrics, as the host loop does.
(b) Brax: `brax.training.agents.ppo.train.train` on the same env object (`envs.make(...,
    time_limit=False)`, wrapped by Brax's own training wrappers, `wrap_env=True`), timed
    with `progress_fn` timestamps: one epoch lasts from the end of one callback to the start
    of the next. Brax compiles its training epoch at the 1st epoch and again at the 2nd
    (its inputs change from host arrays to its own outputs), so those two are not timed.
    `run_evals=False`: callbacks carry training metrics, there is no evaluation to pay for.
(c) Pure stepping: jit(lax.scan of `jax.vmap(env.step)`) of the raw env (no time limit,
    no auto-reset) with uniform random actions over the same number of envs; also the
    `envs.training_wrap` stack that jaxreward's training steps, to show the wrappers' cost.

Interleaving: the machine is shared and its load changes by the second, so the three are
paired in rounds. Each Brax progress callback times one jaxreward chunk (as many env steps
as one Brax epoch) and a few pure-stepping scans before returning; a round is one Brax
epoch plus those. Medians over the rounds are reported, and the median of the per-round
ratios.

Matched settings (see `SETTINGS`): num_envs, unroll_length, minibatches, epochs, network
sizes and activation, observation normalisation, Gaussian policy with a state-independent
log-std. Brax's batch semantics: one training step collects
`batch_size * num_minibatches // num_envs` unrolls of `unroll_length` per env and
each minibatch holds `batch_size` *sequences* of `unroll_length` steps. Matching
jaxreward's "one unroll per env per update, split into num_minibatches" therefore needs
`batch_size = num_envs // num_minibatches` (not `num_envs * unroll_length //
num_minibatches`), giving `batch_size * unroll_length` samples per minibatch in both.

Usage (project venv): python benchmarks/ppo_throughput.py [--quick]
Writes benchmarks/results/ppo_throughput.{json,md} (or `--out` stem).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from brax.training.agents.ppo import networks as brax_ppo_networks  # noqa: E402
from brax.training.agents.ppo import train as brax_ppo  # noqa: E402

import envs  # noqa: E402
from jaxreward.training.compile_cache import enable_compile_cache  # noqa: E402
from jaxreward.training.presets import build  # noqa: E402
from jaxreward.training.trainer import Trainer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ENV = "reacher"
EPISODE_LENGTH = 50
SETTINGS = dict(
    num_envs=256,
    unroll_length=32,
    num_minibatches=4,
    update_epochs=4,
    hidden=(64, 64),
    activation="tanh",
    learning_rate=3e-4,
    gamma=0.99,
    gae_lambda=0.95,
    clip_eps=0.2,
    entropy_coef=0.0,
    max_grad_norm=0.5,
    normalize_obs=True,
)


def machine() -> dict:
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "")
    except (OSError, subprocess.CalledProcessError):
        pass
    import brax
    import mujoco

    return {
        "cpu_model": model or platform.processor(),
        "cpu_cores": os.cpu_count(),
        "device": str(jax.devices()[0].device_kind),
        "jax_devices": len(jax.devices()),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "brax": brax.__version__,
        "mujoco": mujoco.__version__,
    }


# ---- (a) jaxreward -------------------------------------------------------------------------
def jaxreward_config():
    s = SETTINGS
    return build(
        dict(
            env=ENV,
            episode_length=EPISODE_LENGTH,
            num_envs=s["num_envs"],
            normalize_obs=s["normalize_obs"],
            ppo=dict(
                unroll_length=s["unroll_length"], num_minibatches=s["num_minibatches"],
                update_epochs=s["update_epochs"], policy_hidden=s["hidden"], value_hidden=s["hidden"],
                activation=s["activation"], learning_rate=s["learning_rate"], gamma=s["gamma"],
                gae_lambda=s["gae_lambda"], clip_eps=s["clip_eps"], entropy_coef=s["entropy_coef"],
                max_grad_norm=s["max_grad_norm"], action_dist="normal_clip",
            ),
        )
    ).validate()


class JaxrewardBench:
    def __init__(self, iterations_per_chunk: int):
        self.cfg = jaxreward_config()
        self.trainer = Trainer(self.cfg)
        self.state = self.trainer.init_seeds(self.trainer.seed_keys())
        self.n = iterations_per_chunk
        t = time.perf_counter()
        self.chunk = self.trainer.chunk_fn(self.n).lower(self.state).compile()
        self.compile_time_s = time.perf_counter() - t
        self._call()  # first call: allocation, thread-pool warm-up

    def _call(self):
        self.state, metrics = self.chunk(self.state)
        return jax.device_get(metrics)

    def measure(self, chunks: int) -> dict:
        t = time.perf_counter()
        for _ in range(chunks):
            metrics = self._call()
        dt = time.perf_counter() - t
        steps = chunks * self.n * self.cfg.steps_per_iteration
        return {"steps": steps, "seconds": dt, "steps_per_second": steps / dt,
                "gold_return": float(np.nanmean(metrics["gold_return"]))}


# ---- (b) Brax, with the other measurements interleaved between its epochs ----------------
def brax_interleaved(training_steps_per_epoch: int, rounds: int, between, seed: int = 0) -> dict:
    """One Brax PPO run of 2 + `rounds` epochs; `between()` runs inside each progress callback.

    Brax's epoch i lasts from the end of callback i-1 to the start of callback i, so the time
    spent in `between` (the other measurements) is not charged to Brax. The first two epochs
    hold Brax's compile and recompile and are not timed.
    """
    s = SETTINGS
    env = envs.make(ENV, time_limit=False)  # Brax's EpisodeWrapper adds the time limit
    steps_per_training_step = s["num_envs"] * s["unroll_length"]
    epochs = 2 + rounds
    calls = []  # (t_enter, t_exit, env_steps, brax's own sps)

    def progress(step, metrics):
        t_enter = time.perf_counter()
        if len(calls) >= 1:  # after the 1st epoch: compiled; the 2nd still recompiles
            between(timed=len(calls) >= 2)
        calls.append((t_enter, time.perf_counter(), int(step), float(metrics["training/sps"])))

    network_factory = functools.partial(
        brax_ppo_networks.make_ppo_networks,
        policy_hidden_layer_sizes=s["hidden"],
        value_hidden_layer_sizes=s["hidden"],
        activation=getattr(nn, s["activation"]),
        distribution_type="normal",  # a Gaussian; the env clips actions, as in jaxreward
        noise_std_type="log",  # learned, state-independent log-std, as in jaxreward
    )
    t0 = time.perf_counter()
    brax_ppo.train(
        env,
        num_timesteps=epochs * training_steps_per_epoch * steps_per_training_step,
        wrap_env=True,
        episode_length=EPISODE_LENGTH,
        num_envs=s["num_envs"],
        unroll_length=s["unroll_length"],
        batch_size=s["num_envs"] // s["num_minibatches"],
        num_minibatches=s["num_minibatches"],
        num_updates_per_batch=s["update_epochs"],
        normalize_observations=s["normalize_obs"],
        network_factory=network_factory,
        learning_rate=s["learning_rate"],
        discounting=s["gamma"],
        gae_lambda=s["gae_lambda"],
        clipping_epsilon=s["clip_eps"],
        entropy_cost=s["entropy_coef"],
        max_grad_norm=s["max_grad_norm"],
        num_evals=epochs + 1,  # one callback after each epoch (none before: run_evals=False)
        run_evals=False,
        progress_fn=progress,
        seed=seed,
    )
    steps_per_epoch = training_steps_per_epoch * steps_per_training_step
    if len(calls) != epochs or calls[0][2] != steps_per_epoch:
        raise RuntimeError(f"unexpected brax callbacks at steps {[c[2] for c in calls]}")
    timed = [
        {"steps": cur[2] - prev[2], "seconds": cur[0] - prev[1], "steps_per_second": (cur[2] - prev[2]) / (cur[0] - prev[1]),
         "brax_reported_sps": cur[3]}
        for prev, cur in zip(calls[1:-1], calls[2:])
    ]
    return {
        "epochs": timed,
        "first_epoch_s": calls[0][0] - t0,
        "second_epoch_s": calls[1][0] - calls[0][1],
        "total_s": time.perf_counter() - t0,
    }


# ---- (c) pure stepping ---------------------------------------------------------------------
class StepBench:
    """jit(scan of `step` over `length` steps) on a batch of `num_envs` envs."""

    def __init__(self, step, reset, num_envs: int, length: int):
        def run(state, key):
            def body(s, k):
                action = jax.random.uniform(k, (num_envs, 2), minval=-1.0, maxval=1.0)
                return step(s, action), None

            return jax.lax.scan(body, state, jax.random.split(key, length))[0]

        self.num_envs, self.length = num_envs, length
        self.state = jax.jit(reset)(jax.random.split(jax.random.PRNGKey(0), num_envs))
        self.fn = jax.jit(run, donate_argnums=0)
        self.key = jax.random.PRNGKey(1)
        # Twice: the second call may retrace (outputs can differ from the reset's in weak
        # types), and neither must land in the timed calls.
        for _ in range(2):
            self._call()

    def _call(self):
        self.key, k = jax.random.split(self.key)
        self.state = self.fn(self.state, k)
        jax.block_until_ready(self.state)

    def measure(self, calls: int) -> dict:
        t = time.perf_counter()
        for _ in range(calls):
            self._call()
        dt = time.perf_counter() - t
        steps = calls * self.length * self.num_envs
        return {"steps": steps, "seconds": dt, "steps_per_second": steps / dt}


def median(rows: list[dict], key: str = "steps_per_second") -> float:
    return float(np.median([r[key] for r in rows]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="4 rounds of half-length measurements")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 9; 4 with --quick)")
    p.add_argument("--out", default=os.path.join(HERE, "results", "ppo_throughput"), help="output path stem")
    args = p.parse_args()
    rounds = args.rounds or (4 if args.quick else 9)
    iterations_per_chunk = 5 if args.quick else 10  # = Brax training steps per epoch
    chunks = 1  # jaxreward chunks per round: as many env steps as one Brax epoch
    step_calls = 3  # pure-stepping scans per round (each a chunk's steps; they are fast)
    s = SETTINGS
    # The persistent cache only makes a re-run start sooner; it changes no run time.
    cache_dir = enable_compile_cache()
    t_all = time.perf_counter()
    load_start = os.getloadavg()[0]

    print(f"compiling jaxreward ({iterations_per_chunk} iterations per chunk)...", flush=True)
    jr = JaxrewardBench(iterations_per_chunk)
    base = envs.make(ENV, time_limit=False)
    print("compiling pure stepping...", flush=True)
    raw = StepBench(jax.vmap(base.step), jax.vmap(base.reset), s["num_envs"], iterations_per_chunk * s["unroll_length"])
    wrapped_env = envs.training_wrap(envs.make(ENV, episode_length=EPISODE_LENGTH))
    wrapped = StepBench(wrapped_env.step, wrapped_env.reset, s["num_envs"], iterations_per_chunk * s["unroll_length"])

    results = {"jaxreward": [], "stepping_raw": [], "stepping_training_wrap": []}

    def between(timed: bool):
        rows = {"jaxreward": jr.measure(chunks), "stepping_raw": raw.measure(step_calls),
                "stepping_training_wrap": wrapped.measure(step_calls)}
        if timed:
            for k, v in rows.items():
                results[k].append(v)
            print(f"round {len(results['jaxreward'])}/{rounds}: "
                  + ", ".join(f"{k} {v['steps_per_second']:,.0f}" for k, v in rows.items()), flush=True)

    print("compiling brax; then rounds of: one brax epoch, jaxreward, stepping...", flush=True)
    brax_run = brax_interleaved(iterations_per_chunk * chunks, rounds, between)
    results["brax"] = brax_run.pop("epochs")

    med = {k: median(v) for k, v in results.items()}
    ratios = {
        "jaxreward_over_brax": med["jaxreward"] / med["brax"],
        "jaxreward_over_pure_stepping": med["jaxreward"] / med["stepping_raw"],
        "brax_over_pure_stepping": med["brax"] / med["stepping_raw"],
        "training_wrap_over_raw_stepping": med["stepping_training_wrap"] / med["stepping_raw"],
    }
    per_round = {
        "jaxreward_over_brax": [a["steps_per_second"] / b["steps_per_second"] for a, b in zip(results["jaxreward"], results["brax"])],
        "jaxreward_over_pure_stepping": [a["steps_per_second"] / b["steps_per_second"]
                                         for a, b in zip(results["jaxreward"], results["stepping_raw"])],
    }
    command = "python benchmarks/ppo_throughput.py" + (" --quick" if args.quick else "") + (
        f" --rounds {args.rounds}" if args.rounds else "")
    out = {
        "benchmark": "ppo_throughput",
        "command": command,
        "env": ENV,
        "episode_length": EPISODE_LENGTH,
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in s.items()},
        "brax_batch_size": s["num_envs"] // s["num_minibatches"],
        "iterations_per_chunk": iterations_per_chunk,
        "timed_chunks_per_round": chunks,
        "stepping_calls_per_round": step_calls,
        "brax_untimed": brax_run,
        "rounds": rounds,
        "machine": machine(),
        "compile_cache_dir": cache_dir,
        "jaxreward_compile_time_s": jr.compile_time_s,
        "median_steps_per_second": med,
        "ratios_of_medians": ratios,
        "ratios_per_round": per_round,
        "median_of_per_round_ratios": {k: float(np.median(v)) for k, v in per_round.items()},
        "targets": {"jaxreward_over_brax": 1.0, "jaxreward_over_pure_stepping": 0.6},
        "raw": results,
        "wall_time_s": time.perf_counter() - t_all,
        "load_average_1min": {"start": load_start, "end": os.getloadavg()[0]},
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out + ".json", "w") as f:
        json.dump(out, f, indent=2)
    with open(args.out + ".md", "w") as f:
        f.write(render_markdown(out))
    print(json.dumps({"median_steps_per_second": med, "ratios_of_medians": ratios}, indent=2))
    print(f"wrote {args.out}.json and {args.out}.md")


def _load_note(o: dict) -> str:
    load = o.get("load_average_1min")
    if not load:
        return ""
    return (f"1-minute load average {load['start']:.1f} at the start, {load['end']:.1f} at the end (this benchmark "
            "alone keeps about 1-2 of the cores busy). ")


def render_markdown(o: dict) -> str:
    m, s = o["machine"], o["settings"]
    med, rat = o["median_steps_per_second"], o["ratios_of_medians"]
    lines = [
        "# PPO throughput on MJX `reacher`: jaxreward vs Brax vs pure stepping",
        "",
        f"Command: `{o['command']}` (project venv). Total wall time {o['wall_time_s']:.0f} s.",
        "",
        f"Machine: {m['cpu_model']}, {m['cpu_cores']} cores, device `{m['device']}` ({m['jax_devices']} JAX device); "
        f"Python {m['python']}, jax {m['jax']}, brax {m['brax']}, mujoco {m['mujoco']}. "
        f"{_load_note(o)}Compare the ratios (all measured in this one run, interleaved), not absolute numbers "
        "across runs: this machine's speed drifts.",
        "",
        f"Settings (both): num_envs {s['num_envs']}, unroll_length {s['unroll_length']}, num_minibatches "
        f"{s['num_minibatches']}, update epochs {s['update_epochs']} (brax `num_updates_per_batch`), policy and value "
        f"MLPs {tuple(s['hidden'])} {s['activation']}, observation normalisation {s['normalize_obs']}, Gaussian policy "
        f"with a state-independent log-std, episode_length {o['episode_length']}. Brax `batch_size` "
        f"{o['brax_batch_size']} (= num_envs / num_minibatches: Brax's minibatches are `batch_size` sequences of "
        f"`unroll_length` steps, so both take {s['num_envs'] * s['unroll_length']} samples per update in "
        f"{s['num_minibatches']} minibatches of {s['num_envs'] * s['unroll_length'] // s['num_minibatches']}).",
        "",
        f"One Brax run; inside each of its progress callbacks (time not charged to Brax) the script times one "
        f"jaxreward chunk of {o['iterations_per_chunk']} iterations and {o['stepping_calls_per_round']} pure-stepping "
        f"scans of {o['iterations_per_chunk'] * s['unroll_length']} steps, so a round is one Brax epoch of "
        f"{o['iterations_per_chunk']} training steps plus those ({s['num_envs'] * s['unroll_length'] * o['iterations_per_chunk']} "
        f"training steps each side). Brax's first 2 epochs hold its compiles and are not timed. {o['rounds']} rounds; "
        "medians below.",
        "",
        "| measurement | median steps/s | per round |",
        "| --- | ---: | --- |",
    ]
    names = {
        "jaxreward": "(a) jaxreward PPO training (`Trainer.chunk_fn`)",
        "brax": "(b) Brax PPO training (`brax.training.agents.ppo.train`)",
        "stepping_raw": "(c) pure stepping, `jax.vmap(env.step)`, random actions",
        "stepping_training_wrap": "(c') pure stepping, `envs.training_wrap` (time limit + auto-reset)",
    }
    for k, label in names.items():
        per = ", ".join(f"{r['steps_per_second']:,.0f}" for r in o["raw"][k])
        lines.append(f"| {label} | {med[k]:,.0f} | {per} |")
    lines += [
        "",
        "| ratio (of medians) | value | target |",
        "| --- | ---: | ---: |",
        f"| jaxreward / Brax | {rat['jaxreward_over_brax']:.2f} | >= 1.0 |",
        f"| jaxreward / pure stepping | {rat['jaxreward_over_pure_stepping']:.2f} | >= 0.6 |",
        f"| Brax / pure stepping | {rat['brax_over_pure_stepping']:.2f} | |",
        f"| training_wrap stepping / raw stepping | {rat['training_wrap_over_raw_stepping']:.2f} | |",
        "",
        "Median of the per-round ratios: jaxreward/Brax "
        f"{o['median_of_per_round_ratios']['jaxreward_over_brax']:.2f}, jaxreward/pure stepping "
        f"{o['median_of_per_round_ratios']['jaxreward_over_pure_stepping']:.2f}. Per-round ratios: jaxreward/Brax "
        + ", ".join(f"{x:.2f}" for x in o["ratios_per_round"]["jaxreward_over_brax"])
        + "; jaxreward/pure stepping "
        + ", ".join(f"{x:.2f}" for x in o["ratios_per_round"]["jaxreward_over_pure_stepping"])
        + ".",
        "",
        f"jaxreward compile time of the chunk: {o['jaxreward_compile_time_s']:.1f} s. Brax's first two epochs "
        "(compile, then a recompile): "
        + f"{o['brax_untimed']['first_epoch_s']:.1f} s + {o['brax_untimed']['second_epoch_s']:.1f} s (with the "
        "persistent compilation cache enabled; a re-run loads them).",
        "",
        "Differences that remain between (a) and (b): Brax's `AutoResetWrapper` puts back the cached first state "
        "(a `where` over the whole MJX data every step, no reset computed), jaxreward draws a fresh reset inside a "
        "`lax.cond` that runs only when an env of any run finished (its predicate is reduced over the chunk's vmapped "
        "runs axis, so the vmap keeps the cond instead of turning it into a select); jaxreward also computes the value of every next observation "
        "(to bootstrap at truncations), tracks per-episode returns on device, and its chunk is vmapped over a seed "
        "axis of size 1. Where the time goes: `ppo_profile.py` (results/ppo_profile.md).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
