"""Cart-pole balancing with the dynamics, reward and termination of Gymnasium's `CartPole-v1`.

Source of the constants and equations: Gymnasium `CartPole-v1` (itself Barto, Sutton &
Anderson, "Neuronlike adaptive elements that can solve difficult learning control problems",
1983): explicit Euler integration with tau = 0.02 s, force magnitude 10 N, cart mass 1.0,
pole mass 0.1, pole half-length 0.5, gravity 9.8.

Observation [x, ẋ, θ, θ̇]; discrete action 0 = push left, 1 = push right (an int32 scalar).
"Upright" below means |x| ≤ 2.4 and |θ| ≤ 12° after the step (Gymnasium's non-terminal states).

- `terminate=True` (default, Gymnasium): reward 1.0 on every step, the terminating one
  included ("reward/alive"). The episode terminates when the state is not upright;
  otherwise it is truncated at 500 steps.
- `terminate=False` (the CartPole of Rocamonde et al., "Vision-Language Models are Zero-Shot
  Reward Models for RL", ICLR 2024): no termination; the episode runs to the time limit and
  the pole may fall and swing. As in their environment (AlignmentResearch/vlmrm,
  `CLIPRewardedCartPoleEnv`) θ is wrapped into [−π, π] and x is clipped to [−2.4, 2.4]
  after each step (the velocities are kept), so the cart stays in view. The gold reward is
  1.0 on upright steps and 0.0 otherwise ("reward/upright"), so the gold return counts the
  upright steps; their success metric is this same predicate. (Their CartPole runs use
  200-step episodes: pass `episode_length=200`; the default stays 500.)

Success (both variants): the state after the step is upright.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from envs.core import Env, State, info_defaults
from envs.rendering import drawings

GRAVITY = 9.8
CART_MASS = 1.0
POLE_MASS = 0.1
TOTAL_MASS = CART_MASS + POLE_MASS
POLE_HALF_LENGTH = 0.5
POLE_MASS_LENGTH = POLE_MASS * POLE_HALF_LENGTH
FORCE = 10.0
TAU = 0.02
X_LIMIT = 2.4
THETA_LIMIT = 12 * 2 * math.pi / 360
RESET_NOISE = 0.05


def accelerations(theta: jax.Array, theta_dot: jax.Array, force: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(ẍ, θ̈) of the frictionless cart-pole under a horizontal force on the cart; θ = 0 is upright.

    The equations of Florian, "Correct equations for the dynamics of the cart-pole system"
    (2007), the reference Gymnasium cites; also used by the swing-up task.
    """
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    temp = (force + POLE_MASS_LENGTH * theta_dot**2 * sin) / TOTAL_MASS
    theta_acc = (GRAVITY * sin - cos * temp) / (POLE_HALF_LENGTH * (4.0 / 3.0 - POLE_MASS * cos**2 / TOTAL_MASS))
    x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS
    return x_acc, theta_acc


class CartPole(Env):
    """Balance a pole on a cart by pushing the cart left or right (Gymnasium CartPole-v1).

    Args:
      terminate: end the episode when the pole falls or the cart leaves the rail (Gymnasium).
        False: never terminate, reward 1 only while upright (Rocamonde et al. 2024).
    """

    action_space = "discrete"
    default_episode_length = 500
    family = "classic"

    def __init__(self, terminate: bool = True):
        self.terminate = bool(terminate)

    @property
    def observation_size(self) -> int:
        return 4

    @property
    def action_size(self) -> int:
        return 2

    def render_scene(self, state: State, camera=None):
        """Side view of cart, pole and rail (envs/rendering/drawings.py)."""
        x, theta = state.pipeline_state[0], state.pipeline_state[2]
        view = drawings.side_camera(0.0, 0.4, X_LIMIT + 0.4)
        return drawings.cartpole(x, theta, X_LIMIT, 2 * POLE_HALF_LENGTH), drawings.choose_camera(camera, view)

    def reset(self, rng: jax.Array) -> State:
        q = jax.random.uniform(rng, (4,), minval=-RESET_NOISE, maxval=RESET_NOISE)
        zero = jnp.zeros(())
        metrics = {self._reward_key: zero, "success": zero}
        return State(q, q, zero, zero, metrics, info_defaults())

    def step(self, state: State, action: jax.Array) -> State:
        """action: int scalar in {0, 1} (any shape with one element is accepted)."""
        x, x_dot, theta, theta_dot = state.pipeline_state
        force = jnp.where(jnp.reshape(action, ()) == 1, FORCE, -FORCE)
        x_acc, theta_acc = accelerations(theta, theta_dot, force)
        # Explicit Euler: positions advance with the *old* velocities, as in Gymnasium.
        q = jnp.stack([x + TAU * x_dot, x_dot + TAU * x_acc, theta + TAU * theta_dot, theta_dot + TAU * theta_acc])
        upright = ((jnp.abs(q[0]) <= X_LIMIT) & (jnp.abs(q[2]) <= THETA_LIMIT)).astype(jnp.float32)
        if self.terminate:
            reward, done = jnp.ones(()), 1.0 - upright
        else:
            # Judged before wrapping and clipping, so pushing into a rail end is not upright.
            # Wrapped only past ±π, so that an upright pole's θ is never touched by rounding.
            theta = jnp.where(jnp.abs(q[2]) > jnp.pi, jnp.mod(q[2] + jnp.pi, 2 * jnp.pi) - jnp.pi, q[2])
            q = jnp.stack([jnp.clip(q[0], -X_LIMIT, X_LIMIT), q[1], theta, q[3]])
            reward, done = upright, jnp.zeros(())
        metrics = {self._reward_key: reward, "success": upright}
        return state.replace(pipeline_state=q, obs=q, reward=reward, done=done, metrics=metrics)

    @property
    def _reward_key(self) -> str:
        return "reward/alive" if self.terminate else "reward/upright"
