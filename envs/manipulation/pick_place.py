"""Pick and place: grasp a block on the table and hold it at a goal in the air (MJX).

After the Fetch `PickAndPlace` task (Plappert et al., 2018), with every goal in the air
and our own Cartesian two-finger gripper (`gripper.py`, `assets/block.xml`).

- Action [4] in [-1, 1]: hand target moves (0.05 m per unit, x y z) and the finger
  command (−1 closed, +1 open). 4 physics steps of 0.01 s per env step.
- Observation [33]: grip position, velocity, target − grip, finger opening and rate;
  block position, quaternion, linear and angular velocity; block − grip; goal;
  goal − block.
- Reset: hand near (−0.15, 0, 0.12), fingers open; block upright at rest, uniform in
  (0.05, 0) ± `object_range` on the table; goal xy uniform in (0.05, 0) ± `goal_range`,
  height uniform in `goal_height` (block centre above the table top).
- Dense reward terms: "reach" −0.5 ‖grip − block‖, "grasp" +0.25 while the fingers hold
  the block, "place" −‖block − goal‖, "control" −control_weight Σ a². Sparse
  (`sparse=True`): "reward/success" only.
- Success: block centre within 0.05 of the goal (Fetch's threshold). Since the goal is at
  least 0.075 above the resting block, success needs a lift.
- Episode: 100 steps (4 s), no termination. The scripted controller first reaches the
  goal after ~15 steps (median) and holds the block there.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from mujoco import mjx

from envs.manipulation.block import BLOCK_HALF, OBJECT_CENTER, BlockTask
from envs.manipulation.gripper import FINGER_OPEN

HOLD_PLANAR = 0.02  # the block centre within this distance of the grip point in the plane,
HOLD_HEIGHT = 0.04  # and within this height of it (a held block creeps down, see gripper.xml;
#                     below 0.045 the block's top would leave the finger pads),
HOLD_OPENING = (0.025, 0.042)  # with the fingers stopped by the block (0.035 = contact)


class PickPlace(BlockTask):
    """Lift a block to a goal in the air with a Cartesian two-finger gripper.

    Args:
      object_range, goal_range: half-widths of the block and goal squares (m).
      goal_height: (min, max) height of the goal above the table (block centre).
      sparse, control_weight: see `ManipulationTask`.
    """

    xml_file = "block.xml"
    term_names = ("reach", "grasp", "place", "control")
    default_episode_length = 100

    def __init__(self, object_range: float = 0.1, goal_range: float = 0.15,
                 goal_height: tuple[float, float] = (0.1, 0.25), sparse: bool = False,
                 control_weight: float = 0.01):
        super().__init__(object_range=object_range, goal_range=goal_range, sparse=sparse,
                         control_weight=control_weight)
        self.goal_height = (float(goal_height[0]), float(goal_height[1]))
        if not BLOCK_HALF + 0.05 <= self.goal_height[0] <= self.goal_height[1]:
            raise ValueError(f"goal_height must be (min, max) with min >= {BLOCK_HALF + 0.05}, got {goal_height}")

    def _sample_goal(self, rng: jax.Array, block: jax.Array) -> jax.Array:
        low = jnp.array([OBJECT_CENTER[0] - self.goal_range, OBJECT_CENTER[1] - self.goal_range, self.goal_height[0]])
        high = jnp.array([OBJECT_CENTER[0] + self.goal_range, OBJECT_CENTER[1] + self.goal_range, self.goal_height[1]])
        return jax.random.uniform(rng, (3,), minval=low, maxval=high)

    def held(self, data: mjx.Data) -> jax.Array:
        """bool scalar: the fingers are closed on the block, which is between them."""
        opening = self.finger_opening(data)
        gap = self.block_pos(data) - self.grip_pos(data)
        between = (jnp.linalg.norm(gap[:2]) < HOLD_PLANAR) & (jnp.abs(gap[2]) < HOLD_HEIGHT)
        return between & (opening > HOLD_OPENING[0]) & (opening < HOLD_OPENING[1])

    def _terms(self, data: mjx.Data, action: jax.Array) -> dict[str, jax.Array]:
        return {
            "reach": -0.5 * jnp.linalg.norm(self.block_pos(data) - self.grip_pos(data)),
            "grasp": 0.25 * self.held(data).astype(jnp.float32),
            "place": -self.block_to_goal(data),
            "control": self.control_term(action),
        }

    def scripted_policy(self, data: mjx.Data) -> jax.Array:
        """Approach from above with open fingers, descend, close, carry to the goal.

        Stateless: the phase is read off the state, so a dropped block is re-grasped.
        """
        grip, block = self.grip_pos(data), self.block_pos(data)
        opening = self.finger_opening(data)
        held = self.held(data)
        at_block = jnp.linalg.norm(grip - block) < 0.01
        # Fingers closed on nothing: open before trying again.
        missed = opening < HOLD_OPENING[0]
        fully_open = opening > FINGER_OPEN - 0.005
        # Only descend with open fingers, else they would land on the block's top.
        approach = self.approach_from_above(data, block)
        descending = jnp.linalg.norm(approach - block) < 1e-6
        # Carry so that the *block* lands on the goal, whatever it crept in the grasp.
        carry = self.goal_pos(data) + grip - block
        target = jnp.where(held, carry,
                           jnp.where(descending & ~fully_open & ~at_block, grip, approach))
        close = held | (at_block & ~missed)
        finger = jnp.where(close, -1.0, 1.0)
        return jnp.concatenate([self.move_towards(data, target), finger[None]])
