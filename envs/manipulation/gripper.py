"""The Cartesian two-finger gripper that push, pick_place and drawer_open share.

The "arm" is a gantry: the hand moves on three world-aligned slide joints and its two
fingers on slide joints along ±y, all driven by position actuators (`assets/gripper.xml`).
MJX simulates that far faster on CPU than an articulated arm, and the action space is the
end-effector one of the Fetch tasks (Plappert et al., "Multi-Goal Reinforcement Learning:
Challenging Robotics Environments and Request for Research", 2018):

- action[:3] moves the hand's position *target* (kept in `data.ctrl`, like Fetch's mocap
  target) by 0.05 m per unit; the target is clipped to the workspace and to within 0.05 m
  of the hand, so a blocked hand never winds up a large force.
- action[3] (tasks with `uses_fingers`) sets the finger target: −1 closed, +1 open.
  Tasks without it (push) keep the fingers closed and have a 3-D action.

The hand's joint positions are the world position of the grip point (between the finger
tips), so every position a task needs is a slice of `qpos`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from mujoco import mjx

from envs.manipulation.task import ManipulationTask

MOVE_SCALE = 0.05  # m of target motion per unit action per step
MAX_LEAD = 0.05  # the hand target stays within this distance of the hand (per axis)
FINGER_CLOSED, FINGER_OPEN = 0.01, 0.05  # finger joint targets (m from the centre line)
HAND_HOME = np.array([-0.15, 0.0, 0.12], np.float32)
HAND_NOISE = 0.02  # uniform ± noise on the initial hand position
SAFE_HEIGHT = 0.09  # grip height at which the fingers clear a 5 cm block


class GripperTask(ManipulationTask):
    """A task performed with the Cartesian gripper (see the module docstring).

    qpos layout: hand x, y, z (= grip point), left finger, right finger, then the task's
    objects. ctrl layout: hand x, y, z targets, left and right finger targets.
    """

    #: Whether the action has the finger command (4-D) or the fingers stay closed (3-D).
    uses_fingers: bool = True

    def __init__(self, sparse: bool = False, control_weight: float = 0.01):
        super().__init__(sparse=sparse, control_weight=control_weight)
        self._hand_low = jnp.asarray(self.mj_model.actuator_ctrlrange[:3, 0])
        self._hand_high = jnp.asarray(self.mj_model.actuator_ctrlrange[:3, 1])

    @property
    def action_size(self) -> int:
        return 4 if self.uses_fingers else 3

    # -- state accessors -----------------------------------------------------------------

    @staticmethod
    def grip_pos(data: mjx.Data) -> jax.Array:
        """[3] world position of the grip point."""
        return data.qpos[:3]

    @staticmethod
    def finger_opening(data: mjx.Data) -> jax.Array:
        """Scalar: mean finger distance from the centre line (0.01 closed, 0.05 open)."""
        return 0.5 * (data.qpos[3] + data.qpos[4])

    def hand_obs(self, data: mjx.Data) -> jax.Array:
        """[11]: grip position, grip velocity, target − grip, finger opening and its rate."""
        return jnp.concatenate([
            data.qpos[:3], data.qvel[:3], data.ctrl[:3] - data.qpos[:3],
            self.finger_opening(data)[None], 0.5 * (data.qvel[3:4] + data.qvel[4:5]),
        ])

    # -- action and reset ----------------------------------------------------------------

    def _ctrl(self, data: mjx.Data, action: jax.Array) -> jax.Array:
        hand = data.qpos[:3]
        target = data.ctrl[:3] + MOVE_SCALE * action[:3]
        target = jnp.clip(target, hand - MAX_LEAD, hand + MAX_LEAD)
        target = jnp.clip(target, self._hand_low, self._hand_high)
        if self.uses_fingers:
            finger = FINGER_CLOSED + 0.5 * (action[3] + 1.0) * (FINGER_OPEN - FINGER_CLOSED)
        else:
            finger = jnp.asarray(FINGER_CLOSED)
        return jnp.concatenate([target, jnp.stack([finger, finger])])

    def initial_hand(self, rng: jax.Array, data: mjx.Data) -> mjx.Data:
        """Hand near HAND_HOME at rest, its target on it; fingers open (closed for push)."""
        hand = jnp.asarray(HAND_HOME) + jax.random.uniform(rng, (3,), minval=-HAND_NOISE, maxval=HAND_NOISE)
        finger = FINGER_OPEN if self.uses_fingers else FINGER_CLOSED
        fingers = jnp.full((2,), finger)
        qpos = data.qpos.at[:3].set(hand).at[3:5].set(fingers)
        ctrl = jnp.concatenate([hand, fingers])
        return data.replace(qpos=qpos, ctrl=ctrl)

    # -- scripted-controller helpers -----------------------------------------------------

    @staticmethod
    def move_towards(data: mjx.Data, target: jax.Array) -> jax.Array:
        """[3] action that moves the hand target onto `target` (as far as one step allows)."""
        return jnp.clip((target - data.ctrl[:3]) / MOVE_SCALE, -1.0, 1.0)

    @staticmethod
    def approach_from_above(data: mjx.Data, goal: jax.Array, clearance: float = SAFE_HEIGHT) -> jax.Array:
        """[3] position the hand should head for to reach `goal` without sweeping objects.

        Far from `goal` in the plane, the hand first rises to `clearance`, then travels at
        that height, then descends onto `goal` once above it (within 1 cm).
        """
        hand = data.qpos[:3]
        planar_gap = jnp.linalg.norm(hand[:2] - goal[:2])
        above = planar_gap < 0.01
        high = hand[2] > clearance - 0.01
        travel = jnp.concatenate([goal[:2], jnp.array([clearance])])
        rise = jnp.concatenate([hand[:2], jnp.array([clearance])])
        return jnp.where(above, goal, jnp.where(high, travel, rise))
