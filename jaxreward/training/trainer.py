"""The compiled training step.

    TrainState = (learner state, reward model state, env state, obs normaliser, rng,
                  episode stats, counter)
    iteration(TrainState) -> (TrainState, metrics):
        rollout   lax.scan over T steps of the vmapped env and the learner's behaviour policy
        rewards   the composed reward model scores the batch once (split into an extrinsic
                  and an intrinsic stream when an intrinsic term is present)
        update    the reward model learns on the batch, reusing what scoring computed
        learn     the learner learns on the rollout and its rewards (`agents/base.py`)

The trainer composes env, reward model and learner and knows no learner by name: the
learner is built from the registry (`agents/registry.py`), and combinations it cannot support
(an intrinsic stream for a learner with one value, pixel or per-env rewards for a learner that
re-scores stored transitions) are refused here, before anything compiles.

`Trainer.run_chunk` is one `jit` of `lax.scan(iteration)` vmapped over seeds; the host
loop (`training/loop.py`) calls it between log points. Everything that changes during
training is in `TrainState`, so a checkpoint of it resumes bit-for-bit and a `vmap` over it
runs seeds and variants in one program.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

import envs
from envs import State
from jaxreward.agents import registry as learners
from jaxreward.agents.base import EnvSignature, Experience, LearnContext, RewardSignature
from jaxreward.nets.normalizer import Normalizer
from jaxreward.rewards.base import RewardSpec, Scored, TransitionBatch
from jaxreward.rewards.registry import make_composite
from jaxreward.runs import RUNS_AXIS
from jaxreward.training.config import TrainConfig
from jaxreward.training.rollout import EpisodeStats, account_episodes, rollout
from jaxreward.training.threefry_cpu import use_straight_line_threefry


@struct.dataclass
class TrainState:
    learner: object  # the learner's state (parameters, optimiser, replay buffer...)
    reward: object  # the composite reward model's state
    env: State  # batched over num_envs
    normalizer: Normalizer
    rng: jax.Array
    episodes: EpisodeStats
    iteration: jax.Array  # [] int32, training iterations done


def _reward_terms(env) -> tuple[str, ...]:
    """The names of the env's `metrics["reward/<term>"]`, from the shapes of a reset (traced, not compiled)."""
    metrics = jax.eval_shape(env.reset, jax.random.PRNGKey(0)).metrics
    return tuple(sorted(k.removeprefix("reward/") for k in metrics if k.startswith("reward/")))


def check_compatible(learner, reward_model) -> None:
    """Raises ValueError, naming the term and the learner, for a reward the learner cannot optimise."""
    rm = reward_model
    for term, model, in_int in zip(rm.terms, rm.models, rm.in_intrinsic_stream):
        if (model.intrinsic or in_int) and not learner.intrinsic_stream:
            raise ValueError(f"reward term {term.name!r} is intrinsic (per-env episodic memory or its own value stream); "
                             f"learner {learner.name!r} cannot optimise it: use a learner with an intrinsic stream (ppo)")
        if learner.rescores_transitions and model.frames is not None:
            raise ValueError(f"reward term {term.name!r} scores rendered frames, and learner {learner.name!r} re-scores "
                             f"stored transitions, which keep no frames: set sac.relabel=none")
        if learner.rescores_transitions and model.sequential:
            raise ValueError(f"reward term {term.name!r} depends on each env's previous steps (a carried state), so it "
                             f"cannot score a stored transition on its own, which learner {learner.name!r} does: "
                             f"set sac.relabel=none")


class Trainer:
    """Builds the env, learner and reward model of one `TrainConfig` (all static)."""

    def __init__(self, cfg: TrainConfig):
        cfg.validate()
        self.cfg = cfg
        # Before anything is lowered: the same random bits, compiled in a fraction of the time.
        use_straight_line_threefry()
        base = envs.make(cfg.env, episode_length=cfg.episode_length, **dict(cfg.env_options))
        self.env = envs.training_wrap(base, batch_axis=RUNS_AXIS)
        obs_size, action_size = self.env.observation_size, self.env.action_size
        self.spec = RewardSpec(obs_size, action_size, self.env.discrete, cfg.num_envs, cfg.unroll_length,
                               reward_terms=functools.cache(functools.partial(_reward_terms, base)))
        self.reward_model = make_composite(self.spec, cfg.reward)
        if self.reward_model.frames is not None:
            # Pixel rewards score the frame each step ended on, rendered before auto-reset.
            self.env = envs.training_wrap(base, batch_axis=RUNS_AXIS, frames=self.reward_model.frames)
        #: Intrinsic terms reach the learner as their own stream unless routed to the extrinsic one.
        self.two_heads = self.reward_model.two_streams
        changes = self.reward_model.learned or any(t.norm != "none" for t in self.reward_model.terms)
        self.learner = learners.get(cfg.learner).build(
            cfg.learner_config(), EnvSignature(obs_size, action_size, self.env.discrete, cfg.num_envs),
            RewardSignature(two_streams=self.two_heads, changes=changes),
        )
        check_compatible(self.learner, self.reward_model)
        # A random-policy warm-up for reward statistics (RND's observation normaliser) runs
        # in `init`, outside the vmapped runs axis, so it steps an env without the axis name.
        self.warmup_env = envs.training_wrap(base, frames=self.reward_model.frames) if self.reward_model.warmup_steps else None
        self.term_names = [t.name for t in self.reward_model.terms]
        self.stream_names = ["gold_return", "proxy_return", "episode_length"] + [
            f"term_return/{n}" for n in self.term_names
        ]
        self._chunk_cache = {}
        self._init_fn = None

    # ---- one seed ---------------------------------------------------------------------
    def init(self, rng: jax.Array) -> TrainState:
        k_learner, k_reward, k_env, k_run = jax.random.split(rng, 4)
        env_state = self.env.reset(jax.random.split(k_env, self.cfg.num_envs))
        reward_state = self.reward_model.init(k_reward)
        if self.warmup_env is not None:
            reward_state = self._warm_up_reward(reward_state, jax.random.fold_in(k_reward, 1))
        return TrainState(
            learner=self.learner.init(k_learner, self._example_transition(jax.tree.map(lambda x: x[0], env_state))),
            reward=reward_state,
            env=env_state,
            normalizer=Normalizer.create(self.env.observation_size),
            rng=k_run,
            episodes=EpisodeStats.create(self.stream_names, self.cfg.num_envs),
            iteration=jnp.zeros((), jnp.int32),
        )

    def _warm_up_reward(self, reward_state, rng):
        """Shows the reward model `warmup_steps` per env of uniformly random actions."""
        env = self.warmup_env
        k_reset, k_roll = jax.random.split(rng)

        def random_policy(obs, key):
            if env.discrete:
                return jax.random.randint(key, obs.shape[:1], 0, env.action_size, jnp.int32), {}
            return jax.random.uniform(key, obs.shape[:1] + (env.action_size,), minval=-1.0, maxval=1.0), {}

        start = env.reset(jax.random.split(k_reset, self.cfg.num_envs))
        _, roll = rollout(env, random_policy, start, k_roll, self.reward_model.warmup_steps, self.reward_model.frames)
        return self.reward_model.observe(reward_state, roll.transitions)

    def _example_transition(self, env_state: State) -> TransitionBatch:
        """One transition (no leading axes) shaped as the rollout's, without frames."""
        return TransitionBatch(
            obs=env_state.obs, action=self.env.dummy_action(), next_obs=env_state.obs, gold_reward=env_state.reward,
            done=env_state.done, truncation=env_state.info["truncation"], metrics=dict(env_state.metrics),
        )

    def _normalize(self, normalizer: Normalizer, obs):
        return normalizer(obs) if self.cfg.normalize_obs else obs

    def iteration(self, ts: TrainState) -> tuple[TrainState, dict]:
        rng, k_roll, k_reward, k_learn = jax.random.split(ts.rng, 4)

        def policy(obs, key):
            return self.learner.act(ts.learner, self._normalize(ts.normalizer, obs), key)

        env_state, roll = rollout(self.env, policy, ts.env, k_roll, self.learner.unroll_length, self.reward_model.frames)
        batch = roll.transitions

        # Without an intrinsic stream `intrinsic` is exactly zero, so the proxy is bitwise
        # the plain weighted sum of the terms.
        extrinsic, intrinsic, reward_info = self.reward_model.split_reward(ts.reward, batch)
        proxy = extrinsic + intrinsic
        reward_state, reward_metrics = self.reward_model.update(ts.reward, batch, Scored(proxy, reward_info), k_reward)

        ctx = LearnContext(
            normalize=functools.partial(self._normalize, ts.normalizer),
            score=functools.partial(self._score, reward_state),
            reward_changed=self.reward_model.changed(ts.reward, reward_state),
        )
        experience = Experience(
            transitions=batch, extras=roll.extras, reward=extrinsic if self.two_heads else proxy,
            reward_int=intrinsic if self.two_heads else None, last_obs=env_state.obs,
        )
        learner_state, learner_metrics = self.learner.learn(ts.learner, experience, ctx, k_learn)
        # Updated after learning so that the learner normalises the rollout as the
        # behaviour policy saw it.
        normalizer = ts.normalizer.update(batch.obs) if self.cfg.normalize_obs else ts.normalizer

        streams = {"gold_return": batch.gold_reward, "proxy_return": proxy, "episode_length": jnp.ones_like(proxy)}
        streams |= {f"term_return/{n}": reward_info[f"term/{n}"] for n in self.term_names}
        success = batch.metrics.get("success", jnp.zeros_like(proxy))
        episodes, episode_metrics = account_episodes(ts.episodes, streams, batch.done, success)

        metrics = dict(episode_metrics)
        metrics |= {f"step_reward/{n}": jnp.mean(reward_info[f"term/{n}"]) for n in self.term_names}
        metrics |= learner_metrics | reward_metrics
        new_ts = TrainState(learner_state, reward_state, env_state, normalizer, rng, episodes, ts.iteration + 1)
        return new_ts, metrics

    def _score(self, reward_state, transitions: TransitionBatch) -> jax.Array:
        """The composed reward of stored transitions (leading axis N, no pixels) -> [N]."""
        as_batch = jax.tree.map(lambda x: x[None], transitions)
        return self.reward_model.reward(reward_state, as_batch)[0][0]

    # ---- compiled, vmapped over seeds ---------------------------------------------------
    def seed_keys(self, seed: int | None = None, num_seeds: int | None = None) -> jax.Array:
        """Keys of seeds seed, seed+1, ...: seed k of a multi-seed run equals a 1-seed run with seed k."""
        seed = self.cfg.seed if seed is None else seed
        n = self.cfg.num_seeds if num_seeds is None else num_seeds
        return jnp.stack([jax.random.PRNGKey(seed + i) for i in range(n)])

    def init_seeds(self, keys: jax.Array) -> TrainState:
        """keys: [S, 2]. Returns a TrainState with a leading seed axis (sharded, see `shardings`)."""
        state = self._init_program()(keys)
        return jax.device_put(state, self.shardings(state))

    def _init_program(self):
        """jit(vmap(init)), one per trainer: compiled once however often a run (or test) re-inits,
        and traced once for both `init_seeds` and the shapes `chunk_fn` shards by."""
        if self._init_fn is None:
            self._init_fn = jax.jit(jax.vmap(self.init))
        return self._init_fn

    def shardings(self, state: TrainState):
        """Data parallelism over `jax.devices()`: the environment axis of the env state and
        of the per-env episode sums is split across devices; everything else (parameters,
        optimiser and reward-model state) is replicated. XLA inserts the collectives."""
        mesh = jax.sharding.Mesh(np.array(jax.devices()), ("envs",))
        replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
        per_env = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(None, "envs"))
        spec = jax.tree.map(lambda _: replicated, state)
        return spec.replace(
            env=jax.tree.map(lambda _: per_env, state.env),
            episodes=spec.episodes.replace(running=jax.tree.map(lambda _: per_env, state.episodes.running)),
        )

    def chunk_fn(self, num_iterations: int):
        """jit(vmap(scan(iteration))) for `num_iterations` iterations; cached per length."""
        if num_iterations not in self._chunk_cache:

            def chunk(ts: TrainState):
                return jax.lax.scan(lambda s, _: self.iteration(s), ts, None, length=num_iterations)

            abstract = self._init_program().eval_shape(self.seed_keys())
            self._chunk_cache[num_iterations] = jax.jit(
                jax.vmap(chunk, axis_name=RUNS_AXIS), donate_argnums=0, out_shardings=(self.shardings(abstract), None)
            )
        return self._chunk_cache[num_iterations]

    def evaluate_policy_fn(self):
        """Deterministic policy for evaluation: obs [B, D] -> env action."""

        def act(ts: TrainState, obs):
            env_action, _ = self.learner.act(ts.learner, self._normalize(ts.normalizer, obs), jax.random.PRNGKey(0), True)
            return env_action

        return act
