"""Free-floating runners: Ant and Humanoid (MJX), after Gymnasium's `Ant-v5` and `Humanoid-v5`.

Both robots hang from a free joint: `qpos[:3]` is the torso's position, `qpos[3:7]` its
orientation quaternion. Their observation starts with `qpos[2:]` (the x–y position is left
out unless `exclude_current_positions_from_observation=False`) and `qvel`; they are
healthy while the torso height `qpos[2]` is inside `healthy_z_range` and the state is
finite. Both pay a contact cost computed from the bodies' external contact wrenches
(`cfrc_ext`, from `mjx.rne_postconstraint` after the substeps, as Gymnasium does), which by
default are also part of the observation.

Both keep Gymnasium's contact cost: the extra pass that computes the contact wrenches does
not measurably slow either robot's stepping (docs/performance.md, "Physics settings").
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from mujoco import mjx

from envs.locomotion.base import LocomotionEnv, forwarded_options, in_range


class FreeRootRunner(LocomotionEnv):
    """Observation prefix, health and contact cost of the free-floating robots."""

    has_contact_cost = True
    # Contact wrenches enter reward and observation, so they need a near-converged solve: one
    # Newton iteration per substep overstates the contact forces of random play against a
    # converged solve, two come close at a moderate cost in steps/s (docs/performance.md,
    # "Physics settings").
    solver_iterations = 2

    def __init__(
        self,
        *,
        healthy_z_range: tuple[float, float],
        include_cfrc_ext_in_observation: bool,
        **kwargs,
    ):
        self.healthy_z_range = tuple(float(v) for v in healthy_z_range)
        self.include_cfrc_ext_in_observation = bool(include_cfrc_ext_in_observation)
        super().__init__(**kwargs)

    def _state_obs(self, data: mjx.Data) -> jax.Array:
        qpos = data.qpos[2:] if self.exclude_current_positions_from_observation else data.qpos
        return jnp.concatenate([qpos, data.qvel])

    def _contact_obs(self, data: mjx.Data) -> list[jax.Array]:
        """The clipped contact wrenches of the robot's bodies (world body left out), flat."""
        if not self.include_cfrc_ext_in_observation:
            return []
        return [self.contact_forces(data)[1:].ravel()]

    def _is_healthy(self, data: mjx.Data) -> jax.Array:
        finite = jnp.all(jnp.isfinite(data.qpos)) & jnp.all(jnp.isfinite(data.qvel))
        return finite & in_range(data.qpos[2], self.healthy_z_range)


class Ant(FreeRootRunner):
    """Four-legged ant: walk forward along x (after Gymnasium `Ant-v5`).

    Observation [105]: torso height and orientation quaternion, 8 hip/ankle angles (13),
    the 14 velocities, then the 13 bodies' contact wrenches clipped to ±1 (78; option
    `include_cfrc_ext_in_observation`). Action [8] in [-1, 1]: hip and ankle torques
    (gear 150). Reward: forward (x-velocity of the torso, weight 1) + healthy (1 while
    healthy) − 0.5 Σ a² − 5e-4 Σ clip(cfrc_ext, ±1)². Healthy: 0.2 < torso height < 1 and
    a finite state; an unhealthy state terminates the episode (option). Success: healthy and
    faster than `success_speed` (1 m/s) over the step. 1000 steps of 0.05 s (5 substeps of
    10 ms). Model: Brax's `ant.xml` (only the four feet collide with the floor); solver 2
    Newton iterations, 4 line-search steps. Reset velocities get Gaussian noise.
    """

    asset = "ant.xml"
    n_frames = 5
    velocity_noise = "normal"
    contact_force_range = (-1.0, 1.0)

    def __init__(
        self,
        *,
        forward_reward_weight: float = 1.0,
        ctrl_cost_weight: float = 0.5,
        contact_cost_weight: float = 5e-4,
        healthy_reward: float = 1.0,
        terminate_when_unhealthy: bool = True,
        healthy_z_range: tuple[float, float] = (0.2, 1.0),
        reset_noise_scale: float = 0.1,
        exclude_current_positions_from_observation: bool = True,
        include_cfrc_ext_in_observation: bool = True,
        success_speed: float = 1.0,
    ):
        super().__init__(**forwarded_options(locals()))

    def _obs(self, data: mjx.Data) -> jax.Array:
        return jnp.concatenate([self._state_obs(data)] + self._contact_obs(data))


class Humanoid(FreeRootRunner):
    """Humanoid: walk forward along x without falling (after Gymnasium `Humanoid-v5`).

    Observation [348]: torso height and quaternion, 17 joint angles (22), the 23
    velocities, then per body (13, world left out) the centre-of-mass inertia (10 each,
    `cinert`) and velocity (6 each, `cvel`), the 17 actuated joints' actuator forces, and the
    bodies' contact wrenches (78; option `include_cfrc_ext_in_observation`). Action [17] in
    [-1, 1], mapped to the motors' ctrlrange ±0.4. Reward: forward (x-velocity of the centre
    of mass, weight 1.25) + healthy (5 while healthy) − 0.1 Σ ctrl² − min(5e-7 Σ cfrc_ext², 10).
    Healthy: 1 < torso height < 2 and a finite state; an unhealthy state terminates the
    episode (option). Success: healthy and faster than `success_speed` (1 m/s) over the
    step. 1000 steps of 0.015 s (5 substeps of 3 ms). Model: Brax's `humanoid.xml` (only
    the feet collide with the floor); solver 2 Newton iterations, 4 line-search steps.
    """

    asset = "humanoid.xml"
    n_frames = 5
    contact_cost_cap = 10.0

    def __init__(
        self,
        *,
        forward_reward_weight: float = 1.25,
        ctrl_cost_weight: float = 0.1,
        contact_cost_weight: float = 5e-7,
        healthy_reward: float = 5.0,
        terminate_when_unhealthy: bool = True,
        healthy_z_range: tuple[float, float] = (1.0, 2.0),
        reset_noise_scale: float = 1e-2,
        exclude_current_positions_from_observation: bool = True,
        include_cfrc_ext_in_observation: bool = True,
        success_speed: float = 1.0,
    ):
        super().__init__(**forwarded_options(locals()))

    def _after_reset(self, data: mjx.Data) -> mjx.Data:
        # The observation and the centre of mass need the body frames, inertias and
        # velocities: the smooth part of a forward pass, without collision or solve.
        data = mjx.kinematics(self.mjx_model, data)
        data = mjx.com_pos(self.mjx_model, data)
        return mjx.com_vel(self.mjx_model, data)

    def _x_position(self, data: mjx.Data) -> jax.Array:
        # The torso's subtree is the whole robot: its centre of mass.
        return data.subtree_com[1, 0]

    def _obs(self, data: mjx.Data) -> jax.Array:
        parts = [
            self._state_obs(data),
            data._impl.cinert[1:].ravel(),
            data.cvel[1:].ravel(),
            data.qfrc_actuator[6:],
        ]
        return jnp.concatenate(parts + self._contact_obs(data))
