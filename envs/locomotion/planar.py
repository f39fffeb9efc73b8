"""Planar runners: Hopper, Walker2d and HalfCheetah (MJX), after Gymnasium's v5 tasks.

The three robots move in the x–z plane on a root made of an x slide, a z slide and a
y hinge (`qpos[:3]`), so they share their observation: `qpos[1:]` (root height, root pitch,
joint angles; `qpos[0]`, the x position, is left out unless
`exclude_current_positions_from_observation=False`) followed by `qvel`. Forward velocity
is the rate of change of `qpos[0]` over the env step.

Their rewards do not read contact forces, so they take the cheapest solve (1 Newton
iteration, 4 line-search steps per substep; see `envs.locomotion.base`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx

from envs.locomotion.base import LocomotionEnv, forwarded_options, in_range


class PlanarRunner(LocomotionEnv):
    """Observation and (for the bipeds) health of the planar robots.

    Subclasses set `velocity_clip` (None: no clipping) and, if they can fall,
    `healthy_z_range` / `healthy_angle_range` / `healthy_state_range` through `__init__`.
    """

    velocity_clip: float | None = None
    #: Give the root z slide the torso's initial height as reference (see `_edit_spec`).
    root_z_is_height: bool = False
    #: (distance, elevation in degrees, aim height below the torso) of the side view of the
    #: `track` camera, which follows the centre of mass; None keeps the packaged view.
    side_view: tuple[float, float, float] | None = None

    def __init__(
        self,
        *,
        healthy_z_range: tuple[float, float] = (-float("inf"), float("inf")),
        healthy_angle_range: tuple[float, float] = (-float("inf"), float("inf")),
        healthy_state_range: tuple[float, float] = (-float("inf"), float("inf")),
        **kwargs,
    ):
        self.healthy_z_range = tuple(float(v) for v in healthy_z_range)
        self.healthy_angle_range = tuple(float(v) for v in healthy_angle_range)
        self.healthy_state_range = tuple(float(v) for v in healthy_state_range)
        super().__init__(**kwargs)

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        # Brax removed the root z slide's reference height, so its qpos[1] starts at 0;
        # restoring it (as in Gymnasium's models) makes qpos[1] the torso's height above
        # the floor, the quantity the observation and the healthy range are about.
        if self.root_z_is_height:
            spec.joint("rootz").ref = float(spec.body("torso").pos[2])
        if self.side_view is not None:
            frame_side_view(spec, *self.side_view)

    def _obs(self, data: mjx.Data) -> jax.Array:
        qpos = data.qpos[1:] if self.exclude_current_positions_from_observation else data.qpos
        qvel = data.qvel
        if self.velocity_clip is not None:
            qvel = jnp.clip(qvel, -self.velocity_clip, self.velocity_clip)
        return jnp.concatenate([qpos, qvel])

    def _is_healthy(self, data: mjx.Data) -> jax.Array:
        z, angle = data.qpos[1], data.qpos[2]
        state = jnp.concatenate([data.qpos[2:], data.qvel])
        return (
            in_range(z, self.healthy_z_range)
            & in_range(angle, self.healthy_angle_range)
            & jnp.all(in_range(state, self.healthy_state_range))
        )


def frame_side_view(spec: mujoco.MjSpec, distance: float, elevation: float, below: float) -> None:
    """Points the torso's `track` camera (trackcom) from the side at a point `below` the
    torso's initial position (the middle of the standing body), `distance` away and looking
    down by `elevation` degrees.

    The packaged camera looks level from 0.25 below the torso, so it sinks with the centre
    of mass and sees a fallen robot edge-on at the horizon; looking down from above keeps
    the floor contact and a fallen robot in the frame (the view of Gymnasium's v5 tasks).
    """
    camera = spec.camera("track")
    down = math.radians(elevation)
    camera.pos = [0.0, -distance * math.cos(down), distance * math.sin(down) - below]
    # Rotation about x by 90 - elevation degrees: the camera's -z points along +y, tilted down.
    half = math.radians(90.0 - elevation) / 2
    camera.quat = [math.cos(half), math.sin(half), 0.0, 0.0]


class Hopper(PlanarRunner):
    """One-legged hopper: hop forward without falling (after Gymnasium `Hopper-v5`).

    Observation [11]: torso height and pitch, thigh/leg/foot angles, then the 6 joint
    velocities clipped to ±10. Action [3] in [-1, 1]: thigh, leg and foot torques (gear 200).
    Reward: forward (x-velocity of the root, weight 1) + healthy (1 while healthy) − 1e-3 Σ a².
    Healthy: height > 0.7, |pitch| < 0.2 rad and every entry of (qpos[2:], qvel) within
    ±100; an unhealthy state terminates the episode (option). Success: healthy and moving
    forward faster than `success_speed` (1 m/s) over the step. 1000 steps of 0.008 s
    (4 substeps of 2 ms). Model: Brax's `hopper.xml` (only the foot collides with the
    floor); solver 1 Newton iteration, 4 line-search steps.
    """

    asset = "hopper.xml"
    n_frames = 4
    velocity_clip = 10.0
    root_z_is_height = True
    side_view = (3.0, 20.0, 0.5)

    def __init__(
        self,
        *,
        forward_reward_weight: float = 1.0,
        ctrl_cost_weight: float = 1e-3,
        healthy_reward: float = 1.0,
        terminate_when_unhealthy: bool = True,
        healthy_z_range: tuple[float, float] = (0.7, float("inf")),
        healthy_angle_range: tuple[float, float] = (-0.2, 0.2),
        healthy_state_range: tuple[float, float] = (-100.0, 100.0),
        reset_noise_scale: float = 5e-3,
        exclude_current_positions_from_observation: bool = True,
        success_speed: float = 1.0,
    ):
        super().__init__(**forwarded_options(locals()))


class Walker2d(PlanarRunner):
    """Two-legged planar walker: walk forward without falling (after Gymnasium `Walker2d-v5`).

    Observation [17]: torso height and pitch, the 6 leg joint angles, then the 9 joint
    velocities clipped to ±10. Action [6] in [-1, 1]: right then left thigh, leg, foot
    torques (gear 100). Reward: forward (weight 1) + healthy (1 while healthy) − 1e-3 Σ a².
    Healthy: 0.8 < height < 2 and |pitch| < 1 rad; an unhealthy state terminates the
    episode (option). Success: healthy and faster than `success_speed` (1 m/s). 1000 steps
    of 0.008 s (4 substeps of 2 ms). Model: Brax's `walker2d.xml` (torso and feet collide
    with the floor) with the right foot's friction raised from 0.9 to the left one's 1.9, the
    v5 correction of the older models' mismatched feet; solver 1 Newton iteration, 4
    line-search steps.
    """

    asset = "walker2d.xml"
    n_frames = 4
    velocity_clip = 10.0
    root_z_is_height = True
    side_view = (3.0, 20.0, 0.5)

    def __init__(
        self,
        *,
        forward_reward_weight: float = 1.0,
        ctrl_cost_weight: float = 1e-3,
        healthy_reward: float = 1.0,
        terminate_when_unhealthy: bool = True,
        healthy_z_range: tuple[float, float] = (0.8, 2.0),
        healthy_angle_range: tuple[float, float] = (-1.0, 1.0),
        reset_noise_scale: float = 5e-3,
        exclude_current_positions_from_observation: bool = True,
        success_speed: float = 1.0,
    ):
        super().__init__(**forwarded_options(locals()))

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        super()._edit_spec(spec)
        spec.geom("foot_geom").friction = spec.geom("foot_left_geom").friction
        # The packaged floor takes the robot's brown from the default geom class, which hides
        # the body against it in pictures; grey as in the hopper's model (no physical effect).
        spec.geom("floor").rgba = [0.5, 0.5, 0.5, 1.0]


class HalfCheetah(PlanarRunner):
    """Planar cheetah: run forward as fast as possible (after Gymnasium `HalfCheetah-v5`).

    Observation [17]: torso height and pitch, the 6 leg joint angles, then the 9 joint
    velocities (unclipped). Action [6] in [-1, 1]: back then front thigh, shin, foot torques.
    Reward: forward (x-velocity of the root, weight 1) − 0.1 Σ a²; no healthy term and no
    termination (the cheetah cannot fall over for good). Success: faster than
    `success_speed` (2 m/s) over the step. 1000 steps of 0.05 s (5 substeps of 10 ms).
    Model: Brax's `half_cheetah.xml` (head, thighs and feet collide with the floor);
    solver 1 Newton iteration, 4 line-search steps. Reset velocities get Gaussian noise.
    """

    asset = "half_cheetah.xml"
    n_frames = 5
    velocity_noise = "normal"

    def __init__(
        self,
        *,
        forward_reward_weight: float = 1.0,
        ctrl_cost_weight: float = 0.1,
        reset_noise_scale: float = 0.1,
        exclude_current_positions_from_observation: bool = True,
        success_speed: float = 2.0,
    ):
        super().__init__(**forwarded_options(locals()))
