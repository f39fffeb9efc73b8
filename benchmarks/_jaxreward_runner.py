"""Time-to-threshold of one jaxreward PPO run, in a fresh process (used by `vs_sb3.py`).

Runs in its own process so that nothing compiled earlier in memory helps it; whether the
persistent compilation cache helps is decided by `$JAXREWARD_CACHE_DIR` (an empty
directory: a cold start; one a previous run filled: a warm start).

The clock starts after the imports (import time is reported separately and excluded, as it
is for SB3) and includes building the trainer, compiling (init and the training chunk; the chunk's
time is split into tracing + lowering, which no cache skips, and XLA compilation, which the
persistent cache replaces by a load),
and training. Progress is read at the end of every chunk of `--log-every` env steps: the
mean `gold_return` of the training episodes (stochastic policy) that finished in the chunk,
averaged over seeds. Time-to-threshold is the wall time at the end of the first chunk whose
mean reaches `--threshold`.

Prints one JSON object on the last line of stdout.
"""

from __future__ import annotations

import time

_T_IMPORT = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxreward.training.compile_cache import enable_compile_cache  # noqa: E402
from jaxreward.training.presets import config_for  # noqa: E402
from jaxreward.training.trainer import Trainer  # noqa: E402

IMPORT_TIME_S = time.perf_counter() - _T_IMPORT


def chunk_return(metrics: dict) -> float:
    """Mean gold return over seeds of the episodes that ended in a chunk.

    metrics["gold_return"], metrics["episodes"]: [S, n_iter]. Each iteration's value is the
    mean over the episodes that ended in it, so iterations are weighted by their count.
    """
    ret, count = np.asarray(metrics["gold_return"]), np.asarray(metrics["episodes"])
    per_seed = []
    for r, c in zip(ret, count):
        ended = c > 0
        per_seed.append(float((r[ended] * c[ended]).sum() / c[ended].sum()) if ended.any() else float("nan"))
    return float(np.mean(per_seed))


def run(env: str, threshold: float, max_steps: int, log_every: int, seed: int, num_seeds: int,
        overrides: dict, stop_at_threshold: bool = True) -> dict:
    t_start = time.perf_counter()
    cache_dir = enable_compile_cache()
    cfg = config_for(env, seed=seed, num_seeds=num_seeds, **overrides)
    trainer = Trainer(cfg)
    iters_per_chunk = max(1, math.ceil(log_every / cfg.steps_per_iteration))
    steps_per_chunk = iters_per_chunk * cfg.steps_per_iteration

    t = time.perf_counter()
    state = trainer.init_seeds(trainer.seed_keys())
    jax.block_until_ready(state)
    init_time = time.perf_counter() - t
    t = time.perf_counter()
    lowered = trainer.chunk_fn(iters_per_chunk).lower(state)  # Python tracing + lowering to HLO
    lower_time = time.perf_counter() - t
    chunk = lowered.compile()  # XLA (or a load from the persistent cache)
    compile_time = time.perf_counter() - t

    curve, reached, train_time, env_steps = [], None, 0.0, 0
    while env_steps < max_steps:
        t = time.perf_counter()
        state, metrics = chunk(state)
        metrics = jax.device_get(metrics)
        train_time += time.perf_counter() - t
        env_steps += steps_per_chunk
        ret = chunk_return(metrics)
        wall = time.perf_counter() - t_start
        curve.append((env_steps, round(wall, 3), round(ret, 3)))
        if reached is None and ret >= threshold:
            reached = {"time_s": round(wall, 3), "env_steps": env_steps, "return": round(ret, 3)}
            if stop_at_threshold:
                break
    return {
        "framework": "jaxreward",
        "env": env,
        "threshold": threshold,
        "reached": reached,
        "time_to_threshold_s": reached["time_s"] if reached else None,
        "steps_to_threshold": reached["env_steps"] if reached else None,
        "import_time_s": round(IMPORT_TIME_S, 3),
        "init_time_s": round(init_time, 3),
        "compile_time_s": round(compile_time, 3),
        "compile_trace_lower_s": round(lower_time, 3),
        "compile_xla_s": round(compile_time - lower_time, 3),
        "train_time_s": round(train_time, 3),
        "steps_per_second": round(env_steps * num_seeds / train_time, 1) if train_time else None,
        "total_time_s": round(time.perf_counter() - t_start, 3),
        "num_seeds": num_seeds,
        "steps_per_chunk": steps_per_chunk,
        "compile_cache_dir": cache_dir,
        "config": json.loads(json.dumps(cfg.to_dict(), default=str)),
        "curve": curve,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", required=True)
    p.add_argument("--threshold", type=float, required=True)
    p.add_argument("--max-steps", type=int, required=True)
    p.add_argument("--log-every", type=int, required=True, help="env steps per seed between progress reads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-seeds", type=int, default=1)
    p.add_argument("--overrides", default="{}", help="JSON dict of config_for overrides")
    p.add_argument("--no-stop", action="store_true", help="train to --max-steps even after the threshold")
    a = p.parse_args()
    out = run(a.env, a.threshold, a.max_steps, a.log_every, a.seed, a.num_seeds, json.loads(a.overrides),
              stop_at_threshold=not a.no_stop)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
