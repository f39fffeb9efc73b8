"""Demonstrations from the environments' scripted controllers, and their file format.

`jaxreward demos --env reach --n 8 --out reach.npz` runs the environment's scripted
controller (`env.scripted_action`, envs/manipulation/task.py), optionally with Gaussian
action noise for diverse demonstrations, and stores every episode with the frames the JAX
renderer draws (`env.render`) — the input of the perceptual rewards
(jaxreward/rewards/perceptual, after Sermanet, Xu & Levine, "Unsupervised Perceptual
Rewards for Imitation Learning", RSS 2017). Nothing is downloaded: the demonstrations are
the project's own.

File format (`.npz`, written by `numpy.savez_compressed`; version `FORMAT_VERSION`):

    format_version  int      FORMAT_VERSION
    env             str      registry name of the environment (e.g. "reach")
    env_options     str      JSON object of the environment options the demos were collected
                             with (`envs.make(env, **options)`; "{}" for the defaults). Optional:
                             files without it were collected with the defaults.
    camera          str      camera the frames were rendered from ("" = the env's default)
    height, width   int      render size in pixels
    noise_scale     float    std of the Gaussian noise added to the scripted actions
    seed            int      PRNG seed of the collection
    frames          uint8    [N, T+1, height, width, 3]  frame t shows the state after t steps
                                                          (frame 0: the reset state)
    obs             float32  [N, T+1, obs_dim]          the env's observation of the same states
    actions         float32  [N, T, action_dim]         action t leads from state t to t+1
    reward          float32  [N, T]                     the env's own (gold, hand-designed dense) reward
    success         bool     [N, T+1]                   the task's success predicate per state

Episodes run for a fixed T steps (the environment's episode length unless given) and do
not stop at success; `first_success` gives where each one first succeeded.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

import envs

FORMAT_VERSION = 1
_ARRAYS = {"frames": np.uint8, "obs": np.float32, "actions": np.float32, "reward": np.float32, "success": np.bool_}
_SCALARS = ("format_version", "env", "camera", "height", "width", "noise_scale", "seed")


class DemoFileError(ValueError):
    """A demonstrations file that is missing, malformed, or not the one asked for."""


@dataclass(frozen=True)
class Demos:
    """Demonstrations of one environment (see the module docstring for the arrays' shapes)."""

    env: str
    frames: np.ndarray  # [N, T+1, H, W, 3] uint8
    obs: np.ndarray  # [N, T+1, D]
    actions: np.ndarray  # [N, T, A]
    reward: np.ndarray  # [N, T]
    success: np.ndarray  # [N, T+1] bool
    camera: str = ""
    noise_scale: float = 0.0
    seed: int = 0
    #: ((name, value), ...) environment options of the collection (`envs.make(env, **options)`).
    env_options: tuple = ()

    @property
    def num_demos(self) -> int:
        return int(self.frames.shape[0])

    @property
    def length(self) -> int:
        """T: steps per demonstration."""
        return int(self.actions.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the frames."""
        return int(self.frames.shape[2]), int(self.frames.shape[3])

    def first_success(self) -> np.ndarray:
        """[N] int: index of the first successful state of each demo, -1 if it never succeeds."""
        hit = self.success.any(axis=1)
        return np.where(hit, np.argmax(self.success, axis=1), -1)

    def subset(self, index) -> "Demos":
        """The demos selected by `index` (an int array, slice or mask over N)."""
        pick = lambda a: a[index]
        return Demos(self.env, pick(self.frames), pick(self.obs), pick(self.actions), pick(self.reward),
                     pick(self.success), self.camera, self.noise_scale, self.seed, self.env_options)


def collect(env_name: str, n: int, seed: int = 0, noise_scale: float = 0.0, height: int = 32, width: int = 32,
            camera: str = "", episode_length: int | None = None, env_options: dict | None = None) -> Demos:
    """Runs the scripted controller of `env_name` for `n` episodes in one compiled program.

    Each episode resets with its own key and steps `episode_length` times (default: the
    env's episode length), rendering every state at `height` x `width` from `camera`
    ("" = the env's default view). `env_options` are passed to `envs.make` (e.g. a fixed
    goal for `reach`) and stored with the demos.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if height < 8 or width < 8:
        raise ValueError(f"render size must be at least 8x8 pixels, got {height}x{width}")
    if noise_scale < 0:
        raise ValueError(f"noise_scale must be >= 0, got {noise_scale}")
    options = tuple(sorted((env_options or {}).items()))
    env = envs.make(env_name, time_limit=False, **dict(options))
    if not hasattr(env, "scripted_action"):
        raise ValueError(f"environment {env_name!r} has no scripted controller (env.scripted_action); the "
                         f"manipulation tasks have one: reach, push, pick_place, drawer_open")
    length = int(episode_length or env.default_episode_length)
    if length < 1:
        raise ValueError(f"episode_length must be at least 1, got {length}")
    view = camera or None

    def frame(state):
        return env.render(state, camera=view, height=height, width=width)

    def episode(key):
        k_reset, k_steps = jax.random.split(key)
        start = env.reset(k_reset)

        def step(state, k):
            action = env.scripted_action(state, k, noise_scale)
            nxt = env.step(state, action)
            return nxt, (frame(nxt), nxt.obs, action, nxt.reward, nxt.metrics["success"] > 0)

        _, (frames, obs, actions, reward, success) = jax.lax.scan(step, start, jax.random.split(k_steps, length))
        first = lambda x0, xs: jnp.concatenate([x0[None], xs])
        return (first(frame(start), frames), first(start.obs, obs), actions, reward,
                first(start.metrics["success"] > 0, success))

    keys = jax.random.split(jax.random.PRNGKey(seed), n)
    out = jax.device_get(jax.jit(jax.vmap(episode))(keys))
    frames, obs, actions, reward, success = (np.asarray(a) for a in out)
    return Demos(env_name, frames, obs.astype(np.float32), actions.astype(np.float32), reward.astype(np.float32),
                 success.astype(bool), camera, float(noise_scale), int(seed), options)


def save(path: str, demos: Demos) -> None:
    """Writes `demos` to `path` in the format of the module docstring."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    height, width = demos.size
    with open(path, "wb") as f:  # a file object: numpy would otherwise append ".npz" to other names
        np.savez_compressed(
            f, format_version=np.int64(FORMAT_VERSION), env=np.str_(demos.env),
            env_options=np.str_(json.dumps(dict(demos.env_options))), camera=np.str_(demos.camera),
            height=np.int64(height), width=np.int64(width), noise_scale=np.float64(demos.noise_scale),
            seed=np.int64(demos.seed), frames=demos.frames, obs=demos.obs, actions=demos.actions,
            reward=demos.reward, success=demos.success,
        )


def load(path: str, env: str | None = None, size: tuple[int, int] | None = None) -> Demos:
    """Reads a demonstrations file, checking it against the format and, when given, the
    expected environment name and (height, width). Raises `DemoFileError` naming the file
    and what is wrong."""

    def fail(problem: str):
        raise DemoFileError(f"demonstrations file {path!r}: {problem}")

    if not os.path.isfile(path):
        fail("no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {k: data[k] for k in data.files}
    except Exception as e:  # zip, pickle and header errors all mean "not our format"
        fail(f"not a readable .npz file ({type(e).__name__}: {e})")
    missing = [k for k in _SCALARS + tuple(_ARRAYS) if k not in contents]
    if missing:
        fail(f"missing {', '.join(missing)} (written by `jaxreward demos`? expected keys: "
             f"{', '.join(_SCALARS + tuple(_ARRAYS))})")
    version = int(contents["format_version"])
    if version != FORMAT_VERSION:
        fail(f"format version {version}, this jaxreward reads version {FORMAT_VERSION}; collect the demos again")
    name, height, width = str(contents["env"]), int(contents["height"]), int(contents["width"])
    frames = contents["frames"]
    n = frames.shape[0] if frames.ndim else 0
    if frames.ndim != 5 or frames.shape[2:] != (height, width, 3) or n < 1:
        fail(f"frames have shape {frames.shape}, expected [N, T+1, {height}, {width}, 3] with N >= 1")
    steps = frames.shape[1] - 1
    expected = {"obs": (n, steps + 1), "actions": (n, steps), "reward": (n, steps), "success": (n, steps + 1)}
    for key, lead in expected.items():
        if contents[key].shape[:2] != lead or contents[key].ndim != (3 if key in ("obs", "actions") else 2):
            fail(f"{key} has shape {contents[key].shape}, which does not match {n} demos of {steps} steps "
                 f"(frames {frames.shape})")
    for key, dtype in _ARRAYS.items():
        if contents[key].dtype != dtype:
            fail(f"{key} has dtype {contents[key].dtype}, expected {np.dtype(dtype).name}")
    if env is not None and name != env:
        fail(f"holds demonstrations of {name!r}, not of {env!r}")
    if size is not None and (height, width) != tuple(size):
        fail(f"frames are {height}x{width}, expected {size[0]}x{size[1]}; collect them again with that size")
    try:
        options = json.loads(str(contents["env_options"])) if "env_options" in contents else {}
        if not isinstance(options, dict):
            raise ValueError("not a JSON object")
    except ValueError as e:
        fail(f"env_options {str(contents['env_options'])!r} is not a JSON object of environment options ({e})")
    # JSON gives lists; the environments take tuples (and configs must stay hashable).
    options = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))
    if name in envs.names():
        try:
            sizes = envs.make(name, time_limit=False, **dict(options))
        except ValueError as e:
            fail(f"its env_options do not build {name!r}: {e}")
        if contents["obs"].shape[2] != sizes.observation_size or contents["actions"].shape[2] != sizes.action_size:
            fail(f"obs/action sizes {contents['obs'].shape[2]}/{contents['actions'].shape[2]} do not match "
                 f"environment {name!r} ({sizes.observation_size}/{sizes.action_size})")
    return Demos(name, frames, contents["obs"], contents["actions"], contents["reward"], contents["success"],
                 str(contents["camera"]), float(contents["noise_scale"]), int(contents["seed"]), options)


# -- command line --------------------------------------------------------------------------


def add_parser(sub) -> None:
    """The `jaxreward demos` subcommand."""
    p = sub.add_parser("demos", help="collect scripted demonstrations (frames, obs, actions, success) to a .npz",
                       description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--env", required=True, help="environment with a scripted controller (reach, push, drawer_open, ...)")
    p.add_argument("--n", type=int, default=8, help="number of demonstrations")
    p.add_argument("--out", required=True, help="output file (.npz)")
    p.add_argument("--noise", type=float, default=0.0, help="std of Gaussian noise added to the scripted actions")
    p.add_argument("--size", type=int, default=32, help="height and width of the frames in pixels")
    p.add_argument("--camera", default="", help="camera name (default: the environment's default view)")
    p.add_argument("--episode-length", type=int, default=None, help="steps per demo (default: the env's episode length)")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed")
    p.add_argument("--env-option", action="append", default=[], metavar="KEY=VALUE",
                   help="environment option (repeatable), e.g. goal_yaw=0.8 or goal_radius=[0.3,0.3]")


def run_command(args) -> int:
    """Runs `jaxreward demos`; returns the exit status."""
    import sys

    try:
        options = dict(envs.parse_option(item) for item in args.env_option)
        demos = collect(args.env, args.n, seed=args.seed, noise_scale=args.noise, height=args.size, width=args.size,
                        camera=args.camera, episode_length=args.episode_length, env_options=options)
        save(args.out, demos)
    except ValueError as e:
        print(f"jaxreward: error: {e}", file=sys.stderr)
        return 2
    first = demos.first_success()
    solved = first >= 0
    median = f", median first success at step {int(np.median(first[solved]))}" if solved.any() else ""
    print(f"wrote {demos.num_demos} demos of {demos.env} ({demos.length} steps, {args.size}x{args.size} frames) to "
          f"{args.out}: {int(solved.sum())}/{demos.num_demos} succeed{median}")
    return 0
