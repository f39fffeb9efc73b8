"""MuJoCo Playground's DeepMind Control suite tasks as `dmc/<task>` environments of our registry.

Playground (Zakka et al., "MuJoCo Playground", 2025) reimplements the DM Control suite
(Tassa et al., 2018) on MJX. Its package is an optional extra: `pip install
'jaxreward[playground]'`; the `dmc/*` names are registered only when it is installed, and it
is imported only when one of them is made (the import takes seconds).

How a Playground task maps onto our contract:

- Physics: `impl="jax"` (MJX's JAX backend). Playground defaults to Warp, which is slower
  on CPU (docs/performance.md, "Physics settings") and needs a GPU to pay off; `impl` is a
  make-option.
- `pipeline_state` is Playground's whole `State` (its `data`, `info` and `metrics` ride
  along); `obs`, `reward` and `done` are copied out of it as float32.
- Actions in [-1, 1] are rescaled to the actuators' control ranges (all of the suite's
  are already [-1, 1], so in practice the action passes through unchanged).
- Reward: DM Control's rewards are products of smooth terms, not sums, so the gold reward is
  one component, "reward/task". Playground's own metrics are kept as "playground/<name>"
  (not reward terms: they do not sum to the reward).
- Success: reward ≥ `success_threshold` (0.9 by default). DM Control rewards lie in [0, 1],
  1 meaning every tolerance of the task is met, so success reads "within 10% of the task's
  full reward on this step"; for the sparse tasks it is the reward itself.
- Episodes: Playground's `episode_length` (1000 control steps for the suite) becomes the
  default time limit, enforced by our `TimeLimit` (Playground's own `done` only flags
  non-finite physics).
- Rendering: `render` is our jittable JAX renderer on the task's MJX model
  (`envs/rendering`); Playground's own `render` (MuJoCo's renderer, outside jit) stays
  reachable through `playground_env`.

Only the DM Control suite is adapted: Playground's locomotion and manipulation tasks fetch
MuJoCo Menagerie with git at load time, which this project never does.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from envs.core import Env, State, info_defaults
from envs.rendering.mjx_scene import MjxRendering

INSTALL_HINT = "MuJoCo Playground is not installed: pip install 'jaxreward[playground]'"

#: Our name -> Playground's DM Control suite name (all 25 of its tasks load offline).
TASKS = {
    "dmc/acrobot_swingup": "AcrobotSwingup",
    "dmc/acrobot_swingup_sparse": "AcrobotSwingupSparse",
    "dmc/ball_in_cup_catch": "BallInCup",
    "dmc/cartpole_balance": "CartpoleBalance",
    "dmc/cartpole_balance_sparse": "CartpoleBalanceSparse",
    "dmc/cartpole_swingup": "CartpoleSwingup",
    "dmc/cartpole_swingup_sparse": "CartpoleSwingupSparse",
    "dmc/cheetah_run": "CheetahRun",
    "dmc/finger_spin": "FingerSpin",
    "dmc/finger_turn_easy": "FingerTurnEasy",
    "dmc/finger_turn_hard": "FingerTurnHard",
    "dmc/fish_swim": "FishSwim",
    "dmc/hopper_hop": "HopperHop",
    "dmc/hopper_stand": "HopperStand",
    "dmc/humanoid_run": "HumanoidRun",
    "dmc/humanoid_stand": "HumanoidStand",
    "dmc/humanoid_walk": "HumanoidWalk",
    "dmc/pendulum_swingup": "PendulumSwingup",
    "dmc/point_mass_easy": "PointMass",
    "dmc/reacher_easy": "ReacherEasy",
    "dmc/reacher_hard": "ReacherHard",
    "dmc/swimmer_swimmer6": "SwimmerSwimmer6",
    "dmc/walker_run": "WalkerRun",
    "dmc/walker_stand": "WalkerStand",
    "dmc/walker_walk": "WalkerWalk",
}


def available() -> bool:
    """Whether the `playground` extra is installed (checked without importing it)."""
    return importlib.util.find_spec("mujoco_playground") is not None


def load(task: str, impl: str = "jax"):
    """Playground's DM Control `task` (its own env object), with MJX implementation `impl`."""
    try:
        from mujoco_playground import dm_control_suite
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    return dm_control_suite.load(task, config_overrides={"impl": impl})


class PlaygroundEnv(MjxRendering, Env):
    """One Playground DM Control task behind our `Env` contract (see the module docstring).

    Args:
      task: Playground's task name, e.g. "CheetahRun".
      impl: MJX implementation, "jax" (default) or "warp".
      success_threshold: the reward at or above which a step counts as a success.

    Attributes:
      playground_env: Playground's env object (its `mj_model`, `render`, config...).
    """

    action_space = "continuous"
    family = "adapter"

    def __init__(self, task: str, impl: str = "jax", success_threshold: float = 0.9):
        self.task = task
        self.playground_env = load(task, impl)
        config = self.playground_env._config
        self.default_episode_length = int(config.episode_length) // int(config.get("action_repeat", 1))
        self.success_threshold = float(success_threshold)
        size = self.playground_env.observation_size
        if not isinstance(size, int):
            raise ValueError(f"Playground task {task} has structured observations {size}; only flat ones are adapted")
        self._observation_size = size
        model = self.playground_env.mj_model
        ranges = np.where(model.actuator_ctrllimited[:, None] > 0, model.actuator_ctrlrange, [-1.0, 1.0])
        # Rescale only when some range differs: the identity keeps rewards bit-equal to Playground's.
        self._ctrl_range = None if np.allclose(ranges, [-1.0, 1.0]) else ranges.astype(np.float32)

    @property
    def backend(self) -> str:
        return "mjx"

    @property
    def mj_model(self):
        return self.playground_env.mj_model

    @property
    def mjx_model(self):
        return self.playground_env.mjx_model

    def render_data(self, pipeline_state):
        return pipeline_state.data

    @property
    def observation_size(self) -> int:
        return self._observation_size

    @property
    def action_size(self) -> int:
        return self.playground_env.action_size

    def _wrap(self, pg_state: Any, state: State | None) -> State:
        reward = jnp.asarray(pg_state.reward, jnp.float32)
        metrics = {
            "reward/task": reward,
            "success": (reward >= self.success_threshold).astype(jnp.float32),
            **{f"playground/{k}": jnp.asarray(v, jnp.float32) for k, v in pg_state.metrics.items()},
        }
        obs = jnp.asarray(pg_state.obs, jnp.float32)
        done = jnp.asarray(pg_state.done, jnp.float32)
        if state is None:
            return State(pg_state, obs, reward, done, metrics, info_defaults())
        return state.replace(pipeline_state=pg_state, obs=obs, reward=reward, done=done, metrics=metrics)

    def reset(self, rng: jax.Array) -> State:
        state = self._wrap(self.playground_env.reset(rng), None)
        zero = jnp.zeros(())
        return state.replace(reward=zero, done=zero, metrics={**state.metrics, "reward/task": zero, "success": zero})

    def step(self, state: State, action: jax.Array) -> State:
        """action: [action_size] in [-1, 1]."""
        action = jnp.clip(action, -1.0, 1.0)
        if self._ctrl_range is not None:
            low, high = self._ctrl_range[:, 0], self._ctrl_range[:, 1]
            action = low + (action + 1.0) * 0.5 * (high - low)
        return self._wrap(self.playground_env.step(state.pipeline_state, action), state)


def factory(task: str) -> Callable[..., PlaygroundEnv]:
    """A registry factory for one task: its keyword options are PlaygroundEnv's, less `task`."""

    def make(impl: str = "jax", success_threshold: float = 0.9) -> PlaygroundEnv:
        return PlaygroundEnv(task, impl=impl, success_threshold=success_threshold)

    make.family = PlaygroundEnv.family
    make.__doc__ = f"Playground DM Control {task} (see envs.adapters.playground)."
    return make
