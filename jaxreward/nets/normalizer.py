"""Running mean / variance of observations (parallel Welford merge, Chan et al. 1979)."""

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
