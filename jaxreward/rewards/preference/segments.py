"""Where queries come from and where answers go: the segment window and the pair buffer.

Segments are fixed-length pieces σ = (x_t, …, x_{t+H−1}) of the agent's own experience,
x the reward model's per-step input. The reward model keeps a *window* of the last L steps
of every environment (L ≥ H), pushed with each rollout, and draws segments from it. With
PPO (T ≥ H steps per rollout) the window is simply the latest rollout; with SAC (T = 1)
it is the recent past of each env, a small on-device stand-in for sampling the replay
buffer (the reward contract does not see the learner's buffer). Segments may span an
auto-reset, as in the `imitation` library's fragmenter when episodes are short; a return
over such a segment is still the sum of its steps, which is all Bradley–Terry uses.
With a mixture-of-users teacher the window also keeps the per-step rewards of the env's
reward terms the users weigh (`terms`), from which each user's utility is computed.

Labelled pairs live in a bounded ring buffer inside the reward state: inserting beyond
its capacity overwrites the oldest pairs, so memory never grows with the label budget.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class SegmentWindow:
    """The last L steps of every env. Newest step last."""

    inputs: jax.Array  # [L, B, D] per-step reward-model inputs
    utility: jax.Array  # [L, B] what a synthetic teacher scores (the gold reward)
    filled: jax.Array  # [] int32 steps written so far, saturating at L
    #: [L, B, M] per-step rewards of M env reward terms (mixture-of-users teacher), or
    #: None: not kept (no leaves, so the window of other teachers is unchanged).
    terms: jax.Array | None = None

    @classmethod
    def create(cls, length: int, num_envs: int, input_size: int, num_terms: int = 0) -> "SegmentWindow":
        terms = jnp.zeros((length, num_envs, num_terms)) if num_terms else None
        return cls(jnp.zeros((length, num_envs, input_size)), jnp.zeros((length, num_envs)), jnp.zeros((), jnp.int32), terms)

    @property
    def length(self) -> int:
        return self.inputs.shape[0]

    def push(self, inputs: jax.Array, utility: jax.Array, terms: jax.Array | None = None) -> "SegmentWindow":
        """Appends a rollout: inputs [T, B, D], utility [T, B], terms [T, B, M] (given
        exactly when the window keeps terms); keeps the newest L steps."""
        if (terms is None) != (self.terms is None):
            raise ValueError("push terms [T, B, M] exactly when the window was created with num_terms > 0")
        L = self.length
        newest = lambda kept, new: jnp.concatenate([kept, new.astype(kept.dtype)], axis=0)[-L:]
        return SegmentWindow(newest(self.inputs, inputs), newest(self.utility, utility),
                             jnp.minimum(self.filled + inputs.shape[0], L),
                             None if terms is None else newest(self.terms, terms))

    def ready(self, segment_length: int) -> jax.Array:
        """[] bool: enough steps written for one segment."""
        return self.filled >= segment_length

    def sample(self, rng: jax.Array, num: int, segment_length: int) -> tuple[jax.Array, jax.Array, jax.Array | None]:
        """`num` segments drawn uniformly over envs and start times within the filled steps.

        Returns (inputs [num, H, D], utility [num, H], terms [num, H, M] or None when the
        window keeps no terms). Before `ready`, segments reach into unwritten (zero) steps;
        callers mask those out.
        """
        L, B = self.utility.shape
        H = segment_length
        k_env, k_start = jax.random.split(rng)
        env = jax.random.randint(k_env, (num,), 0, B)
        first = jnp.clip(L - self.filled, 0, L - H)
        start = jax.random.randint(k_start, (num,), first, L - H + 1)
        t = start[:, None] + jnp.arange(H)
        terms = None if self.terms is None else self.terms[t, env[:, None]]
        return self.inputs[t, env[:, None]], self.utility[t, env[:, None]], terms


@struct.dataclass
class PairBuffer:
    """Labelled pairs of segments, a ring of fixed capacity P."""

    seg_a: jax.Array  # [P, H, D]
    seg_b: jax.Array  # [P, H, D]
    y: jax.Array  # [P] target P(a ≻ b): 1, 0 or 0.5 (tie)
    position: jax.Array  # [] int32 next slot
    size: jax.Array  # [] int32 filled slots

    @classmethod
    def create(cls, capacity: int, segment_length: int, input_size: int) -> "PairBuffer":
        seg = jnp.zeros((capacity, segment_length, input_size))
        return cls(seg, seg, jnp.zeros((capacity,)), jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))

    @property
    def capacity(self) -> int:
        return self.y.shape[0]

    def insert(self, seg_a: jax.Array, seg_b: jax.Array, y: jax.Array, keep: jax.Array | None = None) -> "PairBuffer":
        """Adds the kept pairs: seg_a, seg_b [n, H, D], y [n], keep [n] bool (None: all).

        Kept pairs are packed into consecutive slots (a skipped query takes no room);
        n must not exceed the capacity.
        """
        n = y.shape[0]
        if n > self.capacity:
            raise ValueError(f"cannot insert {n} pairs into a pair buffer of capacity {self.capacity}")
        keep = jnp.ones((n,), bool) if keep is None else keep
        offset = jnp.cumsum(keep) - 1
        # Dropped pairs get an out-of-range slot, which mode="drop" ignores.
        slot = jnp.where(keep, (self.position + offset) % self.capacity, self.capacity)
        put = lambda store, x: store.at[slot].set(x.astype(store.dtype), mode="drop")
        added = jnp.sum(keep).astype(jnp.int32)
        return PairBuffer(put(self.seg_a, seg_a), put(self.seg_b, seg_b), put(self.y, y),
                          (self.position + added) % self.capacity, jnp.minimum(self.size + added, self.capacity))

    def sample(self, rng: jax.Array, batch_size: int) -> tuple[jax.Array, jax.Array, jax.Array]:
        """`batch_size` pairs drawn uniformly (with replacement) from the filled slots."""
        idx = jax.random.randint(rng, (batch_size,), 0, jnp.maximum(self.size, 1))
        return self.seg_a[idx], self.seg_b[idx], self.y[idx]
