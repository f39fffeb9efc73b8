"""Cart-pole swing-up: swing a hanging pole up by moving the cart, then balance it, centred.

The task and reward shape of DM Control's `cartpole/swingup` and `swingup_sparse` (Tassa et
al., "DeepMind Control Suite", 2018) on the pure-JAX cart-pole of `cartpole.py` (Gymnasium's
constants and Florian's 2007 equations: cart 1 kg, pole 0.1 kg with half-length 0.5 m)
instead of MuJoCo physics. Deliberate deviations from DM Control: those physics; semi-implicit
Euler with dt = 0.01 (velocities first, so the swinging pole keeps its energy); the cart
stops dead at the rail ends |x| = 2.4 (its velocity is zeroed, the pole feels no impulse).

- Observation [5]: x, cos θ, sin θ, ẋ, θ̇ (θ = 0 is upright).
- Action [1] in [-1, 1]: the force on the cart, 10 N × action.
- Reset: the pole hangs down, θ = π, with x, θ, ẋ, θ̇ perturbed by N(0, 0.01²) noise.
- Dense reward (DM Control's product of smooth terms, each in [0, 1]):
  upright · centred · small_control · small_velocity with upright = (cos θ + 1)/2,
  centred = (1 + 0.1^((x/2)²))/2, small_control = (4 + max(0, 1 − a²))/5 and
  small_velocity = (1 + 0.1^((θ̇/5)²))/2. Being a product, it is logged as one term
  "reward/swingup"; the factors appear as "factor/<name>" (not reward terms).
- Sparse reward (`sparse=True`): "reward/goal" 1.0 when cos θ > 0.995 and |x| < 0.25
  (DM Control's bounds), else 0.
- Success: that same upright-and-centred predicate, in both variants.
- No termination; episodes are truncated at 1000 steps (10 s), as DM Control.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.classic.cartpole import POLE_HALF_LENGTH, accelerations
from envs.core import Env, State, info_defaults
from envs.rendering import drawings

DT = 0.01
MAX_FORCE = 10.0
RAIL_LIMIT = 2.4
RESET_NOISE = 0.01
UPRIGHT_COSINE = 0.995
CENTRED_LIMIT = 0.25
FACTORS = ("factor/upright", "factor/centred", "factor/small_control", "factor/small_velocity")


def _gaussian_tolerance(x: jax.Array, margin: float) -> jax.Array:
    """1 at x = 0, falling as a Gaussian to 0.1 at |x| = margin (DM Control's `tolerance`)."""
    return 0.1 ** ((x / margin) ** 2)


class CartPoleSwingUp(Env):
    """Swing up and balance a pole on a cart (continuous force; DM Control cartpole swingup).

    Args:
      sparse: reward 1.0 only when upright and centred, instead of the dense product.
    """

    action_space = "continuous"
    default_episode_length = 1000
    family = "classic"

    def __init__(self, sparse: bool = False):
        self.sparse = bool(sparse)
        self._reward_key = "reward/goal" if self.sparse else "reward/swingup"

    @property
    def observation_size(self) -> int:
        return 5

    @property
    def action_size(self) -> int:
        return 1

    def render_scene(self, state: State, camera=None):
        """Side view of cart, pole and rail (envs/rendering/drawings.py)."""
        x, theta = state.pipeline_state[0], state.pipeline_state[2]
        view = drawings.side_camera(0.0, 0.0, RAIL_LIMIT + 0.4)
        return drawings.cartpole(x, theta, RAIL_LIMIT, 2 * POLE_HALF_LENGTH), drawings.choose_camera(camera, view)

    @staticmethod
    def _obs(q: jax.Array) -> jax.Array:
        x, x_dot, theta, theta_dot = q
        return jnp.stack([x, jnp.cos(theta), jnp.sin(theta), x_dot, theta_dot])

    def _metrics(self, reward, factors, success):
        return {self._reward_key: reward, **dict(zip(FACTORS, factors)), "success": success}

    def reset(self, rng: jax.Array) -> State:
        # pipeline_state: [x, ẋ, θ, θ̇]
        q = jnp.array([0.0, 0.0, jnp.pi, 0.0]) + RESET_NOISE * jax.random.normal(rng, (4,))
        zero = jnp.zeros(())
        return State(q, self._obs(q), zero, zero, self._metrics(zero, (zero,) * 4, zero), info_defaults())

    def step(self, state: State, action: jax.Array) -> State:
        """action: [1] force in [-1, 1]."""
        a = jnp.clip(action[0], -1.0, 1.0)
        x, x_dot, theta, theta_dot = state.pipeline_state
        x_acc, theta_acc = accelerations(theta, theta_dot, MAX_FORCE * a)
        x_dot, theta_dot = x_dot + DT * x_acc, theta_dot + DT * theta_acc
        x, theta = x + DT * x_dot, theta + DT * theta_dot
        at_rail_end = jnp.abs(x) > RAIL_LIMIT
        x, x_dot = jnp.clip(x, -RAIL_LIMIT, RAIL_LIMIT), jnp.where(at_rail_end, 0.0, x_dot)
        q = jnp.stack([x, x_dot, theta, theta_dot])

        cos = jnp.cos(theta)
        factors = (
            (cos + 1.0) / 2.0,
            (1.0 + _gaussian_tolerance(x, 2.0)) / 2.0,
            (4.0 + jnp.maximum(0.0, 1.0 - a**2)) / 5.0,
            (1.0 + _gaussian_tolerance(theta_dot, 5.0)) / 2.0,
        )
        success = ((cos > UPRIGHT_COSINE) & (jnp.abs(x) < CENTRED_LIMIT)).astype(jnp.float32)
        reward = success if self.sparse else factors[0] * factors[1] * factors[2] * factors[3]
        return state.replace(
            pipeline_state=q,
            obs=self._obs(q),
            reward=reward,
            done=jnp.zeros(()),
            metrics=self._metrics(reward, factors, success),
        )
