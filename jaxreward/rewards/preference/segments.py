"""Where queries come from and where answers go: the segment window and the pair buffer.

Segments are fixed-length pieces σ = (x_t, …, x_{t+H−1}) of the agent's own experience,
x the reward model's per-step input. The reward model keeps a *window* of the last L steps
of every environment (L ≥ 2H), pushed with each rollout, and draws segments from it. With
PPO the window holds the latest rollouts; with SAC (one step per env per iteration) it is
the recent past of each env, a small on-device stand-in for sampling the replay buffer
(the reward contract does not see the learner's buffer).

A segment lies within one episode: a start t is drawn only where none of the steps t, …,
t+H−2 ends an episode (the last step may: its episode ends with the segment). Like the
fragments of the `imitation` library's fragmenter, a segment never joins the end of one
episode to the start of the next, whose returns a teacher could not compare as one piece of
behaviour. The window therefore keeps each step's `done` flag. Where fewer than two such
starts exist in the whole window (every episode shorter than H, e.g. cartpole falling
early), segments are drawn from all filled starts instead, so the loop still runs; each
segment reports whether it `crosses` an episode end, and the reward model counts the
crossing segments it asks about.

A pair never compares a segment with itself: its second segment is drawn from the
candidate (env, start) positions other than its first's.

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
class Segments:
    """N segments of H steps drawn from a window, and where they came from."""

    inputs: jax.Array  # [N, H, D] per-step reward-model inputs
    utility: jax.Array  # [N, H] what a synthetic teacher scores (the gold reward)
    terms: jax.Array | None  # [N, H, M] users' term rewards, or None when the window keeps none
    env: jax.Array  # [N] int32 env of each segment
    start: jax.Array  # [N] int32 first step, as an index into the window
    crosses: jax.Array  # [N] bool: an episode ends before the segment's last step


@struct.dataclass
class SegmentWindow:
    """The last L steps of every env. Newest step last."""

    inputs: jax.Array  # [L, B, D] per-step reward-model inputs
    utility: jax.Array  # [L, B] what a synthetic teacher scores (the gold reward)
    done: jax.Array  # [L, B] bool: the episode ended at this step
    filled: jax.Array  # [] int32 steps written so far, saturating at L
    #: [L, B, M] per-step rewards of M env reward terms (mixture-of-users teacher), or
    #: None: not kept (no leaves, so the window of other teachers is unchanged).
    terms: jax.Array | None = None

    @classmethod
    def create(cls, length: int, num_envs: int, input_size: int, num_terms: int = 0) -> "SegmentWindow":
        terms = jnp.zeros((length, num_envs, num_terms)) if num_terms else None
        return cls(jnp.zeros((length, num_envs, input_size)), jnp.zeros((length, num_envs)),
                   jnp.zeros((length, num_envs), bool), jnp.zeros((), jnp.int32), terms)

    @property
    def length(self) -> int:
        return self.inputs.shape[0]

    def push(self, inputs: jax.Array, utility: jax.Array, done: jax.Array, terms: jax.Array | None = None) -> "SegmentWindow":
        """Appends a rollout: inputs [T, B, D], utility [T, B], done [T, B] (any episode
        end), terms [T, B, M] (given exactly when the window keeps terms); keeps the newest
        L steps."""
        if (terms is None) != (self.terms is None):
            raise ValueError("push terms [T, B, M] exactly when the window was created with num_terms > 0")
        L = self.length
        newest = lambda kept, new: jnp.concatenate([kept, new.astype(kept.dtype)], axis=0)[-L:]
        return SegmentWindow(newest(self.inputs, inputs), newest(self.utility, utility), newest(self.done, done),
                             jnp.minimum(self.filled + inputs.shape[0], L),
                             None if terms is None else newest(self.terms, terms))

    def ready(self, segment_length: int) -> jax.Array:
        """[] bool: enough steps written for two different segments."""
        starts_per_env = jnp.maximum(self.filled - segment_length + 1, 0)
        return starts_per_env * self.utility.shape[1] >= 2

    def starts(self, segment_length: int) -> tuple[jax.Array, jax.Array]:
        """Where a segment may start: (filled [L−H+1, B], within_episode [L−H+1, B]) bools.

        filled: every step of the segment has been written. within_episode: filled, and no
        episode ends at steps t, …, t+H−2.
        """
        L, B = self.done.shape
        H = segment_length
        # ends[k] = episode ends among steps 0 … k−1, so steps t … t+H−2 hold ends[t+H−1] − ends[t].
        ends = jnp.concatenate([jnp.zeros((1, B), jnp.int32), jnp.cumsum(self.done.astype(jnp.int32), axis=0)])
        crossing = ends[H - 1: L] - ends[: L - H + 1] > 0
        filled = (jnp.arange(L - H + 1) >= L - self.filled)[:, None] & jnp.ones((1, B), bool)
        return filled, filled & ~crossing

    def sample_pairs(self, rng: jax.Array, num: int, segment_length: int) -> tuple[Segments, Segments]:
        """`num` pairs of different segments, each drawn uniformly over (env, start).

        Starts are the within-episode ones when the window has at least two of them, else
        every filled start (the segments then report `crosses`). Before `ready`, segments
        reach into unwritten (zero) steps; callers mask those out.
        """
        H = segment_length
        filled, within = self.starts(H)
        allowed = jnp.where(jnp.sum(within) >= 2, within, filled).reshape(-1)  # flat index: start · B + env
        count = jnp.sum(allowed)
        rank_of = jnp.cumsum(allowed)  # the k-th allowed position (0-based) is the first with rank_of > k
        k_a, k_b = jax.random.split(rng)
        rank_a = jax.random.randint(k_a, (num,), 0, jnp.maximum(count, 1))
        # b: uniform over the allowed positions other than a's.
        rank_b = jax.random.randint(k_b, (num,), 0, jnp.maximum(count - 1, 1))
        rank_b = rank_b + (rank_b >= rank_a)
        position = lambda rank: jnp.searchsorted(rank_of, rank, side="right").astype(jnp.int32)
        return self._gather(position(rank_a), H, filled & ~within), self._gather(position(rank_b), H, filled & ~within)

    def _gather(self, flat: jax.Array, H: int, crossing: jax.Array) -> Segments:
        B = self.done.shape[1]
        start, env = flat // B, flat % B
        t = start[:, None] + jnp.arange(H)
        terms = None if self.terms is None else self.terms[t, env[:, None]]
        return Segments(self.inputs[t, env[:, None]], self.utility[t, env[:, None]], terms, env, start,
                        crossing[start, env])


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
