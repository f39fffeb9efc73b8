"""Soft Actor-Critic (Haarnoja et al., "Soft Actor-Critic Algorithms and Applications", 2018).

Twin Q critics with Polyak-averaged targets, a tanh-Gaussian actor, and automatic entropy
temperature tuning towards `target_entropy` (default −|A|) with its own learning rate.
Optional LayerNorm in the critics. The TD target bootstraps through time-limit ends and
stops only at terminations.

Like PPO, the agent is pure functions over `SACState` and sees normalised observations and
the reward it is given; the replay buffer, relabelling, warm-up actions and critic reset
make it a `Learner` in `agents/sac_learner.py`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxreward.agents import distributions
from jaxreward.nets.mlp import ACTIVATIONS, Dense, activation

RELABEL_MODES = ("auto", "all", "batch", "none")


@dataclass(frozen=True)
class SACConfig:
    """SAC settings; the fields of `SACHyper` are vmappable leaves."""

    #: env steps per environment collected per training iteration
    unroll_length: int = 1
    #: gradient updates per env-step batch (update-to-data ratio per vectorised step)
    grad_updates_per_step: int = 1
    batch_size: int = 256
    #: replay capacity in transitions per seed (bounded: never "all timesteps")
    buffer_size: int = 100_000
    #: env steps per seed of uniform random actions before learning starts
    learning_starts: int = 5_000
    learning_rate: float = 3e-4
    alpha_learning_rate: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005
    init_alpha: float = 1.0
    #: None: -action_size
    target_entropy: float | None = None
    actor_hidden: tuple[int, ...] = (256, 256)
    critic_hidden: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False
    max_grad_norm: float = 0.0
    #: "all": recompute every stored reward after each reward-model update (PEBBLE);
    #: "batch": score each sampled batch with the current reward model; "none": keep the
    #: reward computed at insertion; "auto": "batch" when a stored transition's reward can
    #: change (a learned or normalised term), else "none" (`agents/sac_learner.py`).
    relabel: str = "auto"
    #: Env steps per seed at which the critics, their targets and optimiser state are
    #: re-initialised (PEBBLE does this when unsupervised pre-training ends, so Q-values of
    #: the exploration bonus do not linger); 0: never.
    reset_critic_at: int = 0

    def validate(self) -> None:
        for name in ("unroll_length", "grad_updates_per_step", "batch_size", "buffer_size", "learning_rate", "init_alpha"):
            if getattr(self, name) <= 0:
                raise ValueError(f"sac.{name} must be positive, got {getattr(self, name)}")
        if self.alpha_learning_rate < 0:
            raise ValueError(f"sac.alpha_learning_rate must be >= 0 (0 keeps the temperature fixed), got {self.alpha_learning_rate}")
        if self.reset_critic_at < 0:
            raise ValueError(f"sac.reset_critic_at must be >= 0, got {self.reset_critic_at}")
        if self.learning_starts < 0:
            raise ValueError(f"sac.learning_starts must be >= 0, got {self.learning_starts}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"sac.gamma must be in [0, 1], got {self.gamma}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"sac.tau must be in (0, 1], got {self.tau}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"sac.activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if self.relabel not in RELABEL_MODES:
            raise ValueError(f"sac.relabel must be one of {', '.join(RELABEL_MODES)}, got {self.relabel!r}")


@struct.dataclass
class SACHyper:
    learning_rate: jax.Array
    alpha_learning_rate: jax.Array
    gamma: jax.Array
    tau: jax.Array
    target_entropy: jax.Array

    @classmethod
    def from_config(cls, cfg: SACConfig, action_size: int) -> "SACHyper":
        target = -float(action_size) if cfg.target_entropy is None else cfg.target_entropy
        f = lambda v: jnp.asarray(v, jnp.float32)
        return cls(f(cfg.learning_rate), f(cfg.alpha_learning_rate), f(cfg.gamma), f(cfg.tau), f(target))


@struct.dataclass
class SACState:
    actor: dict
    critic: dict
    target_critic: dict
    log_alpha: jax.Array
    actor_opt: optax.OptState
    critic_opt: optax.OptState
    alpha_opt: optax.OptState
    hyper: SACHyper


class _Actor(nn.Module):
    hidden: tuple[int, ...]
    action_size: int
    act: str

    @nn.compact
    def __call__(self, obs):
        x = obs
        for w in self.hidden:
            x = activation(self.act)(Dense(w)(x))
        mean = Dense(self.action_size)(x)
        log_std = Dense(self.action_size)(x)
        return mean, log_std


class _TwinQ(nn.Module):
    """Two independent Q networks on (obs, action): returns [2, ...]."""

    hidden: tuple[int, ...]
    act: str
    layer_norm: bool

    @nn.compact
    def __call__(self, obs, action):
        x = jnp.concatenate([obs, action], axis=-1)
        return jnp.stack([_QHead(self.hidden, self.act, self.layer_norm, name=f"q{i}")(x) for i in range(2)])


class _QHead(nn.Module):
    hidden: tuple[int, ...]
    act: str
    layer_norm: bool

    @nn.compact
    def __call__(self, x):
        for w in self.hidden:
            x = Dense(w)(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = activation(self.act)(x)
        return Dense(1)(x)[..., 0]


class SAC:
    """SAC for one observation/action signature (continuous actions only)."""

    def __init__(self, cfg: SACConfig, observation_size: int, action_size: int, discrete: bool):
        if discrete:
            raise ValueError("learner 'sac' needs continuous actions; use --learner ppo for discrete environments")
        self.cfg = cfg
        self.observation_size = observation_size
        self.action_size = action_size
        self.actor_net = _Actor(cfg.actor_hidden, action_size, cfg.activation)
        self.critic_net = _TwinQ(cfg.critic_hidden, cfg.activation, cfg.layer_norm)
        clip = [optax.clip_by_global_norm(cfg.max_grad_norm)] if cfg.max_grad_norm > 0 else []
        # Step sizes are applied by hand from SACHyper so they can be vmapped.
        self.optimizer = optax.chain(*clip, optax.scale_by_adam())
        self.alpha_optimizer = optax.scale_by_adam()

    def init(self, rng: jax.Array) -> SACState:
        k_a, k_c = jax.random.split(rng)
        obs = jnp.zeros((1, self.observation_size))
        act = jnp.zeros((1, self.action_size))
        actor = self.actor_net.init(k_a, obs)
        critic = self.critic_net.init(k_c, obs, act)
        log_alpha = jnp.asarray(jnp.log(self.cfg.init_alpha), jnp.float32)
        return SACState(
            actor, critic, critic, log_alpha,
            self.optimizer.init(actor), self.optimizer.init(critic), self.alpha_optimizer.init(log_alpha),
            SACHyper.from_config(self.cfg, self.action_size),
        )

    def distribution(self, actor_params, obs) -> distributions.TanhNormal:
        mean, log_std = self.actor_net.apply(actor_params, obs)
        return distributions.make("tanh_normal", mean, log_std)

    def act(self, state: SACState, obs: jax.Array, rng: jax.Array, deterministic: bool = False):
        """obs: [B, D] normalised -> (env_action, raw, log_prob [B], value [B] (zeros))."""
        dist = self.distribution(state.actor, obs)
        raw = dist.mode() if deterministic else dist.sample(rng)
        return dist.to_env(raw), raw, dist.log_prob(raw), jnp.zeros(obs.shape[:-1])

    def reset_critic(self, state: SACState, rng: jax.Array) -> SACState:
        """Fresh critics (targets equal to them) and critic optimiser; actor and temperature kept."""
        critic = self.critic_net.init(rng, jnp.zeros((1, self.observation_size)), jnp.zeros((1, self.action_size)))
        return state.replace(critic=critic, target_critic=critic, critic_opt=self.optimizer.init(critic))

    def q_values(self, critic_params, obs, action):
        """[2, N] twin Q-values."""
        return self.critic_net.apply(critic_params, obs, action)

    def update(self, state: SACState, batch: dict, rng: jax.Array) -> tuple[SACState, dict]:
        """One gradient step on a sampled minibatch.

        batch: obs [N, D], action [N, A] (in [-1, 1]), reward [N], next_obs [N, D],
        termination [N] (1.0 stops the bootstrap; truncations are not terminations).
        """
        h = state.hyper
        k_next, k_pi = jax.random.split(rng)
        alpha = jnp.exp(state.log_alpha)

        next_dist = self.distribution(state.actor, batch["next_obs"])
        next_raw = next_dist.sample(k_next)
        next_logp = next_dist.log_prob(next_raw)
        next_q = jnp.min(self.q_values(state.target_critic, batch["next_obs"], next_dist.to_env(next_raw)), axis=0)
        target = batch["reward"] + h.gamma * (1.0 - batch["termination"]) * (next_q - alpha * next_logp)
        target = jax.lax.stop_gradient(target)

        def critic_loss(params):
            q = self.q_values(params, batch["obs"], batch["action"])
            return 0.5 * jnp.mean(jnp.sum((q - target) ** 2, axis=0)), q

        (c_loss, q), c_grads = jax.value_and_grad(critic_loss, has_aux=True)(state.critic)
        c_updates, critic_opt = self.optimizer.update(c_grads, state.critic_opt, state.critic)
        critic = optax.apply_updates(state.critic, jax.tree.map(lambda u: -h.learning_rate * u, c_updates))

        def actor_loss(params):
            dist = self.distribution(params, batch["obs"])
            raw = dist.sample(k_pi)
            logp = dist.log_prob(raw)
            q_pi = jnp.min(self.q_values(critic, batch["obs"], dist.to_env(raw)), axis=0)
            return jnp.mean(alpha * logp - q_pi), logp

        (a_loss, logp), a_grads = jax.value_and_grad(actor_loss, has_aux=True)(state.actor)
        a_updates, actor_opt = self.optimizer.update(a_grads, state.actor_opt, state.actor)
        actor = optax.apply_updates(state.actor, jax.tree.map(lambda u: -h.learning_rate * u, a_updates))

        def alpha_loss(log_alpha):
            return -jnp.mean(log_alpha * jax.lax.stop_gradient(logp + h.target_entropy))

        al_loss, al_grad = jax.value_and_grad(alpha_loss)(state.log_alpha)
        al_update, alpha_opt = self.alpha_optimizer.update(al_grad, state.alpha_opt)
        log_alpha = state.log_alpha - h.alpha_learning_rate * al_update

        target_critic = jax.tree.map(lambda t, p: (1.0 - h.tau) * t + h.tau * p, state.target_critic, critic)
        new_state = SACState(actor, critic, target_critic, log_alpha, actor_opt, critic_opt, alpha_opt, h)
        metrics = {
            "loss/critic": c_loss,
            "loss/actor": a_loss,
            "loss/alpha": al_loss,
            "sac/alpha": alpha,
            "sac/q_mean": jnp.mean(q),
            "sac/entropy": -jnp.mean(logp),
        }
        return new_state, metrics
