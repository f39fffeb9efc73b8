"""Pendulum swing-up, the dynamics and reward of Gymnasium's `Pendulum-v1`.

Observation [cos θ, sin θ, θ̇]; action in [-1, 1] scaled to a torque in [-2, 2];
reward −(θ² + 0.1 θ̇² + 0.001 u²) with θ normalised to [−π, π). No termination: episodes
end by truncation at 200 steps. Success: upright (|θ| < 0.1 rad) at the step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.core import Env, State, info_defaults
from envs.rendering import drawings

MAX_SPEED = 8.0
MAX_TORQUE = 2.0
DT = 0.05
GRAVITY = 10.0
MASS = 1.0
LENGTH = 1.0


def _angle_normalize(x):
    return ((x + jnp.pi) % (2 * jnp.pi)) - jnp.pi


class Pendulum(Env):
    action_space = "continuous"
    default_episode_length = 200
    family = "classic"

    @property
    def observation_size(self) -> int:
        return 3

    @property
    def action_size(self) -> int:
        return 1

    def _obs(self, q):
        theta, theta_dot = q[0], q[1]
        return jnp.stack([jnp.cos(theta), jnp.sin(theta), theta_dot])

    def render_scene(self, state: State, camera=None):
        """Side view of the pole (envs/rendering/drawings.py)."""
        return drawings.pendulum(state.pipeline_state[0]), drawings.choose_camera(camera, drawings.side_camera(0.0, 0.0, 1.4))

    def reset(self, rng: jax.Array) -> State:
        q = jax.random.uniform(rng, (2,), minval=jnp.array([-jnp.pi, -1.0]), maxval=jnp.array([jnp.pi, 1.0]))
        zero = jnp.zeros(())
        metrics = {"reward/angle": zero, "reward/velocity": zero, "reward/control": zero, "success": zero}
        return State(q, self._obs(q), zero, zero, metrics, info_defaults())

    def step(self, state: State, action: jax.Array) -> State:
        theta, theta_dot = state.pipeline_state[0], state.pipeline_state[1]
        u = jnp.clip(action[0], -1.0, 1.0) * MAX_TORQUE
        angle = _angle_normalize(theta)
        terms = {
            "reward/angle": -(angle**2),
            "reward/velocity": -0.1 * theta_dot**2,
            "reward/control": -0.001 * u**2,
        }
        reward = terms["reward/angle"] + terms["reward/velocity"] + terms["reward/control"]
        new_theta_dot = theta_dot + (3 * GRAVITY / (2 * LENGTH) * jnp.sin(theta) + 3.0 / (MASS * LENGTH**2) * u) * DT
        new_theta_dot = jnp.clip(new_theta_dot, -MAX_SPEED, MAX_SPEED)
        new_theta = theta + new_theta_dot * DT
        q = jnp.stack([new_theta, new_theta_dot])
        metrics = dict(terms, success=(jnp.abs(_angle_normalize(new_theta)) < 0.1).astype(jnp.float32))
        return state.replace(pipeline_state=q, obs=self._obs(q), reward=reward, done=jnp.zeros(()), metrics=metrics)
