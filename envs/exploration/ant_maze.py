"""Ant maze: the MJX ant must walk round a U-shaped wall to a goal it gets no hint of.

After D4RL's `antmaze-umaze` and Gymnasium-Robotics' `AntMaze_UMaze` (Fu et al., "D4RL:
Datasets for Deep Data-Driven Reinforcement Learning", 2020): the quadruped of
`envs/locomotion` (Brax's `ant.xml`, Gymnasium Ant-v5 dynamics) in a maze of 4 m cells::

    #####
    #S..#        S: start (the origin), G: goal, 8 m below S behind the inner wall
    ###.#        the way round is ≈ 16 m (three corridors of 4 m cells)
    #G..#
    #####

The maze grid is turned into wall boxes by the point maze's `grid_layout` (one layout code
for both mazes), scaled to 4 m cells and added to the MJCF as fixed boxes (1 m tall). The
ant's feet and torso collide with the walls; as in Brax's model only the feet touch the
floor.

- Observation [29]: qpos (x, y included: the task is about position) and qvel, no contact
  forces — D4RL's ant-maze observation.
- Action [8] in [-1, 1], the ant's hip and ankle torques.
- Reward: sparse (default) 1.0 while the torso's x–y lies within `goal_radius` (0.5 m,
  D4RL's threshold) of the goal ("reward/goal"); with `sparse=False`, −distance to the goal
  ("reward/distance", a greedy trap like the point maze's).
- Success: inside the goal radius. No termination (D4RL's ant maze does not end episodes on
  falling); 700 steps of 0.05 s (D4RL's umaze horizon).
- `metrics["cell"]`: index (float32) of the maze cell holding the torso, for coverage.

Deviations from D4RL: MJX physics with the locomotion family's solver settings, Brax's ant
model (contacts through the feet only, plus the torso against walls), walls as fixed boxes
rather than D4RL's geoms of one model file, and no goal noise.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from envs.core import State
from envs.exploration.point_maze import grid_layout
from envs.locomotion.spatial import Ant

U_GRID = ("#####", "#S..#", "###.#", "#G..#", "#####")
CELL_SIZE = 4.0
WALL_HALF_HEIGHT = 0.5
#: Collision bits: feet have contype 1 (Brax's model), the torso gets 2; walls accept both,
#: the floor keeps conaffinity 1 (so the torso still passes through the floor, as in Brax).
TORSO_CONTYPE = 2
WALL_CONAFFINITY = 1 | TORSO_CONTYPE


class AntMaze(Ant):
    """The ant in a U maze (see the module docstring).

    Args:
      sparse: reward 1 inside the goal radius (default) instead of −distance to the goal.
      goal_radius: success radius around the goal centre, in metres.
    """

    family = "exploration"
    default_episode_length = 700
    has_contact_cost = False  # the maze reward ignores contact forces: skip their extra pass

    def __init__(self, sparse: bool = True, goal_radius: float = 0.5):
        self.sparse = bool(sparse)
        self.goal_radius = float(goal_radius)
        layout = grid_layout(U_GRID, episode_length=self.default_episode_length)
        # Metres, with the start cell's centre at the origin (where the ant's model stands).
        shift = np.concatenate([layout.start, layout.start])
        self.walls = (layout.walls - shift) * CELL_SIZE  # [K, 4] boxes [x0, y0, x1, y1]
        self.bounds = (layout.bounds - shift) * CELL_SIZE
        self.goal = (layout.goal - layout.start) * CELL_SIZE
        self.cells = layout.cells
        self._reachable_cells = layout.reachable_cells
        self._reward_key = "reward/goal" if self.sparse else "reward/distance"
        super().__init__(
            terminate_when_unhealthy=False,
            exclude_current_positions_from_observation=False,
            include_cfrc_ext_in_observation=False,
            contact_cost_weight=0.0,
        )

    @property
    def num_cells(self) -> int:
        return self.cells[0] * self.cells[1]

    @property
    def reachable_cells(self) -> int:
        """Maze cells the torso can enter (not walls): the denominator of coverage."""
        return self._reachable_cells

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        spec.geom("torso_geom").contype = TORSO_CONTYPE
        for i, (x0, y0, x1, y1) in enumerate(self.walls):
            spec.worldbody.add_geom(
                name=f"wall_{i}",
                type=mujoco.mjtGeom.mjGEOM_BOX,
                size=[(x1 - x0) / 2, (y1 - y0) / 2, WALL_HALF_HEIGHT],
                pos=[(x0 + x1) / 2, (y0 + y1) / 2, WALL_HALF_HEIGHT],
                contype=0,
                conaffinity=WALL_CONAFFINITY,
                rgba=[0.6, 0.6, 0.7, 1.0],
            )

    def cell(self, xy: jax.Array) -> jax.Array:
        """xy: [2] -> float32 index of the maze cell (row-major from the bottom-left)."""
        bounds, (cols, rows) = self.bounds, self.cells
        frac = (xy - bounds[:2]) / (bounds[2:] - bounds[:2])
        col = jnp.clip(jnp.floor(frac[0] * cols), 0, cols - 1)
        row = jnp.clip(jnp.floor(frac[1] * rows), 0, rows - 1)
        return (row * cols + col).astype(jnp.float32)

    def _metric_keys(self) -> list[str]:
        return [self._reward_key, "success", "cell"]

    def _task(self, data: mjx.Data) -> tuple[jax.Array, dict]:
        xy = data.qpos[:2]
        distance = jnp.linalg.norm(xy - jnp.asarray(self.goal, jnp.float32))
        at_goal = distance < self.goal_radius
        reward = at_goal.astype(jnp.float32) if self.sparse else -distance
        return reward, {self._reward_key: reward, "success": at_goal.astype(jnp.float32), "cell": self.cell(xy)}

    def reset(self, rng: jax.Array) -> State:
        state = super().reset(rng)
        _, metrics = self._task(state.pipeline_state)
        return state.replace(metrics={**metrics, self._reward_key: jnp.zeros(()), "success": jnp.zeros(())})

    def step(self, state: State, action: jax.Array) -> State:
        """action: [8] in [-1, 1]."""
        state = super().step(state, action)
        reward, metrics = self._task(state.pipeline_state)
        return state.replace(reward=reward, metrics=metrics)
