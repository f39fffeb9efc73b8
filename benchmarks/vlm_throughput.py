"""Throughput of the VLM-RM reward inside the step: render + CLIP image tower.

Rocamonde et al. (ICLR 2024) render with OpenGL in worker processes and run CLIP in PyTorch
after each episode; here frames are rendered by `env.render` and embedded by the Flax image
tower in one jitted function. This measures, for a ViT-B/32-sized image tower with random
weights (the speed does not depend on the weights) at a batch of 64 frames:

- frames/s of rendering alone, of the image tower alone, and of render + tower + reward;
- the share of a PPO training iteration that the VLM reward would take: the time of
  render + tower for one rollout's frames (num_envs × unroll_length) against the time of a
  gold-reward PPO iteration of the same shape.

    python benchmarks/vlm_throughput.py [--env cartpole] [--batch 64] [--config ViT-B-32]

Writes benchmarks/results/vlm_throughput.json. On a GPU, run the same script: the tower's
time is what changes (and `--bf16`); the render and the PPO iteration should be re-measured
there too, since the share is a ratio of the two.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import jax
import jax.numpy as jnp

import envs
from jaxreward.rewards.encoders import CLIP, init_params
from jaxreward.rewards.encoders.clip_model import CONFIGS
from jaxreward.rewards.vlm_reward import goal_baseline_reward, image_embeddings


def _time(fn, *args, repeats: int) -> float:
    """Seconds per call after one compiling call."""
    jax.block_until_ready(fn(*args))
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(fn(*args))
    return (time.perf_counter() - start) / repeats


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="cartpole")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--config", default="ViT-B-32", choices=sorted(CONFIGS))
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--unroll-length", type=int, default=16)
    parser.add_argument("--skip-ppo", action="store_true", help="do not time the gold PPO iteration")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/vlm_throughput.json"))
    args = parser.parse_args(argv)

    config = CONFIGS[args.config]
    size = config.vision.image_size
    model = CLIP(config, dtype=jnp.bfloat16 if args.bf16 else jnp.float32)
    params = init_params(config, jax.random.PRNGKey(0))
    env = envs.Vmap(envs.make(args.env))
    states = env.reset(jax.random.split(jax.random.PRNGKey(1), args.batch))
    goal = jnp.ones((config.embed_dim,)) / config.embed_dim**0.5
    baseline = jnp.zeros((config.embed_dim,)).at[0].set(1.0)

    render = jax.jit(lambda s: env.render(s, None, size, size))
    frames = render(states)
    tower = jax.jit(lambda p, f: image_embeddings(model, p, f))
    both = jax.jit(lambda p, s: goal_baseline_reward(image_embeddings(model, p, env.render(s, None, size, size)), goal, baseline, 0.5))

    t_render = _time(render, states, repeats=args.repeats)
    t_tower = _time(tower, params, frames, repeats=args.repeats)
    t_both = _time(both, params, states, repeats=args.repeats)
    result = {
        "env": args.env, "batch": args.batch, "config": args.config, "image_size": size,
        "dtype": "bfloat16" if args.bf16 else "float32",
        "render_fps": args.batch / t_render, "tower_fps": args.batch / t_tower, "render_tower_reward_fps": args.batch / t_both,
        "device": str(jax.devices()[0]), "cpu_count": os.cpu_count(), "machine": platform.machine(),
        "load_average_1min": os.getloadavg()[0],
    }

    print(json.dumps(result), flush=True)
    if not args.skip_ppo:
        from jaxreward.agents.ppo import PPOConfig
        from jaxreward.training.config import TrainConfig
        from jaxreward.training.trainer import Trainer

        cfg = TrainConfig(env=args.env, num_envs=args.batch, ppo=replace(PPOConfig(), unroll_length=args.unroll_length))
        trainer = Trainer(cfg)
        ts = trainer.init_seeds(trainer.seed_keys(0, 1))
        chunk = trainer.chunk_fn(1)
        ts = jax.block_until_ready(chunk(ts)[0])  # compiles; the chunk donates its input state
        start = time.perf_counter()
        for _ in range(args.repeats):
            ts = jax.block_until_ready(chunk(ts)[0])
        t_iter = (time.perf_counter() - start) / args.repeats
        frames_per_iter = args.batch * args.unroll_length
        t_vlm = frames_per_iter / result["render_tower_reward_fps"]
        result |= {
            "ppo_unroll_length": args.unroll_length,
            "ppo_gold_iteration_s": t_iter,
            "vlm_seconds_per_iteration": t_vlm,
            "vlm_share_of_training_time": t_vlm / (t_vlm + t_iter),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
