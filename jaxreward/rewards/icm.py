"""`icm`: the Intrinsic Curiosity Module (Pathak, Agrawal, Efros, Darrell, "Curiosity-driven
Exploration by Self-supervised Prediction", ICML 2017).

Features φ are learned by inverse dynamics (predict a from φ(s), φ(s')); a forward model f
predicts φ(s') from (φ(s), a); the bonus is the forward model's error
½‖f(φ(s), a) − φ(s')‖² under the current networks. Both models train together on each
batch with loss (1 − β)·inverse + β·forward, β = `forward_weight` = 0.2 (the paper's).
The embedding and its training live in `rewards/inverse_dynamics.py`, shared with E3B and
the kNN bonus. Like every intrinsic term it reaches PPO as a separate stream.

Deviation: MLP encoder on normalised vector observations instead of the paper's
convolutional encoder on frames; continuous actions use a squared-error inverse loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax

from jaxreward.rewards.base import RewardModel, RewardSpec, Scored, TransitionBatch
from jaxreward.rewards.inverse_dynamics import EmbeddingSettings, EmbeddingState, InverseDynamicsEmbedding


@dataclass(frozen=True)
class ICMConfig:
    hidden: tuple[int, ...] = (64, 64)
    embedding_size: int = 32
    learning_rate: float = 3e-4
    num_minibatches: int = 4
    #: β: weight of the forward loss against the inverse loss.
    forward_weight: float = 0.2

    def validate(self) -> None:
        for name in ("embedding_size", "learning_rate", "num_minibatches"):
            if getattr(self, name) <= 0:
                raise ValueError(f"icm.{name} must be positive, got {getattr(self, name)}")
        if not 0.0 < self.forward_weight <= 1.0:
            raise ValueError(f"icm.forward_weight must be in (0, 1], got {self.forward_weight}")

    def embedding(self) -> EmbeddingSettings:
        return EmbeddingSettings(self.hidden, self.embedding_size, self.learning_rate, self.num_minibatches, self.forward_weight)


class ICM(RewardModel):
    name = "icm"
    learned = True
    intrinsic = True

    def __init__(self, spec: RewardSpec, cfg: ICMConfig = ICMConfig()):
        super().__init__(spec)
        self.cfg = cfg
        self.embedding = InverseDynamicsEmbedding(spec, cfg.embedding())

    def init(self, rng) -> EmbeddingState:
        return self.embedding.init(rng)

    def reward(self, state: EmbeddingState, batch: TransitionBatch):
        return self.embedding.forward_error(state.params, state.normalizer, batch), {}

    def update(self, state: EmbeddingState, batch: TransitionBatch, scored: Scored, rng: jax.Array):
        # The bonus scored before training is not an input of the training step.
        return self.embedding.train(state, batch, rng)
