"""Proximal Policy Optimization (Schulman et al., "Proximal Policy Optimization
Algorithms", 2017).

Clipped surrogate objective, GAE that bootstraps on truncation but not on termination
(`agents/gae.py`), advantage normalisation per minibatch, optional value clipping,
global-norm gradient clipping, separate policy and value MLPs trained by one Adam.

The agent is three pure functions over `PPOState`: `init`, `act`, `learn`. It sees
already-normalised observations and the reward the training step chose for it (gold or
learned); it knows nothing of environments or reward models.

Vmappable hyperparameters (`PPOHyper`) live *inside* the state, so a sweep over learning
rates or entropy coefficients is a `vmap` over states, not a recompile.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxreward.agents import distributions
from jaxreward.agents.gae import gae
from jaxreward.agents.networks import ACTIVATIONS, PolicyHead, ValueHead


@dataclass(frozen=True)
class PPOConfig:
    """PPO settings. Shapes and structure are static; the fields listed in
    `PPOHyper` are vmappable leaves."""

    unroll_length: int = 32
    num_minibatches: int = 4
    update_epochs: int = 4
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    entropy_coef: float = 0.0
    value_coef: float = 0.5
    max_grad_norm: float = 0.5
    normalize_advantages: bool = True
    clip_value: bool = False
    policy_hidden: tuple[int, ...] = (64, 64)
    value_hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    action_dist: str = "normal_clip"
    init_log_std: float = 0.0

    def validate(self) -> None:
        """Raises ValueError naming the first invalid field."""
        positive = ("unroll_length", "num_minibatches", "update_epochs", "learning_rate")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"ppo.{name} must be positive, got {getattr(self, name)}")
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"ppo.{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("clip_eps", "entropy_coef", "value_coef", "max_grad_norm"):
            if getattr(self, name) < 0:
                raise ValueError(f"ppo.{name} must be >= 0, got {getattr(self, name)}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"ppo.activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if self.action_dist not in distributions.KINDS:
            raise ValueError(f"ppo.action_dist must be one of {', '.join(distributions.KINDS)}, got {self.action_dist!r}")
        if any(w <= 0 for w in self.policy_hidden + self.value_hidden):
            raise ValueError("ppo.policy_hidden / ppo.value_hidden widths must be positive")


@struct.dataclass
class PPOHyper:
    """The vmappable PPO hyperparameters (scalars, possibly traced)."""

    learning_rate: jax.Array
    gamma: jax.Array
    gae_lambda: jax.Array
    clip_eps: jax.Array
    entropy_coef: jax.Array
    value_coef: jax.Array

    @classmethod
    def from_config(cls, cfg: PPOConfig) -> "PPOHyper":
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{n: jnp.asarray(getattr(cfg, n), jnp.float32) for n in names})


@struct.dataclass
class PPOState:
    params: dict  # {"policy": ..., "value": ...}
    opt_state: optax.OptState
    hyper: PPOHyper


@struct.dataclass
class PPOBatch:
    """An on-policy rollout as PPO consumes it (leading axes [T, B])."""

    obs: jax.Array  # [T, B, D] normalised
    next_obs: jax.Array  # [T, B, D] normalised; the final observation at episode ends
    raw_action: jax.Array  # [T, B, A] pre-squash sample, or [T, B] int for discrete
    log_prob: jax.Array  # [T, B] behaviour log-probability
    value: jax.Array  # [T, B] V(obs) at rollout time
    reward: jax.Array  # [T, B] the reward being optimised
    termination: jax.Array  # [T, B]
    done: jax.Array  # [T, B]


class PPO:
    """PPO for one observation/action signature. Holds only static structure."""

    def __init__(self, cfg: PPOConfig, observation_size: int, action_size: int, discrete: bool):
        self.cfg = cfg
        self.observation_size = observation_size
        self.action_size = action_size
        self.discrete = discrete
        self.dist_kind = "categorical" if discrete else cfg.action_dist
        self.policy_net = PolicyHead(cfg.policy_hidden, action_size, discrete, cfg.activation, cfg.init_log_std)
        self.value_net = ValueHead(cfg.value_hidden, cfg.activation)
        # The learning rate is applied by hand (from PPOHyper) so that it can be vmapped.
        self.optimizer = optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.scale_by_adam(eps=1e-5))

    def init(self, rng: jax.Array) -> PPOState:
        k_pi, k_v = jax.random.split(rng)
        dummy = jnp.zeros((1, self.observation_size))
        params = {"policy": self.policy_net.init(k_pi, dummy), "value": self.value_net.init(k_v, dummy)}
        return PPOState(params, self.optimizer.init(params), PPOHyper.from_config(self.cfg))

    def distribution(self, params, obs):
        head, log_std = self.policy_net.apply(params["policy"], obs)
        return distributions.make(self.dist_kind, head, log_std)

    def value(self, params, obs):
        return self.value_net.apply(params["value"], obs)

    def act(self, state: PPOState, obs: jax.Array, rng: jax.Array, deterministic: bool = False):
        """obs: [B, D] normalised. Returns (env_action, raw_action, log_prob [B], value [B])."""
        dist = self.distribution(state.params, obs)
        raw = dist.mode() if deterministic else dist.sample(rng)
        return dist.to_env(raw), raw, dist.log_prob(raw), self.value(state.params, obs)

    def loss(self, params, hyper: PPOHyper, mb: PPOBatch, advantages, returns, rng):
        """PPO loss on a flat minibatch ([N] leading axis). Returns (loss, metrics)."""
        dist = self.distribution(params, mb.obs)
        log_prob = dist.log_prob(mb.raw_action)
        ratio = jnp.exp(log_prob - mb.log_prob)
        adv = advantages
        if self.cfg.normalize_advantages:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        clipped = jnp.clip(ratio, 1.0 - hyper.clip_eps, 1.0 + hyper.clip_eps)
        policy_loss = -jnp.mean(jnp.minimum(ratio * adv, clipped * adv))

        value = self.value(params, mb.obs)
        value_loss = (value - returns) ** 2
        if self.cfg.clip_value:
            v_clipped = mb.value + jnp.clip(value - mb.value, -hyper.clip_eps, hyper.clip_eps)
            value_loss = jnp.maximum(value_loss, (v_clipped - returns) ** 2)
        value_loss = 0.5 * jnp.mean(value_loss)

        entropy = jnp.mean(dist.entropy(rng))
        total = policy_loss + hyper.value_coef * value_loss - hyper.entropy_coef * entropy
        metrics = {
            "loss/policy": policy_loss,
            "loss/value": value_loss,
            "loss/entropy": entropy,
            "ppo/approx_kl": jnp.mean((ratio - 1.0) - jnp.log(ratio)),
            "ppo/clip_fraction": jnp.mean((jnp.abs(ratio - 1.0) > hyper.clip_eps).astype(jnp.float32)),
        }
        return total, metrics

    def learn(self, state: PPOState, batch: PPOBatch, rng: jax.Array) -> tuple[PPOState, dict]:
        """`update_epochs` passes of `num_minibatches` minibatch steps over the rollout."""
        cfg, hyper = self.cfg, state.hyper
        next_values = self.value(state.params, batch.next_obs)
        advantages, returns = gae(
            batch.reward, batch.value, next_values, batch.termination, batch.done, hyper.gamma, hyper.gae_lambda
        )
        flat = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), (batch, advantages, returns))
        n = flat[1].shape[0]
        mb_size = n // cfg.num_minibatches

        def minibatch_step(carry, mb):
            params, opt_state = carry
            mb_batch, mb_adv, mb_ret, mb_rng = mb
            grads, metrics = jax.grad(self.loss, has_aux=True)(params, hyper, mb_batch, mb_adv, mb_ret, mb_rng)
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, jax.tree.map(lambda u: -hyper.learning_rate * u, updates))
            metrics["ppo/grad_norm"] = optax.tree.norm(grads)
            return (params, opt_state), metrics

        def epoch(carry, epoch_rng):
            k_perm, k_ent = jax.random.split(epoch_rng)
            perm = jax.random.permutation(k_perm, n)[: mb_size * cfg.num_minibatches]
            shuffled = jax.tree.map(lambda x: x[perm].reshape((cfg.num_minibatches, mb_size) + x.shape[1:]), flat)
            ent_rngs = jax.random.split(k_ent, cfg.num_minibatches)
            return jax.lax.scan(minibatch_step, carry, (*shuffled, ent_rngs))

        (params, opt_state), metrics = jax.lax.scan(
            epoch, (state.params, state.opt_state), jax.random.split(rng, cfg.update_epochs)
        )
        metrics = jax.tree.map(jnp.mean, metrics)
        metrics["ppo/explained_variance"] = 1.0 - jnp.var(returns - batch.value) / (jnp.var(returns) + 1e-8)
        return state.replace(params=params, opt_state=opt_state), metrics
