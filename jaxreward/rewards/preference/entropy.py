"""The state-entropy bonus of PEBBLE's unsupervised pre-training.

Lee, Smith, Abbeel, "PEBBLE: Feedback-Efficient Interactive Reinforcement Learning via
Relabeling Experience and Unsupervised Pre-training" (ICML 2021), after Liu & Abbeel's
APT: before any feedback the agent maximises a particle estimate of its state entropy,
r_int(s) = ‖s − s^k‖, the distance to the k-th nearest neighbour (k = 5) among recent
states, divided by a running standard deviation of the bonus. This gives the first
queries diverse behaviour to compare.

Deviation: the neighbours are the reward model's segment window (the last L steps of
every env) instead of a random sample of the replay buffer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def knn_distance(states: jax.Array, memory: jax.Array, k: int) -> jax.Array:
    """states: [N, D], memory: [M, D] -> [N] distance to the k-th nearest memory entry.

    A state that is itself in the memory has itself at distance 0 as its first neighbour,
    as in PEBBLE's implementation, which computes the k-th distance within one batch.
    """
    d2 = jnp.sum((states[:, None, :] - memory[None, :, :]) ** 2, axis=-1)
    # top_k of −d² gives the k smallest distances; the k-th one is the last.
    kth = -jax.lax.top_k(-d2, k)[0][:, -1]
    return jnp.sqrt(jnp.maximum(kth, 0.0))
