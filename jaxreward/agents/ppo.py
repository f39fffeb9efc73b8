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

Two value heads (`PPO(..., intrinsic=True)`, used when the reward has an intrinsic term),
after Burda et al., "Exploration by Random Network Distillation" (2019): the extrinsic and
intrinsic rewards get their own value heads — two linear outputs on one value torso, as in
the reference, which shares its trunk between them — returns and GAE advantages; the intrinsic
stream has its own discount (`int_gamma`, 0.99) and by default ignores episode ends
(`int_episodic=False`: novelty does not stop at a reset); the policy follows
`ext_coef·A_ext + int_coef·A_int` (2 and 1, the paper's). Each stream bootstraps from its
own head (bootstrapping the intrinsic GAE from the extrinsic head would mix the two returns).
The non-episodic intrinsic stream continues its trace into the next episode and bootstraps
an episode's last step from V_int of the reset observation that follows, as the reference
does (not from the final observation: see `advantages`). Deviation: γ_ext stays `gamma`
(0.99 here; the paper's Atari runs used 0.999).

Optimisation pressure (Gao, Schulman, Hilton, "Scaling Laws for Reward Model
Overoptimization", ICML 2023, measure it as d = sqrt(KL(π ‖ π_init))): with
`track_kl_to_init` the initial policy parameters are kept in the state and every update logs
`ppo/kl_to_init`, the closed-form KL(π(·|s) ‖ π_init(·|s)) averaged over the rollout's states
(a per-step KL, not the per-episode one of language-model work). `kl_to_init_coef` > 0 adds
that KL, on each minibatch, to the loss — a penalty on the policy itself rather than the
sample-based penalty in the reward that RLHF uses, so its gradient is exact. Both off (the
default), PPO runs the same program as without them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxreward import sgd
from jaxreward.agents import distributions
from jaxreward.agents.gae import gae
from jaxreward.agents.networks import ACTIVATIONS, PolicyHead, ValueHead
from jaxreward.nets.normalizer import Normalizer


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
    #: The intrinsic stream (only with two value heads, see the module docstring).
    int_gamma: float = 0.99
    ext_coef: float = 2.0
    int_coef: float = 1.0
    int_episodic: bool = False
    #: Divide the (extrinsic) rewards by the running std of each env's discounted return
    #: (see `agents/ppo_learner.py`): keeps value targets near unit scale whatever the task's
    #: reward scale, so the value loss does not dominate the clipped gradient.
    normalize_rewards: bool = False
    #: Keep π_init and log ppo/kl_to_init (see the module docstring).
    track_kl_to_init: bool = False
    #: Weight of KL(π ‖ π_init) in the loss (static; > 0 needs track_kl_to_init).
    kl_to_init_coef: float = 0.0

    def validate(self) -> None:
        """Raises ValueError naming the first invalid field."""
        positive = ("unroll_length", "num_minibatches", "update_epochs", "learning_rate")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"ppo.{name} must be positive, got {getattr(self, name)}")
        for name in ("gamma", "gae_lambda", "int_gamma"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"ppo.{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("clip_eps", "entropy_coef", "value_coef", "max_grad_norm", "ext_coef", "int_coef"):
            if getattr(self, name) < 0:
                raise ValueError(f"ppo.{name} must be >= 0, got {getattr(self, name)}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"ppo.activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if self.action_dist not in distributions.KINDS:
            raise ValueError(f"ppo.action_dist must be one of {', '.join(distributions.KINDS)}, got {self.action_dist!r}")
        if self.kl_to_init_coef < 0:
            raise ValueError(f"ppo.kl_to_init_coef must be >= 0, got {self.kl_to_init_coef}")
        if self.kl_to_init_coef > 0 and not self.track_kl_to_init:
            raise ValueError("ppo.kl_to_init_coef > 0 needs ppo.track_kl_to_init=True (the penalty needs the initial policy)")
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
    int_gamma: jax.Array
    ext_coef: jax.Array
    int_coef: jax.Array

    @classmethod
    def from_config(cls, cfg: PPOConfig) -> "PPOHyper":
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{n: jnp.asarray(getattr(cfg, n), jnp.float32) for n in names})


@struct.dataclass
class PPOState:
    params: dict  # {"policy": ..., "value": ...} (the value net has 2 outputs with two heads)
    opt_state: optax.OptState
    hyper: PPOHyper
    #: The initial policy parameters, kept only with `track_kl_to_init` (None: no leaves).
    init_policy: dict | None = None
    #: With `normalize_rewards`: each env's running discounted return [B] and the running
    #: statistics of those returns ([1]); None otherwise.
    reward_trace: jax.Array | None = None
    reward_stats: Normalizer | None = None


@struct.dataclass
class PPOBatch:
    """An on-policy rollout as PPO consumes it (leading axes [T, B]).

    `reward_int` and `value_int` are the intrinsic stream, present only with two value heads.
    """

    obs: jax.Array  # [T, B, D] normalised
    next_obs: jax.Array  # [T, B, D] normalised; the final observation at episode ends
    raw_action: jax.Array  # [T, B, A] pre-squash sample, or [T, B] int for discrete
    log_prob: jax.Array  # [T, B] behaviour log-probability
    value: jax.Array  # [T, B] V(obs) at rollout time
    reward: jax.Array  # [T, B] the reward being optimised
    termination: jax.Array  # [T, B]
    done: jax.Array  # [T, B]
    reward_int: jax.Array | None = None  # [T, B]
    value_int: jax.Array | None = None  # [T, B] V_int(obs) at rollout time
    #: [B, D] normalised: the observation the rollout ends on (after any reset), where a
    #: non-episodic intrinsic trace continues; None: next_obs[-1] (the same unless the last
    #: step ended an episode).
    bootstrap_obs: jax.Array | None = None


class PPO:
    """PPO for one observation/action signature. Holds only static structure."""

    def __init__(self, cfg: PPOConfig, observation_size: int, action_size: int, discrete: bool, intrinsic: bool = False):
        self.cfg = cfg
        self.intrinsic = intrinsic
        self.observation_size = observation_size
        self.action_size = action_size
        self.discrete = discrete
        self.dist_kind = "categorical" if discrete else cfg.action_dist
        self.policy_net = PolicyHead(cfg.policy_hidden, action_size, discrete, cfg.activation, cfg.init_log_std)
        self.value_net = ValueHead(cfg.value_hidden, cfg.activation, num_outputs=2 if intrinsic else 1)
        # The learning rate is applied by hand (from PPOHyper) so that it can be vmapped.
        self.optimizer = optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), optax.scale_by_adam(eps=1e-5))

    def init(self, rng: jax.Array) -> PPOState:
        k_pi, k_v = jax.random.split(rng)
        dummy = jnp.zeros((1, self.observation_size))
        params = {"policy": self.policy_net.init(k_pi, dummy), "value": self.value_net.init(k_v, dummy)}
        init_policy = params["policy"] if self.cfg.track_kl_to_init else None
        return PPOState(params, self.optimizer.init(params), PPOHyper.from_config(self.cfg), init_policy)

    def distribution(self, params, obs):
        head, log_std = self.policy_net.apply(params["policy"], obs)
        return distributions.make(self.dist_kind, head, log_std)

    def values(self, params, obs):
        """V(obs) [...] with one head; [..., 2] (extrinsic, intrinsic) with two."""
        return self.value_net.apply(params["value"], obs)

    def kl_to_init(self, params, init_policy, obs):
        """[...] KL(π(·|obs) ‖ π_init(·|obs))."""
        return distributions.kl_divergence(self.distribution(params, obs), self.distribution({"policy": init_policy}, obs))

    def value(self, params, obs):
        """The extrinsic (or only) value [...]."""
        v = self.values(params, obs)
        return v[..., 0] if self.intrinsic else v

    def value_int(self, params, obs):
        """The intrinsic value [...] (two heads only)."""
        return self.values(params, obs)[..., 1]

    def act(self, state: PPOState, obs: jax.Array, rng: jax.Array, deterministic: bool = False):
        """obs: [B, D] normalised. Returns (env_action, raw_action, log_prob [B], value),
        value [B], or [B, 2] (extrinsic, intrinsic) with two value heads."""
        dist = self.distribution(state.params, obs)
        raw = dist.mode() if deterministic else dist.sample(rng)
        return dist.to_env(raw), raw, dist.log_prob(raw), self.values(state.params, obs)

    def advantages(self, params, hyper: PPOHyper, batch: PPOBatch):
        """GAE of the rollout under `params`.

        Returns (advantages [T, B], returns): returns is [T, B] with one value head, and the
        pair (extrinsic returns, intrinsic returns) with two; the advantages are then
        `ext_coef·A_ext + int_coef·A_int`, each stream bootstrapped from its own head.
        """
        next_values = self.values(params, batch.next_obs)
        next_ext = next_values[..., 0] if self.intrinsic else next_values
        advantages, returns = gae(
            batch.reward, batch.value, next_ext, batch.termination, batch.done, hyper.gamma, hyper.gae_lambda
        )
        if not self.intrinsic:
            return advantages, returns
        next_int = next_values[..., 1]
        if self.cfg.int_episodic:
            termination, done = batch.termination, batch.done
        else:
            termination = done = jnp.zeros_like(batch.done)
            # The trace runs on into the next episode, so an episode's last step bootstraps
            # from the observation that follows it in the rollout — the reset one — not from
            # the final one: a terminal state (a goal) is never an input the value head trains
            # on, and its observation can lie far outside the normaliser's statistics, so
            # V_int there is an arbitrary extrapolation that became the target of every
            # goal-reaching step. V_int(obs[t+1]) is value_int[t+1] (same parameters).
            last = batch.next_obs[-1] if batch.bootstrap_obs is None else batch.bootstrap_obs
            following = jnp.concatenate([batch.value_int[1:], self.values(params, last)[None, ..., 1]])
            next_int = jnp.where(batch.done > 0, following, next_int)
        adv_int, ret_int = gae(batch.reward_int, batch.value_int, next_int, termination, done, hyper.int_gamma, hyper.gae_lambda)
        return hyper.ext_coef * advantages + hyper.int_coef * adv_int, (returns, ret_int)

    def loss(self, params, hyper: PPOHyper, mb: PPOBatch, advantages, returns, rng, init_policy=None):
        """PPO loss on a flat minibatch ([N] leading axis). Returns (loss, metrics).
        `init_policy` is used only with `kl_to_init_coef` > 0."""
        dist = self.distribution(params, mb.obs)
        log_prob = dist.log_prob(mb.raw_action)
        ratio = jnp.exp(log_prob - mb.log_prob)
        adv = advantages
        if self.cfg.normalize_advantages:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        clipped = jnp.clip(ratio, 1.0 - hyper.clip_eps, 1.0 + hyper.clip_eps)
        policy_loss = -jnp.mean(jnp.minimum(ratio * adv, clipped * adv))

        if self.intrinsic:
            ret_ext, ret_int = returns
            values = self.values(params, mb.obs)
            value_loss = self._value_loss(values[..., 0], mb.value, ret_ext, hyper)
            value_int_loss = self._value_loss(values[..., 1], mb.value_int, ret_int, hyper)
        else:
            value_loss = self._value_loss(self.value(params, mb.obs), mb.value, returns, hyper)

        entropy = jnp.mean(dist.entropy(rng))
        value_total = value_loss + value_int_loss if self.intrinsic else value_loss
        total = policy_loss + hyper.value_coef * value_total - hyper.entropy_coef * entropy
        metrics = {
            "loss/policy": policy_loss,
            "loss/value": value_loss,
            "loss/entropy": entropy,
            "ppo/approx_kl": jnp.mean((ratio - 1.0) - jnp.log(ratio)),
            "ppo/clip_fraction": jnp.mean((jnp.abs(ratio - 1.0) > hyper.clip_eps).astype(jnp.float32)),
        }
        if self.intrinsic:
            metrics["loss/value_int"] = value_int_loss
        if self.cfg.kl_to_init_coef > 0:
            kl_init = jnp.mean(self.kl_to_init(params, init_policy, mb.obs))
            total = total + self.cfg.kl_to_init_coef * kl_init
            metrics["loss/kl_to_init"] = kl_init
        return total, metrics

    def _value_loss(self, value, old_value, returns, hyper: PPOHyper):
        loss = (value - returns) ** 2
        if self.cfg.clip_value:
            v_clipped = old_value + jnp.clip(value - old_value, -hyper.clip_eps, hyper.clip_eps)
            loss = jnp.maximum(loss, (v_clipped - returns) ** 2)
        return 0.5 * jnp.mean(loss)

    def learn(self, state: PPOState, batch: PPOBatch, rng: jax.Array) -> tuple[PPOState, dict]:
        """`update_epochs` passes of `num_minibatches` minibatch steps over the rollout."""
        cfg, hyper = self.cfg, state.hyper
        advantages, returns = self.advantages(state.params, hyper, batch)
        # Only the fields the loss reads are shuffled (take_rows gathers them together).
        used = batch.replace(next_obs=None, reward=None, termination=None, done=None, reward_int=None, bootstrap_obs=None)
        flat = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), (used, advantages, returns))
        n = flat[1].shape[0]
        K = cfg.num_minibatches

        def loss_fn(params, minibatch, key):
            mb_batch, mb_adv, mb_ret = minibatch
            return self.loss(params, hyper, mb_batch, mb_adv, mb_ret, key, state.init_policy)

        def scale_by_step_size(grads, opt_state, params):
            # The step size is a vmappable leaf of `hyper`, applied after the optimiser's
            # clipping and Adam scaling.
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            return jax.tree.map(lambda u: -hyper.learning_rate * u, updates), opt_state

        # Each epoch's key splits into one for its permutation and one for its K minibatch keys.
        k_perm, k_ent = jnp.moveaxis(jax.vmap(jax.random.split)(jax.random.split(rng, cfg.update_epochs)), 1, 0)
        params, opt_state, trace = sgd.minibatch_sgd(
            loss_fn, optax.GradientTransformation(self.optimizer.init, scale_by_step_size), state.params, state.opt_state,
            flat, sgd.shuffled(n, K), epoch_keys=k_perm, step_keys=jax.vmap(lambda k: jax.random.split(k, K))(k_ent),
            has_aux=True,
        )
        metrics = {**trace.aux, "ppo/grad_norm": trace.grad_norm}
        metrics = jax.tree.map(jnp.mean, metrics)
        ret_ext = returns[0] if self.intrinsic else returns
        metrics["ppo/explained_variance"] = 1.0 - jnp.var(ret_ext - batch.value) / (jnp.var(ret_ext) + 1e-8)
        if self.intrinsic:
            ret_int = returns[1]
            metrics["ppo/explained_variance_int"] = 1.0 - jnp.var(ret_int - batch.value_int) / (jnp.var(ret_int) + 1e-8)
        if self.cfg.track_kl_to_init:
            metrics["ppo/kl_to_init"] = jnp.mean(self.kl_to_init(params, state.init_policy, batch.obs))
        return state.replace(params=params, opt_state=opt_state), metrics
