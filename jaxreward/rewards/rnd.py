"""`rnd`: Random Network Distillation (Burda, Edwards, Storkey, Klimov, "Exploration by Random
Network Distillation", ICLR 2019).

A fixed, randomly initialised target network f and a predictor f̂ trained to match it on
the states the agent visits; the bonus of a transition is the prediction error on its
*next* observation, ‖f̂(x') − f(x')‖², high on states unlike those seen so far. As in the
paper:

- x' is the observation normalised by running mean / std and clipped to [−5, 5]; the
  statistics start from a random-policy warm-up (`warmup_steps` per env, run by the
  training step at init through `observe`), then follow every batch.
- The bonus is divided by the running std of the per-env discounted intrinsic return
  (γ = `return_gamma`, never reset at episode ends: the intrinsic stream is non-episodic).
  As in the reference code, the statistics are updated with this batch's returns before
  they divide this batch's bonus.
- The predictor is trained on a random `update_proportion` of each batch, so that the
  bonus does not decay faster with more parallel envs. The reference masks the loss of
  the other samples; here each epoch draws that many samples uniformly (with replacement)
  and trains only on them — the same expected gradient, without computing what the mask
  would discard, and without a permutation (a sort on a CPU) per epoch.
- It is an intrinsic term: the composite hands it to PPO as a separate stream (two value
  heads, `agents/ppo.py`).

Deviations: MLPs instead of the paper's convolutional nets (observations here are vectors);
the error is summed over the output features (the reference averages; the return
normalisation removes the constant factor); predictor step size 3e-4 instead of 1e-4, for
the much shorter budgets of these tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxreward import sgd
from jaxreward.nets.mlp import MLP
from jaxreward.nets.normalizer import Normalizer, discounted_returns
from jaxreward.rewards.base import RewardModel, RewardSpec, Scored, TransitionBatch


@dataclass(frozen=True)
class RNDConfig:
    target_hidden: tuple[int, ...] = (64, 64)
    predictor_hidden: tuple[int, ...] = (64, 64, 64)
    output_size: int = 64
    learning_rate: float = 3e-4
    update_epochs: int = 4
    num_minibatches: int = 4
    #: Fraction of each batch the predictor trains on.
    update_proportion: float = 0.25
    #: Discount of the intrinsic return whose running std divides the bonus.
    return_gamma: float = 0.99
    #: Observations are clipped to [-obs_clip, obs_clip] after normalisation.
    obs_clip: float = 5.0
    #: Random-policy steps per env that initialise the observation statistics.
    warmup_steps: int = 50

    def validate(self) -> None:
        for name in ("output_size", "learning_rate", "update_epochs", "num_minibatches", "obs_clip"):
            if getattr(self, name) <= 0:
                raise ValueError(f"rnd.{name} must be positive, got {getattr(self, name)}")
        if not 0.0 < self.update_proportion <= 1.0:
            raise ValueError(f"rnd.update_proportion must be in (0, 1], got {self.update_proportion}")
        if not 0.0 <= self.return_gamma < 1.0:
            raise ValueError(f"rnd.return_gamma must be in [0, 1), got {self.return_gamma}")
        if self.warmup_steps < 0:
            raise ValueError(f"rnd.warmup_steps must be >= 0, got {self.warmup_steps}")


@struct.dataclass
class RNDState:
    target: dict  # fixed
    predictor: dict
    opt_state: optax.OptState
    obs_stats: Normalizer  # of next observations, [D]
    return_filter: jax.Array  # [B] discounted intrinsic return of each env so far
    return_stats: Normalizer  # of the discounted intrinsic returns, [1]


class RND(RewardModel):
    name = "rnd"
    learned = True
    intrinsic = True

    def __init__(self, spec: RewardSpec, cfg: RNDConfig = RNDConfig()):
        super().__init__(spec)
        self.cfg = cfg
        self.warmup_steps = cfg.warmup_steps
        self.target_net = MLP(cfg.target_hidden, cfg.output_size, "relu")
        self.predictor_net = MLP(cfg.predictor_hidden, cfg.output_size, "relu")
        # The step size is a leaf of the optimiser state, so sweeps vmap over it.
        self.optimizer = optax.inject_hyperparams(optax.adam)(learning_rate=cfg.learning_rate)

    def init(self, rng) -> RNDState:
        k_t, k_p = jax.random.split(rng)
        dummy = jnp.zeros((1, self.spec.observation_size))
        predictor = self.predictor_net.init(k_p, dummy)
        return RNDState(
            target=self.target_net.init(k_t, dummy),
            predictor=predictor,
            opt_state=self.optimizer.init(predictor),
            obs_stats=Normalizer.create(self.spec.observation_size),
            return_filter=jnp.zeros((self.spec.num_envs,)),
            return_stats=Normalizer.create(1),
        )

    def error(self, state: RNDState, predictor: dict, next_obs: jax.Array) -> jax.Array:
        """next_obs: [..., D] raw -> squared prediction error [...]."""
        x, target = self._inputs_and_targets(state, next_obs)
        return self._error(predictor, x, target)

    def _inputs_and_targets(self, state: RNDState, next_obs: jax.Array):
        x = state.obs_stats(next_obs, clip=self.cfg.obs_clip)
        return x, jax.lax.stop_gradient(self.target_net.apply(state.target, x))

    def _error(self, predictor: dict, x: jax.Array, target: jax.Array) -> jax.Array:
        return jnp.sum((self.predictor_net.apply(predictor, x) - target) ** 2, axis=-1)

    def _normalised(self, state: RNDState, error: jax.Array):
        returns, last = discounted_returns(state.return_filter, error, self.cfg.return_gamma)
        stats = state.return_stats.update(returns[..., None])
        return error / jnp.sqrt(stats.var[0] + 1e-8), last, stats

    def reward(self, state: RNDState, batch: TransitionBatch):
        """The bonus [T, B]; info carries what `update` continues from: the prediction
        `error` [T, B], the `return_filter` after the batch [B] and the `return_stats`
        updated with this batch's discounted returns."""
        error = self.error(state, state.predictor, batch.next_obs)
        bonus, last, stats = self._normalised(state, error)
        return bonus, {"error": error, "return_filter": last, "return_stats": stats}

    def observe(self, state: RNDState, batch: TransitionBatch) -> RNDState:
        return state.replace(obs_stats=state.obs_stats.update(batch.next_obs))

    def update(self, state: RNDState, batch: TransitionBatch, scored: Scored, rng):
        cfg = self.cfg
        info = scored.info
        # Statistics first, then the predictor trains on observations normalised the way
        # the next batch's bonus will see them (the reference's order).
        state = state.replace(obs_stats=state.obs_stats.update(batch.next_obs), return_filter=info["return_filter"],
                              return_stats=info["return_stats"])

        # The target is fixed: its outputs are computed once per update, not per minibatch.
        x, target = self._inputs_and_targets(state, batch.next_obs.reshape(-1, batch.next_obs.shape[-1]))
        n = x.shape[0]
        mb = max(1, round(n * cfg.update_proportion) // cfg.num_minibatches)

        def loss_fn(predictor, minibatch):
            return jnp.mean(self._error(predictor, *minibatch))

        # Uniform draws with replacement: a permutation of the whole batch (a sort on a
        # CPU) per epoch would cost more than the predictor's training.
        subsets = jax.random.randint(rng, (cfg.update_epochs, cfg.num_minibatches, mb), 0, n)
        predictor, opt_state, trace = sgd.minibatch_sgd(loss_fn, self.optimizer, state.predictor, state.opt_state,
                                                        (x, target), subsets)
        metrics = {
            "loss": trace.loss[-1].mean(),
            "error": jnp.mean(info["error"]),
            "return_std": jnp.sqrt(info["return_stats"].var[0]),
        }
        return state.replace(predictor=predictor, opt_state=opt_state), metrics
