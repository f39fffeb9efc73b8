"""A uniform replay buffer that lives on the device, as a pytree.

Written here rather than taken from a buffer library: it is ~60 lines, a plain pytree (so
orbax checkpoints it with the rest of the `TrainState` and `vmap` batches it over seeds),
and it needs no extra dependency. Capacity is fixed at creation; inserts wrap around and
overwrite the oldest items; sampling draws only from filled slots.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class ReplayBuffer:
    data: dict  # name -> [capacity, ...]
    position: jax.Array  # [] int32, next slot to write
    size: jax.Array  # [] int32, filled slots (<= capacity)

    @property
    def capacity(self) -> int:
        return jax.tree.leaves(self.data)[0].shape[0]


def create(example: dict, capacity: int) -> ReplayBuffer:
    """An empty buffer for items shaped like `example` (one item, no leading axis)."""
    if capacity <= 0:
        raise ValueError(f"replay capacity must be positive, got {capacity}")
    data = jax.tree.map(lambda x: jnp.zeros((capacity,) + jnp.shape(x), jnp.asarray(x).dtype), example)
    return ReplayBuffer(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def add(buffer: ReplayBuffer, items: dict) -> ReplayBuffer:
    """Inserts `items` (leading axis N <= capacity), overwriting the oldest when full."""
    n = jax.tree.leaves(items)[0].shape[0]
    cap = buffer.capacity
    if n > cap:
        raise ValueError(f"cannot insert {n} items into a replay buffer of capacity {cap}")
    idx = (buffer.position + jnp.arange(n)) % cap
    data = jax.tree.map(lambda store, x: store.at[idx].set(x.astype(store.dtype)), buffer.data, items)
    return ReplayBuffer(data, (buffer.position + n) % cap, jnp.minimum(buffer.size + n, cap))


def sample(buffer: ReplayBuffer, rng: jax.Array, batch_size: int) -> dict:
    """`batch_size` items drawn uniformly (with replacement) from the filled slots."""
    idx = jax.random.randint(rng, (batch_size,), 0, jnp.maximum(buffer.size, 1))
    return jax.tree.map(lambda store: store[idx], buffer.data)
