"""`regression`: an MLP fitted to gold reward samples inside the training step.

The simplest learned reward: r̂(s, a) regressed on the gold reward of the agent's own
rollouts with a squared error. It exists to prove the update path — its parameters train
in the same compiled step as the policy — and as a baseline for richer learned rewards.
Inputs are normalised by running statistics owned by the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxreward import sgd
from jaxreward.nets.mlp import ACTIVATIONS, MLP
from jaxreward.nets.normalizer import Normalizer
from jaxreward.rewards.base import RewardModel, RewardSpec, Scored, TransitionBatch


@dataclass(frozen=True)
class RegressionConfig:
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    learning_rate: float = 1e-3
    update_epochs: int = 2
    num_minibatches: int = 4
    #: Include the next observation in the input (s, a, s') rather than (s, a).
    use_next_obs: bool = False

    def validate(self) -> None:
        for name in ("learning_rate", "update_epochs", "num_minibatches"):
            if getattr(self, name) <= 0:
                raise ValueError(f"regression.{name} must be positive, got {getattr(self, name)}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"regression.activation must be one of {', '.join(ACTIVATIONS)}")


@struct.dataclass
class RegressionState:
    params: dict
    opt_state: optax.OptState
    normalizer: Normalizer


class Regression(RewardModel):
    name = "regression"
    learned = True

    def __init__(self, spec: RewardSpec, cfg: RegressionConfig = RegressionConfig()):
        super().__init__(spec)
        self.cfg = cfg
        self.net = MLP(cfg.hidden, 1, cfg.activation)
        # The step size is a leaf of the optimiser state, so sweeps vmap over it.
        self.optimizer = optax.inject_hyperparams(optax.adam)(learning_rate=cfg.learning_rate)

    def _inputs(self, batch: TransitionBatch) -> jax.Array:
        action = batch.action
        if self.spec.discrete:
            action = jax.nn.one_hot(action, self.spec.action_size)
        parts = [batch.obs, action] + ([batch.next_obs] if self.cfg.use_next_obs else [])
        return jnp.concatenate(parts, axis=-1)

    def init(self, rng) -> RegressionState:
        spec = self.spec
        width = spec.observation_size * (2 if self.cfg.use_next_obs else 1) + spec.action_size
        params = self.net.init(rng, jnp.zeros((1, width)))
        return RegressionState(params, self.optimizer.init(params), Normalizer.create(width))

    def _predict(self, params, normalizer, x):
        return self.net.apply(params, normalizer(x))[..., 0]

    def reward(self, state: RegressionState, batch: TransitionBatch):
        return self._predict(state.params, state.normalizer, self._inputs(batch)), {}

    def update(self, state: RegressionState, batch: TransitionBatch, scored: Scored, rng):
        """Fits the gold reward of `batch` by `update_epochs` shuffled passes of
        `num_minibatches` Adam steps; the inputs are normalised with statistics that include
        this batch. (`scored`, the prediction before fitting, is not needed.)"""
        cfg = self.cfg
        x = self._inputs(batch)
        normalizer = state.normalizer.update(x)
        data = (x.reshape(-1, x.shape[-1]), batch.gold_reward.reshape(-1))

        def loss_fn(params, minibatch):
            xb, yb = minibatch
            return jnp.mean((self._predict(params, normalizer, xb) - yb) ** 2)

        params, opt_state, trace = sgd.minibatch_sgd(
            loss_fn, self.optimizer, state.params, state.opt_state, data,
            sgd.shuffled(data[1].shape[0], cfg.num_minibatches), epoch_keys=jax.random.split(rng, cfg.update_epochs),
        )
        return RegressionState(params, opt_state, normalizer), {"loss": trace.loss[-1].mean()}
