"""Random permutations for minibatching, without a sort.

`jax.random.permutation(key, n)` sorts random keys (twice for n in the thousands). XLA:CPU
compiles a sort as a merge sort that calls a compiled comparator per comparison, which made
the sorts a sizeable share of PPO's update, since PPO permutes its whole rollout once per
epoch (measurements in `benchmarks/results/ppo_findings.md`).

`permutation` needs no sort: it applies a keyed pseudo-random bijection of the integers
[0, 2**b), 2**b >= n, to `arange(2**b)` — a Feistel network on the two halves of each
index's bits (24 rounds; each round XORs one half with a 32-bit hash of the other half and
a random round key) — and, when n is not a power of two, keeps the images below n in
their order (a random ordering of [0, 2**b) restricted to [0, n) is a random ordering of
[0, n)). Everything is elementwise, and the same function runs on every backend.

How random: the tests check every element's position and, for n = 5, the frequency of each
of the 120 permutations by chi-square tests (8 rounds instead of 24 fail the latter: chi-
square 478 in the test's 30000 draws, against a limit of 180). One exact restriction: when n
is a power of two of at least 16, both halves have at least 2 bits and every round is an
even permutation, so only even permutations occur; the even permutations of n elements move
any n - 2 of them to every possible set of positions equally often, so no minibatch
statistic can tell.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

ROUNDS = 24


def _hash(x: jax.Array) -> jax.Array:
    """A 32-bit integer mixing function (xor-shift-multiply; good avalanche)."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x21F0AAAD)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x735A2D97)
    return x ^ (x >> 15)


def permutation(key: jax.Array, n: int) -> jax.Array:
    """A random permutation of `arange(n)` (int32 [n]); vmappable and jittable."""
    if n <= 1:
        return jnp.zeros((max(n, 0),), jnp.int32)
    bits = (n - 1).bit_length()
    lo_bits = bits // 2
    hi_mask = jnp.uint32((1 << (bits - lo_bits)) - 1)
    lo_mask = jnp.uint32((1 << lo_bits) - 1)
    round_keys = jax.random.bits(key, (ROUNDS,), jnp.uint32)
    x = jnp.arange(1 << bits, dtype=jnp.uint32)
    hi, lo = x >> lo_bits, x & lo_mask
    for r in range(ROUNDS):
        if r % 2 == 0:
            hi = hi ^ (_hash(lo ^ round_keys[r]) & hi_mask)
        else:
            lo = lo ^ (_hash(hi ^ round_keys[r]) & lo_mask)
    images = ((hi << lo_bits) | lo).astype(jnp.int32)
    if (1 << bits) == n:
        return images
    keep = images < n
    slot = jnp.where(keep, jnp.cumsum(keep) - 1, n)  # n: dropped
    return jnp.zeros((n,), jnp.int32).at[slot].set(images, mode="drop", unique_indices=True)


def take_rows(tree, idx: jax.Array):
    """`jax.tree.map(lambda x: x[idx], tree)` for leaves [n, ...] and int indices idx [...],
    done as one gather per dtype: the leaves are laid side by side as columns of an [n, k]
    matrix, whose rows are gathered together and split again. XLA:CPU gathers a row of k
    floats about as fast as one float, so this costs about a single gather instead of one
    per field (`benchmarks/results/ppo_findings.md`).
    """
    leaves, treedef = jax.tree.flatten(tree)
    n = leaves[0].shape[0]
    out: list = [None] * len(leaves)
    by_dtype: dict = {}
    for i, leaf in enumerate(leaves):
        if leaf.shape[:1] != (n,):
            raise ValueError(f"take_rows: every leaf needs the same leading size {n}, got shape {leaf.shape}")
        by_dtype.setdefault(leaf.dtype, []).append(i)
    for group in by_dtype.values():
        columns = jnp.concatenate([leaves[i].reshape(n, -1) for i in group], axis=1)
        rows = columns[idx]
        start = 0
        for i in group:
            width = leaves[i].reshape(n, -1).shape[1]
            out[i] = rows[..., start : start + width].reshape(idx.shape + leaves[i].shape[1:])
            start += width
    return jax.tree.unflatten(treedef, out)
