"""A gripper task about one 5 cm cube and a goal position for it (shared by push and pick_place).

The MJCF file of such a task includes the gripper and adds a free `block` body (a box
geom) and a collision-free mocap body `goal`, which marks the goal for rendering; the goal
position lives in `data.mocap_pos[0]`, so the MJX data is the whole true state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from envs.manipulation.gripper import GripperTask

BLOCK_HALF = 0.025  # half the cube's edge (m); it rests with its centre at this height
OBJECT_CENTER = np.array([0.05, 0.0], np.float32)  # centre of the block and goal regions (xy)
SUCCESS_RADIUS = 0.05  # block centre within this distance of the goal (Fetch's threshold)


class BlockTask(GripperTask):
    """Gripper + block + goal. Subclasses choose how the goal is drawn and the rewards.

    Args:
      object_range: the block starts uniformly in the square OBJECT_CENTER ± object_range.
      goal_range: the goal's xy is uniform in the square OBJECT_CENTER ± goal_range.
      sparse, control_weight: see `ManipulationTask`.
    """

    def __init__(self, object_range: float = 0.1, goal_range: float = 0.15, sparse: bool = False,
                 control_weight: float = 0.01):
        super().__init__(sparse=sparse, control_weight=control_weight)
        self.object_range = float(object_range)
        self.goal_range = float(goal_range)
        joint = mujoco.mj_name2id(self.mj_model, mujoco.mjtObj.mjOBJ_JOINT, "block")
        self._qpos = int(self.mj_model.jnt_qposadr[joint])
        self._qvel = int(self.mj_model.jnt_dofadr[joint])

    # -- state accessors -----------------------------------------------------------------

    def block_pos(self, data: mjx.Data) -> jax.Array:
        """[3] world position of the block's centre."""
        return data.qpos[self._qpos:self._qpos + 3]

    @staticmethod
    def goal_pos(data: mjx.Data) -> jax.Array:
        """[3] the goal position of the block's centre."""
        return data.mocap_pos[0]

    def block_to_goal(self, data: mjx.Data) -> jax.Array:
        """Scalar: distance from the block's centre to the goal."""
        return jnp.linalg.norm(self.goal_pos(data) - self.block_pos(data))

    def _success(self, data: mjx.Data) -> jax.Array:
        return self.block_to_goal(data) < SUCCESS_RADIUS

    def _obs(self, data: mjx.Data) -> jax.Array:
        """[33]: hand (11), block position, quaternion, linear and angular velocity (13),
        block − grip (3), goal (3), goal − block (3)."""
        block, goal = self.block_pos(data), self.goal_pos(data)
        return jnp.concatenate([
            self.hand_obs(data),
            data.qpos[self._qpos:self._qpos + 7], data.qvel[self._qvel:self._qvel + 6],
            block - self.grip_pos(data), goal, goal - block,
        ])

    # -- reset ---------------------------------------------------------------------------

    def _sample_goal(self, rng: jax.Array, block: jax.Array) -> jax.Array:
        """[3] the goal for a block starting at `block` [3]."""
        raise NotImplementedError

    def _initial_data(self, rng: jax.Array, data: mjx.Data) -> mjx.Data:
        hand_key, block_key, goal_key = jax.random.split(rng, 3)
        data = self.initial_hand(hand_key, data)
        xy = jnp.asarray(OBJECT_CENTER) + jax.random.uniform(
            block_key, (2,), minval=-self.object_range, maxval=self.object_range)
        block = jnp.concatenate([xy, jnp.array([BLOCK_HALF])])
        qpos = data.qpos.at[self._qpos:self._qpos + 7].set(jnp.concatenate([block, jnp.array([1.0, 0, 0, 0])]))
        goal = self._sample_goal(goal_key, block)
        return data.replace(qpos=qpos, mocap_pos=data.mocap_pos.at[0].set(goal))
