"""Drawer open: hook the handle of a drawer and pull the drawer open past a threshold (MJX).

After Meta-World's `drawer-open` (Yu et al., "Meta-World: A Benchmark and Evaluation for
Multi-Task and Meta Reinforcement Learning", 2019), with our own Cartesian gripper
(`gripper.py`) and cabinet (`assets/drawer.xml`): the drawer slides on a joint towards −x,
up to 0.2 m; its handle bar (along y, 5 cm off the front, 8 cm above the table) is the
only part that collides, with the fingers.

- Action [3] in [-1, 1]: hand target moves (0.05 m per unit, x y z); the fingers stay
  closed (a hook is all the task needs). 4 physics steps of 0.01 s per env step.
- Observation [25]: grip position, velocity, target − grip, finger opening and rate;
  handle position; drawer opening and its rate; handle − grip; goal (the handle's
  position when open by `open_distance`); goal − handle.
- Reset: hand near (−0.15, 0, 0.12); drawer closed; cabinet front at (0.25, 0) ±
  `object_range` (the goal moves with it).
- Dense reward terms: "reach" −0.5 ‖grip − handle‖, "open" −|open_distance − opening|,
  "control" −control_weight Σ a². Sparse (`sparse=True`): "reward/success" only.
- Success: opening ≥ `open_distance` (0.15 m of the 0.2 m travel by default).
- Episode: 100 steps (4 s), no termination. The scripted controller needs ~25 steps
  (median).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from envs.manipulation.gripper import GripperTask

CABINET_HOME = np.array([0.25, 0.0, 0.0], np.float32)
HANDLE_OFFSET = np.array([-0.05, 0.0, 0.08], np.float32)  # closed handle bar centre, cabinet frame
HOOK_DEPTH = 0.03  # the grip point goes this far behind the bar (between bar and front)
CLEARANCE = 0.14  # grip height at which the fingers pass over the handle bar
MAX_OPENING = 0.2  # the drawer joint's range (assets/drawer.xml)


class DrawerOpen(GripperTask):
    """Pull a drawer open with the hooked fingers of a Cartesian gripper.

    Args:
      object_range: the cabinet is placed uniformly in CABINET_HOME ± object_range (xy).
      open_distance: opening (m) that counts as open; at most 0.2, the drawer's travel.
      sparse, control_weight: see `ManipulationTask`.
    """

    xml_file = "drawer.xml"
    term_names = ("reach", "open", "control")
    uses_fingers = False
    default_episode_length = 100

    def __init__(self, object_range: float = 0.05, open_distance: float = 0.15, sparse: bool = False,
                 control_weight: float = 0.01):
        super().__init__(sparse=sparse, control_weight=control_weight)
        if not 0.0 < open_distance < MAX_OPENING:
            raise ValueError(f"open_distance must be in (0, {MAX_OPENING}), got {open_distance}")
        self.object_range = float(object_range)
        self.open_distance = float(open_distance)
        joint = mujoco.mj_name2id(self.mj_model, mujoco.mjtObj.mjOBJ_JOINT, "drawer")
        self._qpos = int(self.mj_model.jnt_qposadr[joint])
        self._qvel = int(self.mj_model.jnt_dofadr[joint])
        self._drawer_body = mujoco.mj_name2id(self.mj_model, mujoco.mjtObj.mjOBJ_BODY, "drawer")
        self._drawer_offset = self.mj_model.body_pos[self._drawer_body] - CABINET_HOME

    def physics_model(self, data: mjx.Data) -> mjx.Model:
        """The model with the drawer placed in this environment's cabinet (see drawer.xml)."""
        drawer = data.mocap_pos[0] + jnp.asarray(self._drawer_offset)
        return self.mjx_model.replace(body_pos=self.mjx_model.body_pos.at[self._drawer_body].set(drawer))

    # -- state accessors -----------------------------------------------------------------

    def opening(self, data: mjx.Data) -> jax.Array:
        """Scalar: how far the drawer is open (m, 0 closed)."""
        return data.qpos[self._qpos]

    def handle_pos(self, data: mjx.Data) -> jax.Array:
        """[3] world position of the handle bar's centre."""
        closed = data.mocap_pos[0] + jnp.asarray(HANDLE_OFFSET)
        return closed - jnp.array([1.0, 0.0, 0.0]) * self.opening(data)

    def goal_pos(self, data: mjx.Data) -> jax.Array:
        """[3] where the handle is when the drawer is open by `open_distance`."""
        return data.mocap_pos[0] + jnp.asarray(HANDLE_OFFSET) - jnp.array([self.open_distance, 0.0, 0.0])

    def _obs(self, data: mjx.Data) -> jax.Array:
        handle, goal = self.handle_pos(data), self.goal_pos(data)
        return jnp.concatenate([
            self.hand_obs(data), handle, self.opening(data)[None], data.qvel[self._qvel:self._qvel + 1],
            handle - self.grip_pos(data), goal, goal - handle,
        ])

    # -- reset, reward, success ----------------------------------------------------------

    def _initial_data(self, rng: jax.Array, data: mjx.Data) -> mjx.Data:
        hand_key, cabinet_key = jax.random.split(rng)
        data = self.initial_hand(hand_key, data)
        shift = jax.random.uniform(cabinet_key, (2,), minval=-self.object_range, maxval=self.object_range)
        cabinet = jnp.asarray(CABINET_HOME).at[:2].add(shift)
        return data.replace(mocap_pos=data.mocap_pos.at[0].set(cabinet))

    def _terms(self, data: mjx.Data, action: jax.Array) -> dict[str, jax.Array]:
        return {
            "reach": -0.5 * jnp.linalg.norm(self.handle_pos(data) - self.grip_pos(data)),
            "open": -jnp.abs(self.open_distance - self.opening(data)),
            "control": self.control_term(action),
        }

    def _success(self, data: mjx.Data) -> jax.Array:
        return self.opening(data) >= self.open_distance

    def scripted_policy(self, data: mjx.Data) -> jax.Array:
        """Pass over the bar, drop in behind it, pull towards −x past the goal.

        Stateless: a hand that loses the bar goes back over it and hooks it again.
        """
        hand, handle = self.grip_pos(data), self.handle_pos(data)
        offset = hand - handle
        hooked = (offset[0] > 0.0) & (offset[0] < HOOK_DEPTH + 0.01) & (jnp.abs(offset[1]) < 0.03) & (
            jnp.abs(offset[2]) < 0.02)
        # Pull 2 cm past the goal, so the opening ends beyond the threshold.
        pull = jnp.concatenate([self.goal_pos(data)[:1], handle[1:]])
        hook = handle + jnp.array([HOOK_DEPTH, 0.0, 0.0])
        target = jnp.where(hooked, pull, self.approach_from_above(data, hook, clearance=CLEARANCE))
        return self.move_towards(data, target)
