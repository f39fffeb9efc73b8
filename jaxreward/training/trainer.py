"""The compiled training step.

    TrainState = (agent, reward model, env state, obs normaliser, rng, episode stats, counter)
    iteration(TrainState) -> (TrainState, metrics):
        rollout   lax.scan over T steps of the vmapped env and the policy
        rewards   the composed reward model scores the batch
        update    the reward model learns on the batch
        learn     PPO epochs and minibatches on the proxy reward

`Trainer.run_chunk` is one `jit` of `lax.scan(iteration)` vmapped over seeds; the host
loop (`training/loop.py`) calls it between log points. Everything that changes during
training is in `TrainState`, so a checkpoint of it resumes bit-for-bit and a `vmap` over it
runs seeds and variants in one program.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

import envs
from envs import State
from jaxreward.agents.ppo import PPO, PPOBatch, PPOState
from jaxreward.nets.normalizer import Normalizer
from jaxreward.rewards.base import RewardSpec
from jaxreward.rewards.registry import make_composite
from jaxreward.training.config import TrainConfig
from jaxreward.training.rollout import EpisodeStats, account_episodes, rollout


@struct.dataclass
class TrainState:
    agent: PPOState
    reward: object  # the composite reward model's state
    env: State  # batched over num_envs
    normalizer: Normalizer
    rng: jax.Array
    episodes: EpisodeStats
    iteration: jax.Array  # [] int32, training iterations done


class Trainer:
    """Builds the env, agent and reward model of one `TrainConfig` (all static)."""

    def __init__(self, cfg: TrainConfig):
        cfg.validate()
        self.cfg = cfg
        base = envs.make(cfg.env, episode_length=cfg.episode_length, **dict(cfg.env_options))
        self.env = envs.training_wrap(base)
        obs_size, action_size = self.env.observation_size, self.env.action_size
        self.agent = PPO(cfg.ppo, obs_size, action_size, self.env.discrete)
        self.spec = RewardSpec(obs_size, action_size, self.env.discrete, cfg.num_envs, cfg.ppo.unroll_length)
        self.reward_model = make_composite(self.spec, cfg.reward)
        self.term_names = [t.name for t in self.reward_model.terms]
        self.stream_names = ["gold_return", "proxy_return", "episode_length"] + [
            f"term_return/{n}" for n in self.term_names
        ]
        self._chunk_cache = {}

    # ---- one seed ---------------------------------------------------------------------
    def init(self, rng: jax.Array) -> TrainState:
        k_agent, k_reward, k_env, k_run = jax.random.split(rng, 4)
        env_state = self.env.reset(jax.random.split(k_env, self.cfg.num_envs))
        return TrainState(
            agent=self.agent.init(k_agent),
            reward=self.reward_model.init(k_reward),
            env=env_state,
            normalizer=Normalizer.create(self.env.observation_size),
            rng=k_run,
            episodes=EpisodeStats.create(self.stream_names, self.cfg.num_envs),
            iteration=jnp.zeros((), jnp.int32),
        )

    def _normalize(self, normalizer: Normalizer, obs):
        return normalizer(obs) if self.cfg.normalize_obs else obs

    def iteration(self, ts: TrainState) -> tuple[TrainState, dict]:
        cfg = self.cfg
        rng, k_roll, k_reward, k_learn = jax.random.split(ts.rng, 4)

        def policy(obs, key):
            return self.agent.act(ts.agent, self._normalize(ts.normalizer, obs), key)

        env_state, roll = rollout(self.env, policy, ts.env, k_roll, cfg.ppo.unroll_length)
        batch = roll.transitions

        proxy, reward_info = self.reward_model.reward(ts.reward, batch)
        reward_state, reward_metrics = self.reward_model.update(ts.reward, batch, k_reward)

        termination = batch.done * (1.0 - batch.truncation)
        ppo_batch = PPOBatch(
            obs=self._normalize(ts.normalizer, batch.obs),
            next_obs=self._normalize(ts.normalizer, batch.next_obs),
            raw_action=roll.raw_action,
            log_prob=roll.log_prob,
            value=roll.value,
            reward=proxy,
            termination=termination,
            done=batch.done,
        )
        agent_state, agent_metrics = self.agent.learn(ts.agent, ppo_batch, k_learn)
        # Updated after learning so the PPO ratios are computed under the normalisation
        # the behaviour policy acted with.
        normalizer = ts.normalizer.update(batch.obs) if cfg.normalize_obs else ts.normalizer

        streams = {"gold_return": batch.gold_reward, "proxy_return": proxy, "episode_length": jnp.ones_like(proxy)}
        streams |= {f"term_return/{n}": reward_info[f"term/{n}"] for n in self.term_names}
        success = batch.metrics.get("success", jnp.zeros_like(proxy))
        episodes, episode_metrics = account_episodes(ts.episodes, streams, batch.done, success)

        metrics = dict(episode_metrics)
        metrics |= {f"step_reward/{n}": jnp.mean(reward_info[f"term/{n}"]) for n in self.term_names}
        metrics |= agent_metrics | reward_metrics
        new_ts = TrainState(agent_state, reward_state, env_state, normalizer, rng, episodes, ts.iteration + 1)
        return new_ts, metrics

    # ---- compiled, vmapped over seeds ---------------------------------------------------
    def seed_keys(self, seed: int | None = None, num_seeds: int | None = None) -> jax.Array:
        """Keys of seeds seed, seed+1, ...: seed k of a multi-seed run equals a 1-seed run with seed k."""
        seed = self.cfg.seed if seed is None else seed
        n = self.cfg.num_seeds if num_seeds is None else num_seeds
        return jnp.stack([jax.random.PRNGKey(seed + i) for i in range(n)])

    def init_seeds(self, keys: jax.Array) -> TrainState:
        """keys: [S, 2]. Returns a TrainState with a leading seed axis (sharded, see `shardings`)."""
        state = jax.jit(jax.vmap(self.init))(keys)
        return jax.device_put(state, self.shardings(state))

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

            abstract = jax.eval_shape(jax.vmap(self.init), self.seed_keys())
            self._chunk_cache[num_iterations] = jax.jit(
                jax.vmap(chunk), donate_argnums=0, out_shardings=(self.shardings(abstract), None)
            )
        return self._chunk_cache[num_iterations]

    def evaluate_policy_fn(self):
        """Deterministic policy for evaluation: obs [B, D] -> env action."""

        def act(ts: TrainState, obs):
            env_action, *_ = self.agent.act(ts.agent, self._normalize(ts.normalizer, obs), jax.random.PRNGKey(0), True)
            return env_action

        return act
