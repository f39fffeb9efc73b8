"""Action distributions for policy-gradient learners.

- `NormalClip`: a diagonal Gaussian whose samples are clipped to [-1, 1] by the env
  (log-probabilities and entropy are those of the unclipped Gaussian, as in most PPO code).
- `TanhNormal`: a diagonal Gaussian squashed by tanh; log-probabilities include the
  change-of-variables term, entropy is a one-sample estimate (no closed form exists).
- `Categorical`: for discrete actions.

Each is a tiny pytree-free helper: `dist(params)` -> object with `sample`, `log_prob`,
`entropy`, `mode`, all shape-polymorphic over leading batch axes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


@dataclass(frozen=True)
class NormalClip:
    mean: jax.Array  # [..., A]
    log_std: jax.Array  # [..., A]

    def sample(self, rng):
        return self.mean + jnp.exp(self.log_std) * jax.random.normal(rng, self.mean.shape)

    def log_prob(self, x):
        z = (x - self.mean) * jnp.exp(-self.log_std)
        return jnp.sum(-0.5 * z**2 - self.log_std - 0.5 * math.log(2 * math.pi), axis=-1)

    def entropy(self, rng=None):
        return jnp.sum(self.log_std + 0.5 * (1.0 + math.log(2 * math.pi)), axis=-1)

    def mode(self):
        return self.mean

    @staticmethod
    def to_env(x):
        return jnp.clip(x, -1.0, 1.0)


@dataclass(frozen=True)
class TanhNormal:
    """Samples are pre-tanh values; `to_env` squashes them. Keeping the pre-tanh value in
    the rollout avoids the numerically unstable atanh of actions at ±1."""

    mean: jax.Array
    log_std: jax.Array

    def sample(self, rng):
        return self.mean + jnp.exp(self.log_std) * jax.random.normal(rng, self.mean.shape)

    def log_prob(self, u):
        base = NormalClip(self.mean, self.log_std).log_prob(u)
        # log|d tanh(u)/du| = 2 (log 2 - u - softplus(-2u)), stable for large |u|.
        log_det = jnp.sum(2.0 * (math.log(2.0) - u - jax.nn.softplus(-2.0 * u)), axis=-1)
        return base - log_det

    def entropy(self, rng):
        return -self.log_prob(self.sample(rng))

    def mode(self):
        return self.mean

    @staticmethod
    def to_env(u):
        return jnp.tanh(u)


@dataclass(frozen=True)
class Categorical:
    logits: jax.Array  # [..., n]

    def sample(self, rng):
        return jax.random.categorical(rng, self.logits)

    def log_prob(self, a):
        logp = jax.nn.log_softmax(self.logits)
        return jnp.take_along_axis(logp, a[..., None].astype(jnp.int32), axis=-1)[..., 0]

    def entropy(self, rng=None):
        logp = jax.nn.log_softmax(self.logits)
        return -jnp.sum(jnp.exp(logp) * logp, axis=-1)

    def mode(self):
        return jnp.argmax(self.logits, axis=-1)

    @staticmethod
    def to_env(a):
        return a


KINDS = ("normal_clip", "tanh_normal")


def make(kind: str, head: jax.Array, log_std: jax.Array | None = None):
    """Builds a distribution from a policy network's output.

    kind: "categorical", "normal_clip" or "tanh_normal". For Gaussians `head` is the mean
    and `log_std` a state-independent parameter.
    """
    if kind == "categorical":
        return Categorical(head)
    log_std = jnp.clip(jnp.broadcast_to(log_std, head.shape), LOG_STD_MIN, LOG_STD_MAX)
    if kind == "normal_clip":
        return NormalClip(head, log_std)
    if kind == "tanh_normal":
        return TanhNormal(head, log_std)
    raise ValueError(f"unknown distribution {kind!r}; valid: categorical, {', '.join(KINDS)}")


def kl_divergence(p, q) -> jax.Array:
    """KL(p ‖ q) [...] between two distributions of the same kind, in closed form.

    For `TanhNormal` it is the KL of the pre-tanh Gaussians: tanh is a bijection, and KL is
    invariant under bijections of the sample space.
    """
    if isinstance(p, Categorical):
        logp, logq = jax.nn.log_softmax(p.logits), jax.nn.log_softmax(q.logits)
        return jnp.sum(jnp.exp(logp) * (logp - logq), axis=-1)
    var_p, var_q = jnp.exp(2.0 * p.log_std), jnp.exp(2.0 * q.log_std)
    return jnp.sum(q.log_std - p.log_std + (var_p + (p.mean - q.mean) ** 2) / (2.0 * var_q) - 0.5, axis=-1)
