"""gymnax's classic control, bsuite and MinAtar tasks as `gymnax/<task>` environments.

gymnax (Lange, "gymnax: A JAX-based Reinforcement Learning Environment Library", 2022) is an
optional extra: `pip install 'jaxreward[gymnax]'`; the `gymnax/*` names are registered only
when it is installed, and it is imported only when one of them is made.

How a gymnax task maps onto our contract:

- `pipeline_state` is {"env_state": gymnax's state, "key": the key its next step uses};
  gymnax steps are stochastic for some tasks and take a key, ours do not.
- We call gymnax's `reset_env`/`step_env`, not `reset`/`step`: those auto-reset inside the
  step and fold the time limit into `done`, where our wrappers do both (fresh resets,
  truncation flag). gymnax's `max_steps_in_episode` becomes the default time limit.
- Observations are flattened to float32 vectors (MinAtar's 10×10×C grids become 100·C).
- Discrete tasks take an int32 action in [0, n); continuous ones take [-1, 1] rescaled to
  gymnax's box (Pendulum's torque is ±2).
- Reward: the task's reward as the one component "reward/task".
- Success: a per-task predicate, listed in `TASKS` (e.g. reaching the flag, catching the
  ball, a point scored on this step).
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from envs.core import Env, State, info_defaults
from envs.rendering import drawings

INSTALL_HINT = "gymnax is not installed: pip install 'jaxreward[gymnax]'"


def _terminated(obs, reward, terminated):
    return terminated


def _not_terminated(obs, reward, terminated):
    return ~terminated


def _scored(obs, reward, terminated):
    return reward > 0


def _treasure(obs, reward, terminated):
    return reward > 0.5  # the +1 at the end of deep sea's always-right path (less move costs)


def _pendulum_upright(obs, reward, terminated):
    return obs[0] > jnp.cos(0.1)  # obs = [cos θ, sin θ, θ̇]; |θ| < 0.1 rad as our pendulum


@dataclass(frozen=True)
class Task:
    """gymnax's id, the success predicate (obs, reward, terminated) -> bool, and whether its
    initial states are drawn from a continuous distribution (the contract tests need it)."""

    gymnax_id: str
    success: Callable
    success_doc: str
    random_reset: bool = True


TASKS = {
    "gymnax/cartpole": Task("CartPole-v1", _not_terminated, "the pole is still up"),
    "gymnax/acrobot": Task("Acrobot-v1", _terminated, "the tip swung above the bar (termination)"),
    "gymnax/mountain_car": Task("MountainCar-v0", _terminated, "the car reached the flag"),
    "gymnax/mountain_car_continuous": Task("MountainCarContinuous-v0", _terminated, "the car reached the flag"),
    "gymnax/pendulum": Task("Pendulum-v1", _pendulum_upright, "upright within 0.1 rad"),
    "gymnax/catch": Task("Catch-bsuite", _scored, "the ball was caught", random_reset=False),
    "gymnax/deep_sea": Task("DeepSea-bsuite", _treasure, "the treasure was collected", random_reset=False),
    "gymnax/breakout": Task("Breakout-MinAtar", _scored, "a brick was hit on this step", random_reset=False),
    "gymnax/asterix": Task("Asterix-MinAtar", _scored, "treasure was picked up on this step", random_reset=False),
    "gymnax/space_invaders": Task("SpaceInvaders-MinAtar", _scored, "an alien was hit on this step",
                                  random_reset=False),
}


def available() -> bool:
    """Whether the `gymnax` extra is installed (checked without importing it)."""
    return importlib.util.find_spec("gymnax") is not None


class GymnaxEnv(Env):
    """One gymnax task behind our `Env` contract (see the module docstring).

    Args:
      gymnax_id: gymnax's environment id, e.g. "CartPole-v1".
      success: (obs, reward, terminated) -> bool scalar, the task's success predicate.

    Attributes:
      gymnax_env, params: gymnax's environment object and its (default) parameters.
    """

    family = "adapter"

    def __init__(self, gymnax_id: str, success: Callable = _scored):
        try:
            import gymnax
            from gymnax.environments import spaces
        except ImportError as err:
            raise ImportError(INSTALL_HINT) from err
        self.gymnax_id = gymnax_id
        self.gymnax_env, self.params = gymnax.make(gymnax_id)
        self._success = success
        self.default_episode_length = int(self.params.max_steps_in_episode)
        space = self.gymnax_env.action_space(self.params)
        if isinstance(space, spaces.Discrete):
            self.action_space = "discrete"
            self._action_size = int(space.n)
            self._box = None
        elif isinstance(space, spaces.Box):
            self.action_space = "continuous"
            self._action_size = int(space.shape[0]) if space.shape else 1
            self._box = (jnp.asarray(space.low, jnp.float32), jnp.asarray(space.high, jnp.float32), space.shape)
        else:
            raise ValueError(f"gymnax task {gymnax_id} has an unsupported action space {type(space).__name__}")
        obs_shape = self.gymnax_env.observation_space(self.params).shape
        self._observation_size = math.prod(obs_shape)
        self._obs_shape = tuple(obs_shape)

    @property
    def observation_size(self) -> int:
        return self._observation_size

    @property
    def action_size(self) -> int:
        return self._action_size

    def render_scene(self, state: State, camera=None):
        """The classic-control tasks drawn like our own (envs/rendering/drawings.py); the grid
        tasks (bsuite, MinAtar) as their observation grid, one coloured box per occupied cell."""
        s = state.pipeline_state["env_state"]
        name = self.gymnax_id
        if name == "CartPole-v1":
            scene, view = drawings.cartpole(s.x, s.theta, 2.4, 1.0), drawings.side_camera(0.0, 0.4, 2.8)
        elif name == "Pendulum-v1":
            scene, view = drawings.pendulum(s.theta), drawings.side_camera(0.0, 0.0, 1.4)
        elif name.startswith("MountainCar"):
            goal = float(self.params.goal_position)
            scene, view = drawings.mountain_car(s.position, (-1.2, 0.6), goal, 0.45, 3.0, 0.55), drawings.side_camera(-0.3, 0.55, 1.0)
        elif name == "Acrobot-v1":
            scene, view = drawings.acrobot(s.joint_angle1, s.joint_angle2), drawings.side_camera(0.0, 0.0, 2.3)
        else:
            grid = jnp.reshape(state.obs, self._obs_shape)
            if grid.ndim == 3:  # MinAtar: one channel per object kind; colour by the first present
                values = jnp.where(jnp.any(grid > 0, axis=-1), jnp.argmax(grid > 0, axis=-1) + 1, 0)
            else:
                values = (grid > 0).astype(jnp.int32)
            colours = 1 + (grid.shape[-1] if grid.ndim == 3 else 1)
            palette = np.concatenate([[drawings.WHITE], drawings.PALETTE[: colours - 1]])
            scene, view = drawings.cell_grid(values, palette), drawings.grid_camera(*values.shape)
        return scene, drawings.choose_camera(camera, view)

    def _gymnax_action(self, action: jax.Array) -> jax.Array:
        if self._box is None:
            return jnp.reshape(action, ()).astype(jnp.int32)
        low, high, shape = self._box
        action = low + (jnp.clip(action, -1.0, 1.0) + 1.0) * 0.5 * (high - low)
        return jnp.reshape(action, shape)

    def reset(self, rng: jax.Array) -> State:
        reset_key, step_key = jax.random.split(rng)
        obs, env_state = self.gymnax_env.reset_env(reset_key, self.params)
        zero = jnp.zeros(())
        obs = jnp.ravel(obs).astype(jnp.float32)
        metrics = {"reward/task": zero, "success": zero}
        return State({"env_state": env_state, "key": step_key}, obs, zero, zero, metrics, info_defaults())

    def step(self, state: State, action: jax.Array) -> State:
        """action: int32 scalar (discrete tasks) or [action_size] in [-1, 1] (continuous)."""
        key, step_key = jax.random.split(state.pipeline_state["key"])
        obs, env_state, reward, terminated, _ = self.gymnax_env.step_env(
            step_key, state.pipeline_state["env_state"], self._gymnax_action(action), self.params
        )
        obs = jnp.ravel(obs).astype(jnp.float32)
        reward = jnp.asarray(reward, jnp.float32).reshape(())
        terminated = jnp.asarray(terminated, bool).reshape(())
        success = jnp.asarray(self._success(obs, reward, terminated)).astype(jnp.float32)
        return state.replace(
            pipeline_state={"env_state": env_state, "key": key},
            obs=obs,
            reward=reward,
            done=terminated.astype(jnp.float32),
            metrics={"reward/task": reward, "success": success},
        )


def factory(name: str) -> Callable[[], GymnaxEnv]:
    """A registry factory for one entry of `TASKS` (no options)."""
    task = TASKS[name]

    def make() -> GymnaxEnv:
        return GymnaxEnv(task.gymnax_id, task.success)

    make.family = GymnaxEnv.family
    make.random_reset = task.random_reset
    make.__doc__ = f"gymnax {task.gymnax_id}; success: {task.success_doc}."
    return make
