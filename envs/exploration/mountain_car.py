"""Continuous mountain car: the car must rock back and forth to build the speed to reach the flag.

Dynamics, constants, reset, termination and reward of Gymnasium's `MountainCarContinuous-v0`
(itself Moore, "Efficient Memory-based Learning for Robot Control", PhD thesis, 1990):
v ← clip(v + 0.0015 a − 0.0025 cos 3x, ±0.07), x ← clip(x + v, [−1.2, 0.6]), and the
velocity is zeroed when the car stops against the left wall while moving left.

Observation [x, v]. Action [1] in [-1, 1], the force (Gymnasium's range, so no rescaling).
Reward as Gymnasium: 100 when the step reaches the flag ("reward/goal") minus 0.1 a²
("reward/control"); with `sparse=True`, 1.0 at the flag and no control cost (only
"reward/goal"). One deliberate deviation: the control cost uses the clipped action
(Gymnasium squares the raw one). Success and termination: x ≥ 0.45 (with v ≥ 0, always true
there). Reset: x uniform in [−0.6, −0.4], v = 0. Episodes are truncated at 999 steps
(Gymnasium's limit). `metrics["cell"]` is the index (float32) of the car's cell on a 20×20
grid over position × velocity, for counting the distinct cells visited.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.core import Env, State, info_defaults
from envs.rendering import drawings

MIN_POSITION = -1.2
MAX_POSITION = 0.6
MAX_SPEED = 0.07
GOAL_POSITION = 0.45
GOAL_VELOCITY = 0.0
POWER = 0.0015
GRAVITY = 0.0025
GOAL_REWARD = 100.0
CONTROL_COST = 0.1
#: bins per dimension of the position × velocity grid behind `metrics["cell"]`
CELL_BINS = 20


class MountainCar(Env):
    """Drive an under-powered car up a hill (Gymnasium MountainCarContinuous-v0).

    Args:
      sparse: reward 1.0 at the flag and 0 elsewhere (no control cost), instead of
        Gymnasium's 100 at the flag minus 0.1 a².
    """

    action_space = "continuous"
    default_episode_length = 999
    family = "exploration"

    def __init__(self, sparse: bool = False):
        self.sparse = bool(sparse)
        self._terms = ("reward/goal",) if self.sparse else ("reward/goal", "reward/control")

    @property
    def observation_size(self) -> int:
        return 2

    @property
    def action_size(self) -> int:
        return 1

    def render_scene(self, state: State, camera=None):
        """Side view of the hill z = 0.45 sin 3x + 0.55, the car and the flag."""
        scene = drawings.mountain_car(state.pipeline_state[0], (MIN_POSITION, MAX_POSITION), GOAL_POSITION, 0.45, 3.0, 0.55)
        return scene, drawings.choose_camera(camera, drawings.side_camera(-0.3, 0.55, 1.0))

    num_cells = CELL_BINS * CELL_BINS
    #: Which (position, velocity) cells the car can reach has no closed form; all count.
    reachable_cells = num_cells

    @staticmethod
    def cell(q: jax.Array) -> jax.Array:
        """q: [x, v] -> float32 scalar index of its position × velocity cell."""
        low = jnp.array([MIN_POSITION, -MAX_SPEED])
        high = jnp.array([MAX_POSITION, MAX_SPEED])
        bins = jnp.clip(jnp.floor((q - low) / (high - low) * CELL_BINS), 0, CELL_BINS - 1)
        return (bins[0] * CELL_BINS + bins[1]).astype(jnp.float32)

    def reset(self, rng: jax.Array) -> State:
        x = jax.random.uniform(rng, (), minval=-0.6, maxval=-0.4)
        q = jnp.stack([x, jnp.zeros(())])
        zero = jnp.zeros(())
        metrics = {**{k: zero for k in self._terms}, "success": zero, "cell": self.cell(q)}
        return State(q, q, zero, zero, metrics, info_defaults())

    def step(self, state: State, action: jax.Array) -> State:
        """action: [1] force in [-1, 1]."""
        x, v = state.pipeline_state[0], state.pipeline_state[1]
        force = jnp.clip(action[0], -1.0, 1.0)
        v = jnp.clip(v + force * POWER - GRAVITY * jnp.cos(3 * x), -MAX_SPEED, MAX_SPEED)
        x = jnp.clip(x + v, MIN_POSITION, MAX_POSITION)
        v = jnp.where((x <= MIN_POSITION) & (v < 0), 0.0, v)
        q = jnp.stack([x, v])
        at_flag = (x >= GOAL_POSITION) & (v >= GOAL_VELOCITY)
        if self.sparse:
            terms = {"reward/goal": jnp.where(at_flag, 1.0, 0.0)}
        else:
            terms = {"reward/goal": jnp.where(at_flag, GOAL_REWARD, 0.0), "reward/control": -CONTROL_COST * force**2}
        reward = sum(terms.values())
        success = at_flag.astype(jnp.float32)
        metrics = {**terms, "success": success, "cell": self.cell(q)}
        return state.replace(pipeline_state=q, obs=q, reward=reward, done=success, metrics=metrics)
