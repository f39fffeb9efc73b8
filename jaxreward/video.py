"""Rollout videos: `jaxreward render --env NAME --policy random|checkpoint --out video.gif`.

One compiled program steps the environment and renders every state with the JAX renderer
(`env.render`, envs/rendering), `lax.scan` over the episode; the host only encodes the
frames. The checkpoint policy is the trained run's deterministic policy (`--run DIR`, the
directory `jaxreward train` wrote; its first seed), with the run's observation normaliser.
The video stops at the end of the first episode (or after `--steps`).

GIFs are written with Pillow. MP4 needs an ffmpeg encoder, through `imageio` with
`imageio-ffmpeg`; without one the command says so and suggests a GIF.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

import envs

Policy = Callable[[jax.Array, jax.Array], jax.Array]  # (obs [D], key) -> action


def random_policy(env: envs.Env) -> Policy:
    """Uniform actions: integers in [0, action_size) or floats in [-1, 1]^action_size."""

    def act(obs, key):
        if env.discrete:
            return jax.random.randint(key, (), 0, env.action_size)
        return jax.random.uniform(key, (env.action_size,), minval=-1.0, maxval=1.0)

    return act


def checkpoint_policy(run_dir: str) -> tuple[str, envs.Env, Policy]:
    """(env name, env, deterministic policy) of the run in `run_dir` (latest checkpoint, seed 0)."""
    from jaxreward import checkpoint, results
    from jaxreward.training.config import TrainConfig
    from jaxreward.training.trainer import Trainer

    config_path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(config_path):
        raise ValueError(f"{run_dir!r} is not a run directory (no config.json); pass the --out of `jaxreward train`")
    cfg = TrainConfig.from_dict(results.read_config(run_dir))
    trainer = Trainer(cfg)
    ckpt_dir = os.path.join(run_dir, "checkpoints")
    if not checkpoint.steps(ckpt_dir):
        raise ValueError(f"no checkpoint in {ckpt_dir!r}")
    template = trainer.init_seeds(trainer.seed_keys())
    state = jax.tree.map(lambda x: x[0], checkpoint.restore(ckpt_dir, template))
    act_batch = trainer.evaluate_policy_fn()
    env = envs.make(cfg.env, episode_length=cfg.episode_length, **dict(cfg.env_options))

    def act(obs, key):
        return act_batch(state, obs[None])[0]

    return cfg.env, env, act


def rollout_frames(env: envs.Env, policy: Policy, steps: int, height: int, width: int, seed: int = 0,
                   camera=None) -> np.ndarray:  # fmt: skip
    """uint8 [T, height, width, 3]: the reset state and up to `steps` steps, cut after the
    first episode's end."""

    def run(key):
        reset_key, key = jax.random.split(key)
        state = env.reset(reset_key)

        def step(carry, _):
            state, key = carry
            key, act_key = jax.random.split(key)
            state = env.step(state, policy(state.obs, act_key))
            return (state, key), (env.render(state, camera, height, width), state.done)

        _, (frames, done) = jax.lax.scan(step, (state, key), None, length=steps)
        first = env.render(state, camera, height, width)
        return jnp.concatenate([first[None], frames]), done

    frames, done = jax.jit(run)(jax.random.PRNGKey(seed))
    done = np.asarray(done) > 0
    length = 1 + (int(np.argmax(done)) + 1 if done.any() else steps)
    return np.asarray(frames[:length])


def check_format(path: str) -> None:
    """Raises ValueError unless `path` is a .gif, or an .mp4 with an encoder installed."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".gif", ".mp4"):
        raise ValueError(f"unknown video format {ext!r} in {path!r}: use .gif or .mp4")
    if ext == ".mp4" and (importlib.util.find_spec("imageio") is None or importlib.util.find_spec("imageio_ffmpeg") is None):
        raise ValueError("writing .mp4 needs an ffmpeg encoder (pip install imageio imageio-ffmpeg); "
                         "use --out video.gif instead")  # fmt: skip


def read_gif(path: str, fps: int = 30) -> np.ndarray:
    """The frames [T, H, W, 3] uint8 of a GIF written by `write_video` at `fps`, with each
    stored frame repeated for as many frame times as it is shown (Pillow merged identical
    consecutive frames when writing)."""
    from PIL import Image, ImageSequence

    unit = 1000.0 / fps
    frames = []
    for frame in ImageSequence.Iterator(Image.open(path)):
        repeats = max(1, round(frame.info.get("duration", unit) / unit))
        frames += [np.asarray(frame.convert("RGB"))] * repeats
    return np.stack(frames)


def write_video(frames: np.ndarray, path: str, fps: int = 30) -> None:
    """Writes frames [T, H, W, 3] uint8 to `path`, .gif (Pillow) or .mp4 (imageio-ffmpeg).

    In a GIF, Pillow merges consecutive identical frames into one frame shown for their
    summed time: the file may hold fewer than T frames, and it plays for T frames' time
    (`read_gif` gives the T frames back)."""
    check_format(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if os.path.splitext(path)[1].lower() == ".gif":
        from PIL import Image

        images = [Image.fromarray(f) for f in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=max(1, round(1000 / fps)), loop=0)
    else:
        import imageio

        imageio.mimwrite(path, list(frames), fps=fps)


def add_parser(sub) -> None:
    """The `render` subcommand's options (jaxreward/cli.py)."""
    r = sub.add_parser("render", help="render a rollout to a video (random or trained policy)",
                       description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    r.add_argument("--env", default=None, help="environment name (default with --policy checkpoint: the run's)")
    r.add_argument("--policy", default="random", choices=["random", "checkpoint"])
    r.add_argument("--run", default=None, help="run directory of `jaxreward train` (for --policy checkpoint)")
    r.add_argument("--out", default="video.gif", help="output file, .gif or .mp4")
    r.add_argument("--steps", type=int, default=200, help="most env steps to record")
    r.add_argument("--height", type=int, default=128)
    r.add_argument("--width", type=int, default=128)
    r.add_argument("--camera", default=None, help="camera name or index (default: the env's)")
    r.add_argument("--fps", type=int, default=30)
    r.add_argument("--seed", type=int, default=0)


def run_command(args) -> int:
    """Runs `jaxreward render`; returns the exit code."""
    import sys

    try:
        check_format(args.out)
        if args.policy == "checkpoint":
            if not args.run:
                raise ValueError("--policy checkpoint needs --run DIR (a `jaxreward train` run directory)")
            name, env, policy = checkpoint_policy(args.run)
            if args.env and args.env != name:
                raise ValueError(f"--env {args.env} differs from the run's environment {name}")
        else:
            if not args.env:
                raise ValueError("--env is required with --policy random")
            env = envs.make(args.env)
            policy = random_policy(env)
        camera = int(args.camera) if args.camera is not None and args.camera.lstrip("-").isdigit() else args.camera
        frames = rollout_frames(env, policy, args.steps, args.height, args.width, args.seed, camera)
        write_video(frames, args.out, args.fps)
    except (ValueError, NotImplementedError) as e:
        print(f"jaxreward: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(frames)} frames to {args.out}")
    return 0
