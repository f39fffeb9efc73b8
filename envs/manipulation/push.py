"""Push: slide a block across the table onto a goal position on the table (MJX).

After the Fetch `Push` task (Plappert et al., 2018): the fingers stay closed, so the block
can be pushed but not grasped. Our own Cartesian gripper (`gripper.py`, `assets/block.xml`).

- Action [3] in [-1, 1]: hand target moves (0.05 m per unit, x y z). 4 physics steps of
  0.01 s per env step.
- Observation [33]: grip position, velocity, target − grip, finger opening and rate;
  block position, quaternion, linear and angular velocity; block − grip; goal;
  goal − block.
- Reset: hand near (−0.15, 0, 0.12); block upright at rest, uniform in (0.05, 0) ±
  `object_range`; goal on the table, uniform in (0.05, 0) ± `goal_range` and at least
  `min_goal_distance` from the block.
- Dense reward terms: "reach" −0.5 ‖grip − block‖, "push" −‖block − goal‖, "control"
  −control_weight Σ a². Sparse (`sparse=True`): "reward/success" only.
- Success: block centre within 0.05 of the goal (Fetch's threshold).
- Episode: 100 steps (4 s), no termination. The scripted controller needs ~35 steps
  (median).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from mujoco import mjx

from envs.manipulation.block import BLOCK_HALF, OBJECT_CENTER, BlockTask

PUSH_HEIGHT = 0.02  # grip height while pushing: as low as the hand goes, so the block slides, not tips
PRE_PUSH = 0.06  # the hand lands this far behind the block's centre before pushing
PUSH_STEP = 0.01  # how far ahead of the hand the scripted controller sets its target (~10 N)
PUSH_DONE = 0.02  # the scripted controller stops pushing this close to the goal


class Push(BlockTask):
    """Push a block to a goal on the table with the closed fingers of a Cartesian gripper.

    Args:
      object_range, goal_range: half-widths of the block and goal squares (m).
      min_goal_distance: the goal starts at least this far from the block (m), so that no
        episode starts solved (twice the success radius by default).
      sparse, control_weight: see `ManipulationTask`.
    """

    xml_file = "block.xml"
    term_names = ("reach", "push", "control")
    uses_fingers = False
    default_episode_length = 100

    def __init__(self, object_range: float = 0.1, goal_range: float = 0.15, min_goal_distance: float = 0.1,
                 sparse: bool = False, control_weight: float = 0.01):
        super().__init__(object_range=object_range, goal_range=goal_range, sparse=sparse,
                         control_weight=control_weight)
        self.min_goal_distance = float(min_goal_distance)

    def _sample_goal(self, rng: jax.Array, block: jax.Array) -> jax.Array:
        low = jnp.array([OBJECT_CENTER[0] - self.goal_range, OBJECT_CENTER[1] - self.goal_range, BLOCK_HALF])
        high = jnp.array([OBJECT_CENTER[0] + self.goal_range, OBJECT_CENTER[1] + self.goal_range, BLOCK_HALF])
        return sample_goal_away(rng, block, low, high, self.min_goal_distance)

    def _terms(self, data: mjx.Data, action: jax.Array) -> dict[str, jax.Array]:
        return {
            "reach": -0.5 * jnp.linalg.norm(self.block_pos(data) - self.grip_pos(data)),
            "push": -self.block_to_goal(data),
            "control": self.control_term(action),
        }

    def scripted_policy(self, data: mjx.Data) -> jax.Array:
        """Land behind the block on the block→goal line, push along it, stop on the goal.

        Stateless: if the hand drifts off the line while pushing, it backs away from the
        block (rising in contact would flip it), lifts, and lands behind it again.
        """
        hand, block, goal = self.grip_pos(data), self.block_pos(data), self.goal_pos(data)
        to_goal = goal[:2] - block[:2]
        remaining = jnp.linalg.norm(to_goal)
        direction = to_goal / jnp.maximum(remaining, 1e-6)
        offset = hand[:2] - block[:2]
        along = offset @ direction
        across = offset - along * direction
        low = hand[2] < PUSH_HEIGHT + 0.01
        behind = (along < -0.03) & (jnp.linalg.norm(across) < 0.02) & low
        # Push: move ahead along the line, pulling back onto it sideways.
        push_xy = hand[:2] + direction * jnp.minimum(PUSH_STEP, remaining) - 0.5 * across
        push = jnp.concatenate([push_xy, jnp.array([PUSH_HEIGHT])])
        landing = jnp.concatenate([block[:2] - PRE_PUSH * direction, jnp.array([PUSH_HEIGHT])])
        gap = jnp.linalg.norm(offset)
        back_off = jnp.concatenate([hand[:2] + 0.02 * offset / jnp.maximum(gap, 1e-6), hand[2:]])
        target = jnp.where(
            remaining < PUSH_DONE, hand,
            jnp.where(behind, push, jnp.where(low & (gap < PRE_PUSH - 0.01), back_off,
                                              self.approach_from_above(data, landing))))
        return self.move_towards(data, target)

def sample_goal_away(rng: jax.Array, anchor: jax.Array, low: jax.Array, high: jax.Array, min_distance: float,
                     tries: int = 8) -> jax.Array:
    """A goal uniform in the box [low, high], at least `min_distance` from `anchor` in xy.

    Draws `tries` candidates and keeps the first far-enough one (the farthest if none is):
    a fixed amount of work under jit instead of a rejection loop.
    anchor, low, high: [3]. Returns [3].
    """
    candidates = jax.random.uniform(rng, (tries,) + low.shape, minval=low, maxval=high)
    distance = jnp.linalg.norm(candidates[:, :2] - anchor[:2], axis=-1)
    far = distance >= min_distance
    index = jnp.where(jnp.any(far), jnp.argmax(far), jnp.argmax(distance))
    return candidates[index]
