"""`knn`: the episodic novelty bonus of Never Give Up (Badia et al., "Never Give Up: Learning
Directed Exploration Strategies", ICLR 2020), over a fixed-size per-env memory.

Each env keeps the embeddings φ(s') of its current episode in a ring buffer of `capacity`
slots (oldest overwritten when full; emptied by `done`). For a new embedding, with d_i² the
squared distances to its k nearest neighbours in memory (k = 10):

    d̃_i = max(d_i² / mean(d²) − ξ, 0)          mean(d²): running mean of the k-NN d²
    K_i = ε / (d̃_i + ε)                           ε = 1e-4, ξ = 0.008 (cluster distance)
    s = √(Σ K_i) + c                               c = 1e-3
    bonus = 1/s, or 0 when s > s_max = 8

The running mean is over every neighbour distance seen so far (all envs), carried through
the scan. φ is trained by inverse dynamics (`rewards/inverse_dynamics.py`), as in NGU.

Deviation: the embedding is written to memory *before* its bonus is computed, so it is its
own nearest neighbour (K = 1). NGU scores against the memory of earlier steps, which makes
the first step of every episode (an empty memory: s = c) worth 1/c = 1000; inserting first
bounds every bonus by 1/(1 + c) and leaves the ordering of novel vs familiar states intact.
Only NGU's episodic bonus is implemented; its life-long RND multiplier is the `global`
half of `global_x_episodic`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct

from jaxreward.rewards.base import RewardModel, RewardSpec, Scored, TransitionBatch
from jaxreward.rewards.episodic import fresh_memories, reset_done
from jaxreward.rewards.inverse_dynamics import EmbeddingSettings, EmbeddingState, InverseDynamicsEmbedding


@dataclass(frozen=True)
class KNNConfig:
    hidden: tuple[int, ...] = (64, 64)
    embedding_size: int = 32
    learning_rate: float = 3e-4
    num_minibatches: int = 4
    #: Slots of each env's episodic memory.
    capacity: int = 128
    num_neighbors: int = 10
    kernel_epsilon: float = 1e-4
    cluster_distance: float = 0.008
    pseudo_count: float = 1e-3
    max_similarity: float = 8.0

    def validate(self) -> None:
        for name in ("embedding_size", "learning_rate", "num_minibatches", "capacity", "num_neighbors", "kernel_epsilon"):
            if getattr(self, name) <= 0:
                raise ValueError(f"knn.{name} must be positive, got {getattr(self, name)}")
        if self.num_neighbors > self.capacity:
            raise ValueError(f"knn.num_neighbors ({self.num_neighbors}) must be <= knn.capacity ({self.capacity})")

    def embedding(self) -> EmbeddingSettings:
        return EmbeddingSettings(self.hidden, self.embedding_size, self.learning_rate, self.num_minibatches)


@struct.dataclass
class Memory:
    """One env's episodic memory (a leading [B] axis in the reward state)."""

    slots: jax.Array  # [capacity, d]
    size: jax.Array  # [] number of embeddings written this episode (may exceed capacity)


@struct.dataclass
class KNNState:
    embedding: EmbeddingState
    memory: Memory  # leaves [B, ...]
    distance_sum: jax.Array  # [] running sum of k-NN squared distances
    distance_count: jax.Array  # []


class KNNEpisodic(RewardModel):
    name = "knn"
    learned = True
    intrinsic = True

    def __init__(self, spec: RewardSpec, cfg: KNNConfig = KNNConfig()):
        super().__init__(spec)
        self.cfg = cfg
        self.embedding = InverseDynamicsEmbedding(spec, cfg.embedding())

    def _fresh(self) -> Memory:
        return Memory(jnp.zeros((self.cfg.capacity, self.cfg.embedding_size)), jnp.zeros((), jnp.int32))

    def init(self, rng) -> KNNState:
        return KNNState(self.embedding.init(rng), fresh_memories(self._fresh(), self.spec.num_envs), jnp.zeros(()), jnp.zeros(()))

    def _neighbours(self, memory: Memory, phi: jax.Array):
        """Writes φ, then returns (k smallest d² [k], valid [k], new memory)."""
        cfg = self.cfg
        slots = memory.slots.at[memory.size % cfg.capacity].set(phi)
        size = memory.size + 1
        d2 = jnp.sum((slots - phi) ** 2, axis=-1)
        filled = jnp.arange(cfg.capacity) < size
        neg_d2, idx = jax.lax.top_k(jnp.where(filled, -d2, -jnp.inf), cfg.num_neighbors)
        return -neg_d2, filled[idx], Memory(slots, size)

    def _scan(self, state: KNNState, batch: TransitionBatch):
        cfg = self.cfg
        phi = self.embedding.embed(state.embedding.params, state.embedding.normalizer, batch.next_obs)
        fresh = self._fresh()

        # Not `scan_episodes`: the running mean of distances is shared by all envs.
        def body(carry, inputs):
            memory, dist_sum, dist_count = carry
            x, d = inputs
            d2, valid, memory = jax.vmap(self._neighbours)(memory, x)  # [B, k]
            d2 = jnp.where(valid, d2, 0.0)
            dist_sum = dist_sum + jnp.sum(d2)
            dist_count = dist_count + jnp.sum(valid)
            mean_d2 = jnp.maximum(dist_sum / jnp.maximum(dist_count, 1.0), 1e-8)
            scaled = jnp.maximum(d2 / mean_d2 - cfg.cluster_distance, 0.0)
            kernel = jnp.where(valid, cfg.kernel_epsilon / (scaled + cfg.kernel_epsilon), 0.0)
            s = jnp.sqrt(jnp.sum(kernel, axis=-1)) + cfg.pseudo_count
            bonus = jnp.where(s > cfg.max_similarity, 0.0, 1.0 / s)
            return (reset_done(memory, fresh, d), dist_sum, dist_count), bonus

        carry = (state.memory, state.distance_sum, state.distance_count)
        (memory, dist_sum, dist_count), bonus = jax.lax.scan(body, carry, (phi, batch.done))
        return bonus, state.replace(memory=memory, distance_sum=dist_sum, distance_count=dist_count)

    def reward(self, state: KNNState, batch: TransitionBatch):
        """The bonus [T, B]; info carries the memories after the batch (`memory`, leaves
        [B, ...]) and the running distance sums (`distance_sum`, `distance_count` []),
        which `update` keeps."""
        bonus, after = self._scan(state, batch)
        return bonus, {"memory": after.memory, "distance_sum": after.distance_sum, "distance_count": after.distance_count}

    def update(self, state: KNNState, batch: TransitionBatch, scored: Scored, rng: jax.Array):
        info = scored.info
        embedding, metrics = self.embedding.train(state.embedding, batch, rng)
        state = KNNState(embedding, info["memory"], info["distance_sum"], info["distance_count"])
        return state, metrics | {"bonus": jnp.mean(scored.reward)}
