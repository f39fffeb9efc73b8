"""Random permutations for minibatching, without a comparison sort.

`jax.random.permutation(key, n)` sorts random keys, twice for n in the thousands (it
sorts as many rounds as it takes to make ties between 32-bit keys unlikely). XLA:CPU
compiles a sort as a generic merge sort that calls a compiled comparator per comparison:
measured on a 2-core CPU, one permutation of 8192 indices took 8.2 ms and one argsort of
random bits 4.0 ms, while `lax.top_k` over all n float32 keys — which XLA:CPU runs as a
native partial sort — took 0.3 ms. PPO permutes its whole rollout once per epoch, so at
256 envs x 32 steps and 4 epochs the two sorts were a quarter of PPO's update
(benchmarks/results/ppo_throughput.md).

`permutation` orders n random float32 keys with `lax.top_k`. The keys are the top 24
random bits of each index, exactly representable in float32, so they are equiprobable;
with 2**24 values, about n**2 / 2**25 pairs tie per draw (two for n = 8192), and a tie
keeps its two indices in a fixed relative order — adjacent positions, almost always in
the same minibatch, so the minibatches are uniform random subsets for every purpose of
stochastic gradient descent. Same function on every backend (on accelerators `top_k`
over all keys is a sort, as `jax.random.permutation` is).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def permutation(key: jax.Array, n: int) -> jax.Array:
    """A random permutation of `arange(n)` (int32 [n]); vmappable and jittable."""
    keys = (jax.random.bits(key, (n,), jnp.uint32) >> 8).astype(jnp.float32)
    return jax.lax.top_k(keys, n)[1]
