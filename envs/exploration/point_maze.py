"""A point mass in a U-maze: the goal is behind a wall, so greedy progress leads to a dead end.

A pure-JAX, simplified take on the point-mass mazes of D4RL / Gymnasium-Robotics
`PointMaze_UMaze` (Fu et al., "D4RL: Datasets for Deep Data-Driven Reinforcement Learning",
2020): no MuJoCo, axis-aligned walls, a fixed layout. The deliberate simplifications are
the velocity-command dynamics and the blocking collisions described below.

Layout (arena [-1, 1]²)::

    +-------------------+
    | G                 |     G: goal (-0.6, 0.6)
    |==============     |     wall: x in [-1, 0.4], y in [-0.15, 0.15]
    | S                 |     S: start (-0.6, -0.6) ± 0.05
    +-------------------+

The straight line from S to G runs into the wall; the way round is through the corridor
x > 0.4 (shortest path ≈ 3.8, ≈ 40 steps at full speed).

Dynamics (dt = 0.1): v ← 0.8 v + 0.2 a, so a constant action a ∈ [-1, 1]² settles at
speed a per unit time; p ← p + v dt. Collisions are resolved one axis at a time: a move
along an axis that would end inside a wall or outside the arena is cancelled and the
velocity on that axis is zeroed (the point slides along walls).

Observation [pos (2), vel (2), goal (2)]. Reward: dense −‖pos − goal‖ ("reward/distance"),
or with `sparse=True` 1.0 inside the goal radius 0.1 ("reward/goal"). Success: inside the
goal radius. Reaching the goal terminates the episode only with `terminate_at_goal=True`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envs.core import Env, State, info_defaults

DT = 0.1
DAMPING = 0.8
ACCEL = (1.0 - DAMPING) / DT  # makes the steady speed under a constant action equal the action
ARENA = 1.0  # the arena is [-ARENA, ARENA]²
#: Wall rectangles, one per row: [x_min, y_min, x_max, y_max]. Static, so the collision
#: test is one vectorised comparison over rows. Walls are thicker than the largest step
#: (|v| dt ≤ 0.1), so a move can never tunnel through one.
WALLS = np.array([[-1.0, -0.15, 0.4, 0.15]], np.float32)
START = np.array([-0.6, -0.6], np.float32)
START_NOISE = 0.05
GOAL = np.array([-0.6, 0.6], np.float32)
GOAL_RADIUS = 0.1


def _blocked(pos: jax.Array) -> jax.Array:
    """pos: [2] -> bool scalar: inside a wall or outside the arena."""
    walls = jnp.asarray(WALLS)
    inside = (pos[0] > walls[:, 0]) & (pos[1] > walls[:, 1]) & (pos[0] < walls[:, 2]) & (pos[1] < walls[:, 3])
    return jnp.any(inside) | jnp.any(jnp.abs(pos) > ARENA)


def _move_axis(pos: jax.Array, vel: jax.Array, axis: int) -> tuple[jax.Array, jax.Array]:
    """Moves along one axis unless that ends blocked; then stays and stops on that axis."""
    target = pos.at[axis].add(vel[axis] * DT)
    blocked = _blocked(target)
    return jnp.where(blocked, pos, target), jnp.where(blocked, vel.at[axis].set(0.0), vel)


class PointMaze(Env):
    """Point mass in a U-maze (see the module docstring for layout, dynamics and rewards).

    Args:
      sparse: reward 1.0 inside the goal radius and 0 elsewhere, instead of −distance.
      terminate_at_goal: end the episode (done, not truncated) when the goal is reached.
    """

    action_space = "continuous"
    default_episode_length = 200
    family = "exploration"

    def __init__(self, sparse: bool = False, terminate_at_goal: bool = False):
        self.sparse = bool(sparse)
        self.terminate_at_goal = bool(terminate_at_goal)
        self._reward_key = "reward/goal" if self.sparse else "reward/distance"

    @property
    def observation_size(self) -> int:
        return 6

    @property
    def action_size(self) -> int:
        return 2

    def _obs(self, q: jax.Array) -> jax.Array:
        return jnp.concatenate([q, jnp.asarray(GOAL)])

    def reset(self, rng: jax.Array) -> State:
        pos = jnp.asarray(START) + jax.random.uniform(rng, (2,), minval=-START_NOISE, maxval=START_NOISE)
        q = jnp.concatenate([pos, jnp.zeros(2)])  # pipeline_state: [pos (2), vel (2)]
        zero = jnp.zeros(())
        metrics = {self._reward_key: zero, "success": zero}
        return State(q, self._obs(q), zero, zero, metrics, info_defaults())

    def step(self, state: State, action: jax.Array) -> State:
        """action: [2] in [-1, 1], the commanded velocity."""
        pos, vel = state.pipeline_state[:2], state.pipeline_state[2:]
        vel = DAMPING * vel + ACCEL * DT * jnp.clip(action, -1.0, 1.0)
        pos, vel = _move_axis(pos, vel, 0)
        pos, vel = _move_axis(pos, vel, 1)
        q = jnp.concatenate([pos, vel])

        distance = jnp.linalg.norm(pos - jnp.asarray(GOAL))
        at_goal = distance < GOAL_RADIUS
        reward = jnp.where(at_goal, 1.0, 0.0) if self.sparse else -distance
        done = at_goal if self.terminate_at_goal else jnp.zeros((), bool)
        metrics = {self._reward_key: reward, "success": at_goal.astype(jnp.float32)}
        return state.replace(
            pipeline_state=q, obs=self._obs(q), reward=reward, done=done.astype(jnp.float32), metrics=metrics
        )
