"""`e3b`: Exploration via Elliptical Episodic Bonuses (Henaff, Raileanu, Jiang, Rocktäschel,
NeurIPS 2022).

The bonus of a transition is the elliptical potential of its next observation's embedding
φ = φ(s') under the inverse covariance of the embeddings the env has seen in the episode:

    b_t = φᵀ C⁻¹_{t−1} φ,     C_t = λI + Σ_{k ≤ t} φ_k φ_kᵀ   (λ = `ridge` = 0.1)

C⁻¹ is kept directly and updated per step by Sherman–Morrison,
C⁻¹ ← C⁻¹ − u uᵀ / (1 + φᵀu), u = C⁻¹φ — O(d²) per step instead of an O(d³) inverse. Each
env has its own C⁻¹ [d, d] in the reward state, updated inside the scan over the rollout
and reset to I/λ after a step that ends an episode (`rewards/episodic.py`). A repeated
embedding therefore earns less and less within an episode, and earns the full bonus again
in the next one.

φ is trained by inverse dynamics (`rewards/inverse_dynamics.py`), as in the paper. The
stored C⁻¹ mixes embeddings from before and after an encoder update within an episode, as
the reference does.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct

from jaxreward.rewards.base import RewardModel, RewardSpec, Scored, TransitionBatch
from jaxreward.rewards.episodic import fresh_memories, scan_episodes
from jaxreward.rewards.inverse_dynamics import EmbeddingSettings, EmbeddingState, InverseDynamicsEmbedding


@dataclass(frozen=True)
class E3BConfig:
    hidden: tuple[int, ...] = (64, 64)
    #: d: each env's C⁻¹ is d × d and costs O(d²) per step.
    embedding_size: int = 16
    learning_rate: float = 3e-4
    num_minibatches: int = 4
    #: λ of C = λI + Σ φφᵀ.
    ridge: float = 0.1

    def validate(self) -> None:
        for name in ("embedding_size", "learning_rate", "num_minibatches", "ridge"):
            if getattr(self, name) <= 0:
                raise ValueError(f"e3b.{name} must be positive, got {getattr(self, name)}")

    def embedding(self) -> EmbeddingSettings:
        return EmbeddingSettings(self.hidden, self.embedding_size, self.learning_rate, self.num_minibatches)


@struct.dataclass
class E3BState:
    embedding: EmbeddingState
    cov_inv: jax.Array  # [B, d, d] per-env C⁻¹ of the current episode


def sherman_morrison(cov_inv: jax.Array, phi: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Elliptical bonus and rank-one update of an inverse covariance.

    cov_inv: [d, d] C⁻¹; phi: [d]. Returns (φᵀC⁻¹φ [], (C + φφᵀ)⁻¹ [d, d]).
    """
    u = cov_inv @ phi
    bonus = phi @ u
    return bonus, cov_inv - jnp.outer(u, u) / (1.0 + bonus)


class E3B(RewardModel):
    name = "e3b"
    learned = True
    intrinsic = True

    def __init__(self, spec: RewardSpec, cfg: E3BConfig = E3BConfig()):
        super().__init__(spec)
        self.cfg = cfg
        self.embedding = InverseDynamicsEmbedding(spec, cfg.embedding())

    def _fresh(self) -> jax.Array:
        return jnp.eye(self.cfg.embedding_size) / self.cfg.ridge

    def init(self, rng) -> E3BState:
        return E3BState(self.embedding.init(rng), fresh_memories(self._fresh(), self.spec.num_envs))

    def _scan(self, state: E3BState, batch: TransitionBatch):
        phi = self.embedding.embed(state.embedding.params, state.embedding.normalizer, batch.next_obs)
        return scan_episodes(sherman_morrison, state.cov_inv, self._fresh(), phi, batch.done)

    def reward(self, state: E3BState, batch: TransitionBatch):
        """The bonus [T, B]; `info["cov_inv"]` (shape `[B, d, d]`) is each env's C⁻¹ after
        the batch, which `update` keeps."""
        bonus, cov_inv = self._scan(state, batch)
        return bonus, {"cov_inv": cov_inv}

    def update(self, state: E3BState, batch: TransitionBatch, scored: Scored, rng: jax.Array):
        embedding, metrics = self.embedding.train(state.embedding, batch, rng)
        return E3BState(embedding, scored.info["cov_inv"]), metrics | {"bonus": jnp.mean(scored.reward)}
