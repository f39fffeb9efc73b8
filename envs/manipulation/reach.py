"""Reach: move a three-joint arm's fingertip onto a random 3-D target (MJX).

After the Fetch `Reach` task (Plappert et al., 2018) with our own arm (`assets/reach.xml`):
base yaw, shoulder pitch and elbow pitch, two 0.25 m links on a 0.1 m column, position
servos on every joint, gravity compensated, contacts disabled (nothing touches), so MJX's
constraint solver never runs.

- Action [3] in [-1, 1]: moves the three joint targets (kept in `data.ctrl`) by 0.1 rad
  per unit; targets stay within their ctrlrange and within 0.2 rad of the joint.
  4 physics steps of 0.01 s per env step.
- Observation [18]: joint angles, joint velocities, target − angle per joint, fingertip
  position, goal, goal − fingertip.
- Reset: joints near (0, 0.6, −1.2) rad (fingertip near (0.41, 0, 0.1)) at rest; goal
  uniform in the cylindrical sector yaw ∈ ±`goal_yaw`, radius ∈ `goal_radius`, height ∈
  `goal_height` (all reachable).
- Dense reward terms: "distance" −‖fingertip − goal‖, "control" −control_weight Σ a².
  Sparse (`sparse=True`): "reward/success" only.
- Success: fingertip within 0.05 of the goal (Fetch's threshold).
- Episode: 50 steps (2 s, as Fetch), no termination. The scripted controller (analytic
  inverse kinematics) needs ~10 steps (median), 25 for the farthest goals.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from mujoco import mjx

from envs.manipulation.task import ManipulationTask

SHOULDER_HEIGHT = 0.1
UPPER_ARM, FOREARM = 0.25, 0.25  # link lengths (assets/reach.xml)
JOINT_STEP = 0.1  # rad of target motion per unit action per step
MAX_LEAD = 0.2  # a joint target stays within this angle of the joint
HOME = np.array([0.0, 0.6, -1.2], np.float32)
HOME_NOISE = 0.1
SUCCESS_RADIUS = 0.05


def fingertip(q: jax.Array) -> jax.Array:
    """[3] fingertip world position for joint angles q = (yaw, shoulder, elbow) [3]."""
    yaw, shoulder, elbow = q[0], q[1], q[2]
    radius = UPPER_ARM * jnp.cos(shoulder) + FOREARM * jnp.cos(shoulder + elbow)
    height = UPPER_ARM * jnp.sin(shoulder) + FOREARM * jnp.sin(shoulder + elbow)
    return jnp.stack([radius * jnp.cos(yaw), radius * jnp.sin(yaw), SHOULDER_HEIGHT + height])


def inverse_kinematics(point: jax.Array) -> jax.Array:
    """[3] joint angles that put the fingertip on `point` [3], elbow above the wrist.

    Points out of reach get the straight arm pointing at them.
    """
    yaw = jnp.arctan2(point[1], point[0])
    radius = jnp.linalg.norm(point[:2])
    height = point[2] - SHOULDER_HEIGHT
    cos_elbow = (radius**2 + height**2 - UPPER_ARM**2 - FOREARM**2) / (2 * UPPER_ARM * FOREARM)
    elbow = -jnp.arccos(jnp.clip(cos_elbow, -1.0, 1.0))
    shoulder = jnp.arctan2(height, radius) - jnp.arctan2(FOREARM * jnp.sin(elbow), UPPER_ARM + FOREARM * jnp.cos(elbow))
    return jnp.stack([yaw, shoulder, elbow])


class Reach(ManipulationTask):
    """Bring a three-joint arm's fingertip to a random 3-D goal.

    Args:
      goal_yaw: goals lie within ± this angle (rad) of the +x axis around the base.
      goal_radius: (min, max) horizontal distance of the goal from the base axis (m).
      goal_height: (min, max) height of the goal above the floor (m).
      sparse, control_weight: see `ManipulationTask`.
    """

    xml_file = "reach.xml"
    term_names = ("distance", "control")
    default_episode_length = 50

    def __init__(self, goal_yaw: float = 1.2, goal_radius: tuple[float, float] = (0.15, 0.4),
                 goal_height: tuple[float, float] = (0.05, 0.35), sparse: bool = False,
                 control_weight: float = 0.01):
        super().__init__(sparse=sparse, control_weight=control_weight)
        self.goal_yaw = float(goal_yaw)
        self.goal_radius = (float(goal_radius[0]), float(goal_radius[1]))
        self.goal_height = (float(goal_height[0]), float(goal_height[1]))
        reach = UPPER_ARM + FOREARM
        farthest = np.hypot(self.goal_radius[1], max(abs(h - SHOULDER_HEIGHT) for h in self.goal_height))
        if farthest > reach or self.goal_radius[0] <= 0.0:
            raise ValueError(f"goals with goal_radius={goal_radius}, goal_height={goal_height} can lie out of "
                             f"reach ({reach} m from the shoulder at height {SHOULDER_HEIGHT})")
        self._low = jnp.asarray(self.mj_model.actuator_ctrlrange[:, 0])
        self._high = jnp.asarray(self.mj_model.actuator_ctrlrange[:, 1])

    @property
    def action_size(self) -> int:
        return 3

    @staticmethod
    def goal_pos(data: mjx.Data) -> jax.Array:
        """[3] the goal position."""
        return data.mocap_pos[0]

    def _obs(self, data: mjx.Data) -> jax.Array:
        tip, goal = fingertip(data.qpos), self.goal_pos(data)
        return jnp.concatenate([data.qpos, data.qvel, data.ctrl - data.qpos, tip, goal, goal - tip])

    def _initial_data(self, rng: jax.Array, data: mjx.Data) -> mjx.Data:
        arm_key, yaw_key, radius_key, height_key = jax.random.split(rng, 4)
        q = jnp.asarray(HOME) + jax.random.uniform(arm_key, (3,), minval=-HOME_NOISE, maxval=HOME_NOISE)
        yaw = jax.random.uniform(yaw_key, (), minval=-self.goal_yaw, maxval=self.goal_yaw)
        # Uniform over the sector's area: radius² uniform, not radius.
        r2 = jax.random.uniform(radius_key, (), minval=self.goal_radius[0] ** 2, maxval=self.goal_radius[1] ** 2)
        height = jax.random.uniform(height_key, (), minval=self.goal_height[0], maxval=self.goal_height[1])
        goal = jnp.stack([jnp.sqrt(r2) * jnp.cos(yaw), jnp.sqrt(r2) * jnp.sin(yaw), height])
        return data.replace(qpos=q, ctrl=q, mocap_pos=data.mocap_pos.at[0].set(goal))

    def _ctrl(self, data: mjx.Data, action: jax.Array) -> jax.Array:
        target = data.ctrl + JOINT_STEP * action
        target = jnp.clip(target, data.qpos - MAX_LEAD, data.qpos + MAX_LEAD)
        return jnp.clip(target, self._low, self._high)

    def _terms(self, data: mjx.Data, action: jax.Array) -> dict[str, jax.Array]:
        return {
            "distance": -jnp.linalg.norm(fingertip(data.qpos) - self.goal_pos(data)),
            "control": self.control_term(action),
        }

    def _success(self, data: mjx.Data) -> jax.Array:
        return jnp.linalg.norm(fingertip(data.qpos) - self.goal_pos(data)) < SUCCESS_RADIUS

    def scripted_policy(self, data: mjx.Data) -> jax.Array:
        """Move the joint targets straight to the inverse-kinematics solution of the goal."""
        solution = jnp.clip(inverse_kinematics(self.goal_pos(data)), self._low, self._high)
        return jnp.clip((solution - data.ctrl) / JOINT_STEP, -1.0, 1.0)
