"""An observation embedding φ trained by inverse dynamics, with an optional forward model.

Shared by ICM (Pathak et al., "Curiosity-driven Exploration by Self-supervised
Prediction", 2017), E3B (Henaff et al., "Exploration via Elliptical Episodic Bonuses",
2022) and the NGU-style kNN bonus (Badia et al., "Never Give Up", 2020): all three embed
observations with an encoder trained to predict the action a from (φ(s), φ(s')), which
keeps in φ what the agent controls and drops what it does not (noise, distractors).

Losses on a transition (s, a, s'):

- inverse: cross-entropy of g(φ(s), φ(s')) against a (discrete actions), or its squared
  error to a (continuous actions — a deviation from ICM, whose tasks were discrete).
- forward (ICM only): ½‖f(φ(s), a) − sg(φ(s'))‖², with the target's gradient stopped as in
  the reference, so the forward loss cannot collapse φ; ICM mixes the two as
  (1 − β)·inverse + β·forward, β = 0.2.

Observations are normalised by running statistics the embedding owns, updated on every
training batch before the gradient steps (vector observations of these tasks mix scales of
1 and 0.07).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxreward import sgd
from jaxreward.nets.mlp import MLP
from jaxreward.nets.normalizer import Normalizer
from jaxreward.rewards.base import RewardSpec, TransitionBatch


@dataclass(frozen=True)
class EmbeddingSettings:
    """The parts of an ICM / E3B / kNN config that shape and train the embedding."""

    hidden: tuple[int, ...] = (64, 64)
    embedding_size: int = 32
    learning_rate: float = 3e-4
    num_minibatches: int = 4
    #: Weight β of the forward loss; 0 trains no forward model.
    forward_weight: float = 0.0


@struct.dataclass
class EmbeddingState:
    params: dict  # {"encoder", "inverse"[, "forward"]}
    opt_state: optax.OptState
    normalizer: Normalizer


class InverseDynamicsEmbedding:
    """φ: obs [..., D] -> [..., embedding_size], and its training step."""

    def __init__(self, spec: RewardSpec, settings: EmbeddingSettings):
        self.spec = spec
        self.settings = settings
        self.encoder = MLP(settings.hidden, settings.embedding_size, "relu")
        self.inverse = MLP(settings.hidden, spec.action_size, "relu")
        self.forward = MLP(settings.hidden, settings.embedding_size, "relu")
        # The step size is a leaf of the optimiser state, so sweeps vmap over it.
        self.optimizer = optax.inject_hyperparams(optax.adam)(learning_rate=settings.learning_rate)

    def init(self, rng: jax.Array) -> EmbeddingState:
        k_enc, k_inv, k_fwd = jax.random.split(rng, 3)
        e = self.settings.embedding_size
        params = {
            "encoder": self.encoder.init(k_enc, jnp.zeros((1, self.spec.observation_size))),
            "inverse": self.inverse.init(k_inv, jnp.zeros((1, 2 * e))),
        }
        if self.settings.forward_weight > 0:
            params["forward"] = self.forward.init(k_fwd, jnp.zeros((1, e + self.spec.action_size)))
        return EmbeddingState(params, self.optimizer.init(params), Normalizer.create(self.spec.observation_size))

    def embed(self, params: dict, normalizer: Normalizer, obs: jax.Array) -> jax.Array:
        """obs: [..., D] raw -> φ [..., embedding_size]."""
        return self.encoder.apply(params["encoder"], normalizer(obs, clip=5.0))

    def _action_features(self, action: jax.Array) -> jax.Array:
        if self.spec.discrete:
            return jax.nn.one_hot(action, self.spec.action_size)
        return action

    def forward_error(self, params: dict, normalizer: Normalizer, batch: TransitionBatch) -> jax.Array:
        """ICM's bonus ½‖f(φ(s), a) − φ(s')‖² -> [T, B] (needs forward_weight > 0)."""
        phi, phi_next = self.embed(params, normalizer, batch.obs), self.embed(params, normalizer, batch.next_obs)
        pred = self.forward.apply(params["forward"], jnp.concatenate([phi, self._action_features(batch.action)], -1))
        return 0.5 * jnp.sum((pred - phi_next) ** 2, axis=-1)

    def _loss(self, params, normalizer, obs, action, next_obs):
        phi, phi_next = self.embed(params, normalizer, obs), self.embed(params, normalizer, next_obs)
        logits = self.inverse.apply(params["inverse"], jnp.concatenate([phi, phi_next], -1))
        if self.spec.discrete:
            inverse = optax.softmax_cross_entropy_with_integer_labels(logits, action).mean()
        else:
            inverse = jnp.mean(jnp.sum((logits - action) ** 2, axis=-1))
        metrics = {"inverse_loss": inverse}
        beta = self.settings.forward_weight
        if beta == 0:
            return inverse, metrics
        pred = self.forward.apply(params["forward"], jnp.concatenate([phi, self._action_features(action)], -1))
        forward = jnp.mean(0.5 * jnp.sum((pred - jax.lax.stop_gradient(phi_next)) ** 2, axis=-1))
        metrics["forward_loss"] = forward
        return (1.0 - beta) * inverse + beta * forward, metrics

    def train(self, state: EmbeddingState, batch: TransitionBatch, rng: jax.Array) -> tuple[EmbeddingState, dict]:
        """One epoch of `num_minibatches` shuffled minibatch Adam steps over the [T, B]
        batch; the normaliser takes in this batch first. Returns the new state and the
        losses averaged over the steps."""
        normalizer = state.normalizer.update(batch.next_obs)
        flat = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), (batch.obs, batch.action, batch.next_obs))

        def loss_fn(params, minibatch):
            return self._loss(params, normalizer, *minibatch)

        params, opt_state, trace = sgd.minibatch_sgd(
            loss_fn, self.optimizer, state.params, state.opt_state, flat,
            sgd.shuffled(flat[0].shape[0], self.settings.num_minibatches), epoch_keys=rng[None], has_aux=True,
        )
        return EmbeddingState(params, opt_state, normalizer), sgd.mean_metrics(trace)
