"""Planar two-link reacher simulated with MuJoCo MJX, after Gymnasium's `Reacher-v5`.

The task, observation and reward follow Gymnasium Reacher-v5; the MJCF model
(`assets/reacher.xml`) is our own, with contacts disabled and Euler integration so that a
batch of MJX environments runs fast on CPU.

- Action: [2] in [-1, 1], the two joint torques (motor gear 200, ctrlrange [-1, 1], so the
  action is the control directly). Two physics steps of 0.01 s per env step.
- Observation [10]: cos q, sin q of the two arm joints, target xy, arm joint velocities (2),
  fingertip − target in the plane (2).
- Reward: "reward/distance" = −‖fingertip − target‖ and "reward/control" = −Σ a²
  (weight 1.0, the Reacher-v5 default), measured after the step as in v5; our fingertip and
  target positions are refreshed after the physics substeps, Gymnasium's are one substep
  old (docs/gymnasium-parity.md).
- Reset: arm angles and velocities with small uniform noise; target uniform in the disc
  of radius 0.2 around the shoulder (sampled by angle and radius, no rejection loop).
- Success: fingertip within 0.02 of the target (about the two spheres touching).
- Sparse variant (`sparse=True`, registered as `reacher_sparse`): the reward is the success
  indicator alone, "reward/success" 1.0 within 0.02 of the target, else 0; the dense terms
  are still logged, as "shaping/distance" and "shaping/control" (not reward terms).
- No termination: episodes end by truncation at 50 steps, as Reacher-v5.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx

from envs.core import Env, State, info_defaults
from envs.rendering.mjx_scene import MjxRendering

XML_PATH = os.path.join(os.path.dirname(__file__), "assets", "reacher.xml")
N_FRAMES = 2
TARGET_RADIUS = 0.2
ARM_ANGLE_NOISE = 0.1
ARM_VELOCITY_NOISE = 0.005
SUCCESS_RADIUS = 0.02


class Reacher(MjxRendering, Env):
    """Move a two-link arm's fingertip onto a randomly placed target (MJX physics).

    Attributes:
      mj_model: the MuJoCo `MjModel` (for rendering and CPU-side tools).
      mjx_model: the same model on the accelerator, as `mjx.step` takes it.

    Args:
      control_weight: weight of the −Σ a² control term in the reward.
      sparse: reward 1.0 within the success radius and 0 elsewhere (no control cost).
    """

    action_space = "continuous"
    default_episode_length = 50
    family = "manipulation"

    def __init__(self, control_weight: float = 1.0, sparse: bool = False):
        self.control_weight = float(control_weight)
        self.sparse = bool(sparse)
        self.mj_model = mujoco.MjModel.from_xml_path(XML_PATH)
        self.mjx_model = mjx.put_model(self.mj_model)
        self._fingertip = mujoco.mj_name2id(self.mj_model, mujoco.mjtObj.mjOBJ_SITE, "fingertip")
        self._target = mujoco.mj_name2id(self.mj_model, mujoco.mjtObj.mjOBJ_SITE, "target")

    @property
    def backend(self) -> str:
        return "mjx"

    @property
    def observation_size(self) -> int:
        return 10

    @property
    def action_size(self) -> int:
        return 2

    def fingertip_to_target(self, data: mjx.Data) -> jax.Array:
        """[2]: fingertip − target in the arm's plane, from the data's site positions."""
        return (data.site_xpos[self._fingertip] - data.site_xpos[self._target])[:2]

    def _obs(self, data: mjx.Data) -> jax.Array:
        arm_q = data.qpos[:2]
        return jnp.concatenate(
            [jnp.cos(arm_q), jnp.sin(arm_q), data.qpos[2:], data.qvel[:2], self.fingertip_to_target(data)]
        )

    def reset(self, rng: jax.Array) -> State:
        arm_key, vel_key, angle_key, radius_key = jax.random.split(rng, 4)
        arm_q = jax.random.uniform(arm_key, (2,), minval=-ARM_ANGLE_NOISE, maxval=ARM_ANGLE_NOISE)
        arm_v = jax.random.uniform(vel_key, (2,), minval=-ARM_VELOCITY_NOISE, maxval=ARM_VELOCITY_NOISE)
        angle = jax.random.uniform(angle_key, (), minval=-jnp.pi, maxval=jnp.pi)
        # sqrt makes the target uniform over the disc's area, not bunched at its centre.
        radius = TARGET_RADIUS * jnp.sqrt(jax.random.uniform(radius_key, ()))
        target = radius * jnp.stack([jnp.cos(angle), jnp.sin(angle)])
        data = mjx.make_data(self.mjx_model).replace(
            qpos=jnp.concatenate([arm_q, target]), qvel=jnp.concatenate([arm_v, jnp.zeros(2)])
        )
        # Site positions are only valid after kinematics; the first obs needs them.
        data = mjx.kinematics(self.mjx_model, data)
        zero = jnp.zeros(())
        metrics = self._metrics(zero, zero, zero)
        return State(data, self._obs(data), zero, zero, metrics, info_defaults())

    def _metrics(self, distance_term, control_term, success):
        """The reward terms (dense) or the success term plus shaping diagnostics (sparse)."""
        if self.sparse:
            return {"reward/success": success, "shaping/distance": distance_term, "shaping/control": control_term,
                    "success": success}
        return {"reward/distance": distance_term, "reward/control": control_term, "success": success}

    def step(self, state: State, action: jax.Array) -> State:
        """action: [2] joint torques in [-1, 1]."""
        action = jnp.clip(action, -1.0, 1.0)
        data = state.pipeline_state.replace(ctrl=action)
        data = jax.lax.fori_loop(0, N_FRAMES, lambda _, d: mjx.step(self.mjx_model, d), data)
        # mjx.step leaves site positions at the pre-integration pose; refresh them so that
        # obs and reward describe the state after this step.
        data = mjx.kinematics(self.mjx_model, data)
        distance = jnp.linalg.norm(self.fingertip_to_target(data))
        control_term = -self.control_weight * jnp.sum(action**2)
        success = (distance < SUCCESS_RADIUS).astype(jnp.float32)
        reward = success if self.sparse else -distance + control_term
        metrics = self._metrics(-distance, control_term, success)
        return state.replace(
            pipeline_state=data, obs=self._obs(data), reward=reward, done=jnp.zeros(()), metrics=metrics
        )
