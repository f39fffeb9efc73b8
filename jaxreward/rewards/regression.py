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

from jaxreward import shuffle
from jaxreward.nets.mlp import ACTIVATIONS, MLP
from jaxreward.nets.normalizer import Normalizer
from jaxreward.rewards.base import RewardModel, RewardSpec, TransitionBatch


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
        self.optimizer = optax.adam(cfg.learning_rate)

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

    def update(self, state: RegressionState, batch: TransitionBatch, rng):
        cfg = self.cfg
        x = self._inputs(batch)
        normalizer = state.normalizer.update(x)
        x = x.reshape(-1, x.shape[-1])
        y = batch.gold_reward.reshape(-1)
        n = y.shape[0]
        mb_size = n // cfg.num_minibatches

        def loss_fn(params, xb, yb):
            return jnp.mean((self._predict(params, normalizer, xb) - yb) ** 2)

        def minibatch_step(carry, idx):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, *shuffle.take_rows((x, y), idx))
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        def epoch(carry, key):
            perm = shuffle.permutation(key, n)[: mb_size * cfg.num_minibatches]
            return jax.lax.scan(minibatch_step, carry, perm.reshape(cfg.num_minibatches, mb_size))

        (params, opt_state), losses = jax.lax.scan(
            epoch, (state.params, state.opt_state), jax.random.split(rng, cfg.update_epochs)
        )
        return RegressionState(params, opt_state, normalizer), {"loss": losses[-1].mean()}
