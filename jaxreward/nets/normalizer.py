"""Running mean / variance of observations (parallel Welford merge, Chan et al. 1979), and
the running discounted return whose spread scales a reward (PPO's reward normalisation,
RND's bonus)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Normalizer:
    mean: jax.Array  # [D]
    var: jax.Array  # [D]
    count: jax.Array  # []

    @classmethod
    def create(cls, dim: int) -> "Normalizer":
        return cls(jnp.zeros((dim,)), jnp.ones((dim,)), jnp.zeros(()))

    def update(self, x: jax.Array) -> "Normalizer":
        """x: [..., D] — every leading axis is a batch axis."""
        x = x.reshape(-1, x.shape[-1])
        n = x.shape[0]
        batch_mean = jnp.mean(x, axis=0)
        batch_var = jnp.var(x, axis=0)
        total = self.count + n
        delta = batch_mean - self.mean
        mean = self.mean + delta * n / total
        m2 = self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        return Normalizer(mean, m2 / total, total)

    def __call__(self, x: jax.Array, clip: float = 10.0) -> jax.Array:
        return jnp.clip((x - self.mean) / jnp.sqrt(self.var + 1e-8), -clip, clip)


def discounted_returns(
    trace0: jax.Array, rewards: jax.Array, gamma: float | jax.Array, dones: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
    """Each env's running discounted return R_t = r_t + γ·R_{t−1}.

    trace0: [B] R before the batch; rewards: [T, B]; dones: [T, B] restarts the return after
    a step that ended an episode, or None for a return that is never restarted (a
    non-episodic stream). Returns (R [T, B], R after the last step [B], already restarted
    where the last step ended an episode).
    """
    if dones is None:

        def step(acc, r):
            acc = gamma * acc + r
            return acc, acc

        last, returns = jax.lax.scan(step, trace0, rewards)
        return returns, last

    def step_with_restarts(acc, xs):
        r, done = xs
        acc = gamma * acc + r
        return acc * (1.0 - done), acc

    last, returns = jax.lax.scan(step_with_restarts, trace0, (rewards, dones))
    return returns, last
