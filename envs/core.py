"""The environment contract: a Brax-compatible `Env` and `State`.

Every environment in `envs/` subclasses `Env`. `State` *is* Brax's state class, so
our environments plug into Brax tools (its wrappers and trainers) and Brax or MuJoCo
Playground environments plug into ours through an adapter.

Conventions that the learners rely on:

- `reset(rng) -> State` and `step(state, action) -> State` are pure and jittable.
- `state.reward` is the *gold* task reward; its additive components appear as
  `state.metrics["reward/<term>"]`.
- `state.done` is 1.0 when the episode ended, for any reason. `state.info["truncation"]`
  is 1.0 when it ended because of the time limit only (learners bootstrap there).
- `state.metrics["success"]` exists where the task has a success predicate.
- Continuous actions live in [-1, 1]^action_size; each env rescales to its own
  actuator range. Discrete actions are integer scalars in [0, action_size).
"""

from __future__ import annotations

import abc
import functools
from typing import Any

import jax
from brax.envs.base import Env as _BraxEnv
from brax.envs.base import State

__all__ = ["Env", "State"]


class Env(_BraxEnv):
    """Base class of every environment.

    Subclasses implement `reset`, `step`, `observation_size` and `action_size`, and set
    the class attributes below.
    """

    #: "continuous" (float actions in [-1, 1]) or "discrete" (int actions).
    action_space: str = "continuous"
    #: Episode length the registry's time-limit wrapper uses by default.
    default_episode_length: int = 1000
    #: Short family name: "classic", "locomotion", "manipulation", "exploration".
    family: str = "classic"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _keep_foreign_metrics(cls.__dict__["step"])

    @property
    def backend(self) -> str:
        return "jax"

    @property
    def discrete(self) -> bool:
        return self.action_space == "discrete"

    @abc.abstractmethod
    def reset(self, rng: jax.Array) -> State: ...

    @abc.abstractmethod
    def step(self, state: State, action: jax.Array) -> State: ...

    def render_scene(self, state: State, camera: Any = None):
        """(Scene, Camera) showing `state`, for `render`; environments that can be drawn
        override this (see `envs/rendering`)."""
        raise NotImplementedError(f"{type(self).__name__} has no renderer (it does not implement render_scene)")

    def render(self, state: State, camera: Any = None, height: int = 64, width: int = 64, depth: bool = False):
        """Pixels of one state: uint8 [height, width, 3], or (rgb, depth float32 [height, width])
        with `depth=True`. Pure and jittable (`camera`, `height`, `width`, `depth` static);
        `jax.vmap` it over a batch of states. `camera`: None (the env's default view), a name
        or index the env knows, or an `envs.rendering.Camera`."""
        from envs.rendering.scene import render

        scene, view = self.render_scene(state, camera)
        rgb, depth_image = render(scene, view, height, width)
        return (rgb, depth_image) if depth else rgb

    def dummy_action(self) -> jax.Array:
        """An action of the right shape and dtype (used to trace `step`)."""
        import jax.numpy as jnp

        if self.discrete:
            return jnp.zeros((), jnp.int32)
        return jnp.zeros((self.action_size,), jnp.float32)


def _keep_foreign_metrics(step):
    """Carries metrics that wrappers added (e.g. Brax's `EpisodeWrapper` adds "reward")
    through an env's `step`, which builds its own metrics dict: Brax's wrappers scan over
    `step` and need the same metric keys in and out."""

    @functools.wraps(step)
    def wrapped(self, state: State, action: jax.Array) -> State:
        out = step(self, state, action)
        foreign = {k: v for k, v in state.metrics.items() if k not in out.metrics}
        return out.replace(metrics={**foreign, **out.metrics}) if foreign else out

    return wrapped


def info_defaults(**extra: Any) -> dict[str, Any]:
    """The `info` fields every fresh state carries (wrappers overwrite them)."""
    import jax.numpy as jnp

    info = {"truncation": jnp.zeros(()), "steps": jnp.zeros((), jnp.int32)}
    info.update(extra)
    return info
