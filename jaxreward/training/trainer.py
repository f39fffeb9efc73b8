"""The compiled training step.

    TrainState = (agent, reward model, env state, obs normaliser, rng, episode stats,
                  replay buffer (SAC), counter)
    iteration(TrainState) -> (TrainState, metrics):
        rollout   lax.scan over T steps of the vmapped env and the policy
        rewards   the composed reward model scores the batch (split into an extrinsic
                  and an intrinsic stream when an intrinsic term is present)
        update    the reward model learns on the batch
        learn     PPO: epochs and minibatches on the rollout's proxy reward;
                  SAC: insert into the replay buffer, then gradient steps on sampled
                  batches whose rewards are relabelled by the current reward model

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
from jaxreward.agents import replay
from jaxreward.agents.ppo import PPO, PPOBatch, PPOState
from jaxreward.agents.sac import SAC
from jaxreward.nets.normalizer import Normalizer
from jaxreward.rewards.base import RewardSpec, Scored, TransitionBatch
from jaxreward.rewards.registry import make_composite
from jaxreward.runs import RUNS_AXIS, any_run
from jaxreward.training.config import TrainConfig
from jaxreward.training.rollout import EpisodeStats, account_episodes, rollout
from jaxreward.training.threefry_cpu import use_straight_line_threefry

#: Name of the vmapped axis of runs (seeds x sweep variants) in `Trainer.chunk_fn`; the
#: env's auto-reset reduces its "any env finished" predicate over it (see envs.AutoReset).


@struct.dataclass
class TrainState:
    agent: PPOState
    reward: object  # the composite reward model's state
    env: State  # batched over num_envs
    normalizer: Normalizer
    rng: jax.Array
    episodes: EpisodeStats
    buffer: replay.ReplayBuffer | None  # off-policy learners only
    iteration: jax.Array  # [] int32, training iterations done


def _reward_terms(env) -> tuple[str, ...]:
    """The names of the env's `metrics["reward/<term>"]`, from the shapes of a reset (traced, not compiled)."""
    metrics = jax.eval_shape(env.reset, jax.random.PRNGKey(0)).metrics
    return tuple(sorted(k.removeprefix("reward/") for k in metrics if k.startswith("reward/")))


class Trainer:
    """Builds the env, agent and reward model of one `TrainConfig` (all static)."""

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
        # Intrinsic terms keep per-env state (on-policy rollouts only) and reach the learner
        # as their own stream unless routed to the extrinsic one (`stream=ext`).
        self.two_heads = self.reward_model.two_streams
        if (self.reward_model.intrinsic or self.two_heads) and cfg.learner != "ppo":
            rm = self.reward_model
            names = [t.name for t, m, s in zip(rm.terms, rm.models, rm.in_intrinsic_stream) if m.intrinsic or s]
            raise ValueError(f"intrinsic reward terms ({', '.join(names)}) need learner 'ppo' (episodic memories, "
                             f"two value heads), got {cfg.learner!r}")
        if cfg.learner == "sac":
            self.agent = SAC(cfg.sac, obs_size, action_size, self.env.discrete)
        else:
            self.agent = PPO(cfg.ppo, obs_size, action_size, self.env.discrete, intrinsic=self.two_heads)
        # A random-policy warm-up for reward statistics (RND's observation normaliser) runs
        # in `init`, outside the vmapped runs axis, so it steps an env without the axis name.
        self.warmup_env = envs.training_wrap(base, frames=self.reward_model.frames) if self.reward_model.warmup_steps else None
        relabel = cfg.sac.relabel
        if relabel == "auto":
            # Scoring each sampled batch with the current model gives every update the rewards
            # a full relabel would, at a batch's cost instead of the buffer's.
            relabel = "batch" if self.reward_model.learned else "none"
        self.relabel = relabel
        self.term_names = [t.name for t in self.reward_model.terms]
        self.stream_names = ["gold_return", "proxy_return", "episode_length"] + [
            f"term_return/{n}" for n in self.term_names
        ]
        self._chunk_cache = {}
        self._init_fn = None

    # ---- one seed ---------------------------------------------------------------------
    def init(self, rng: jax.Array) -> TrainState:
        k_agent, k_reward, k_env, k_run = jax.random.split(rng, 4)
        env_state = self.env.reset(jax.random.split(k_env, self.cfg.num_envs))
        buffer = None
        if self.cfg.learner == "sac":
            buffer = replay.create(self._replay_item(jax.tree.map(lambda x: x[0], env_state)), self.cfg.sac.buffer_size)
        reward_state = self.reward_model.init(k_reward)
        if self.warmup_env is not None:
            reward_state = self._warm_up_reward(reward_state, jax.random.fold_in(k_reward, 1))
        return TrainState(
            agent=self.agent.init(k_agent),
            reward=reward_state,
            env=env_state,
            normalizer=Normalizer.create(self.env.observation_size),
            rng=k_run,
            episodes=EpisodeStats.create(self.stream_names, self.cfg.num_envs),
            buffer=buffer,
            iteration=jnp.zeros((), jnp.int32),
        )

    def _warm_up_reward(self, reward_state, rng):
        """Shows the reward model `warmup_steps` per env of uniformly random actions."""
        env = self.warmup_env
        k_reset, k_roll = jax.random.split(rng)

        def random_policy(obs, key):
            if env.discrete:
                action = jax.random.randint(key, obs.shape[:1], 0, env.action_size, jnp.int32)
            else:
                action = jax.random.uniform(key, obs.shape[:1] + (env.action_size,), minval=-1.0, maxval=1.0)
            zeros = jnp.zeros(obs.shape[:1])
            return action, action, zeros, zeros

        start = env.reset(jax.random.split(k_reset, self.cfg.num_envs))
        _, roll = rollout(env, random_policy, start, k_roll, self.reward_model.warmup_steps, self.reward_model.frames)
        return self.reward_model.observe(reward_state, roll.transitions)

    def _replay_item(self, env_state: State) -> dict:
        """One stored transition: what SAC and every reward model need to re-score it."""
        action = self.env.dummy_action()
        return {
            "obs": env_state.obs,
            "action": action,
            "next_obs": env_state.obs,
            "gold_reward": env_state.reward,
            "done": env_state.done,
            "truncation": env_state.info["truncation"],
            "metrics": dict(env_state.metrics),
            "reward": env_state.reward,
        }

    def _normalize(self, normalizer: Normalizer, obs):
        return normalizer(obs) if self.cfg.normalize_obs else obs

    def iteration(self, ts: TrainState) -> tuple[TrainState, dict]:
        cfg = self.cfg
        rng, k_roll, k_reward, k_learn = jax.random.split(ts.rng, 4)

        env_state, roll = rollout(self.env, self._behaviour_policy(ts), ts.env, k_roll, cfg.unroll_length, self.reward_model.frames)
        batch = roll.transitions

        if self.two_heads:
            extrinsic, intrinsic, reward_info = self.reward_model.split_reward(ts.reward, batch)
            proxy = extrinsic + intrinsic
        else:
            proxy, reward_info = self.reward_model.reward(ts.reward, batch)
            extrinsic = intrinsic = None
        reward_state, reward_metrics = self.reward_model.update(ts.reward, batch, Scored(proxy, reward_info), k_reward)

        if cfg.learner == "sac":
            agent_state, buffer, agent_metrics = self._learn_sac(ts, batch, proxy, reward_state, k_learn)
        else:
            agent_state, agent_metrics = self._learn_ppo(ts, roll, proxy if extrinsic is None else extrinsic, intrinsic, env_state.obs, k_learn)
            buffer = ts.buffer
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
        new_ts = TrainState(agent_state, reward_state, env_state, normalizer, rng, episodes, buffer, ts.iteration + 1)
        return new_ts, metrics

    def _behaviour_policy(self, ts: TrainState):
        def policy(obs, key):
            out = self.agent.act(ts.agent, self._normalize(ts.normalizer, obs), key)
            if self.cfg.learner != "sac":
                return out
            # Uniform random actions until `learning_starts` env steps (per seed).
            warmup = ts.iteration * self.cfg.unroll_length * self.cfg.num_envs < self.cfg.sac.learning_starts
            uniform = jax.random.uniform(jax.random.fold_in(key, 1), out[0].shape, minval=-1.0, maxval=1.0)
            return (jnp.where(warmup, uniform, out[0]),) + tuple(out[1:])

        return policy

    def _learn_ppo(self, ts: TrainState, roll, reward, reward_int, env_obs, rng):
        """reward: [T, B] the (extrinsic) reward; reward_int: [T, B] the intrinsic stream,
        or None with one value head (then roll.value is [T, B], else [T, B, 2]); env_obs:
        [B, D] the observation the rollout ended on."""
        batch = roll.transitions
        value, value_int = (roll.value[..., 0], roll.value[..., 1]) if self.two_heads else (roll.value, None)
        ppo_batch = PPOBatch(
            obs=self._normalize(ts.normalizer, batch.obs),
            next_obs=self._normalize(ts.normalizer, batch.next_obs),
            raw_action=roll.raw_action,
            log_prob=roll.log_prob,
            value=value,
            reward=reward,
            termination=batch.done * (1.0 - batch.truncation),
            done=batch.done,
            reward_int=reward_int,
            value_int=value_int,
            bootstrap_obs=None if reward_int is None else self._normalize(ts.normalizer, env_obs),
        )
        return self.agent.learn(ts.agent, ppo_batch, rng)

    def _score(self, reward_state, items: dict) -> jax.Array:
        """The composed reward of stored transitions (leading axis N) -> [N]."""
        as_batch = TransitionBatch(
            obs=items["obs"][None], action=items["action"][None], next_obs=items["next_obs"][None],
            gold_reward=items["gold_reward"][None], done=items["done"][None],
            truncation=items["truncation"][None], metrics=jax.tree.map(lambda x: x[None], items["metrics"]),
        )
        return self.reward_model.reward(reward_state, as_batch)[0][0]

    def _learn_sac(self, ts: TrainState, batch: TransitionBatch, proxy, reward_state, rng):
        cfg = self.cfg
        flat = lambda x: x.reshape((-1,) + x.shape[2:])
        items = {
            "obs": batch.obs, "action": batch.action, "next_obs": batch.next_obs, "gold_reward": batch.gold_reward,
            "done": batch.done, "truncation": batch.truncation, "metrics": dict(batch.metrics), "reward": proxy,
        }
        buffer = replay.add(ts.buffer, jax.tree.map(flat, items))
        relabel_metrics = {}
        if self.relabel == "all":
            # PEBBLE: the whole buffer re-scored by the reward model just updated — only on
            # iterations where the update changed the model (for preference rewards, the
            # feedback sessions), since re-scoring costs a pass over the whole buffer.
            due = self.reward_model.changed(ts.reward, reward_state)

            def relabel(data):
                return dict(data, reward=jnp.where(due, self._score(reward_state, data), data["reward"]))

            buffer = buffer.replace(data=jax.lax.cond(any_run(due), relabel, lambda d: d, buffer.data))
            relabel_metrics["sac/relabelled"] = due.astype(jnp.float32)

        def grad_step(agent_state, key):
            k_sample, k_update = jax.random.split(key)
            sampled = replay.sample(buffer, k_sample, cfg.sac.batch_size)
            reward = self._score(reward_state, sampled) if self.relabel == "batch" else sampled["reward"]
            minibatch = {
                "obs": self._normalize(ts.normalizer, sampled["obs"]),
                "action": sampled["action"],
                "reward": reward,
                "next_obs": self._normalize(ts.normalizer, sampled["next_obs"]),
                "termination": sampled["done"] * (1.0 - sampled["truncation"]),
            }
            return self.agent.update(agent_state, minibatch, k_update)

        num_updates = cfg.unroll_length * cfg.sac.grad_updates_per_step
        new_agent, metrics = jax.lax.scan(grad_step, ts.agent, jax.random.split(rng, num_updates))
        env_steps = (ts.iteration + 1) * cfg.unroll_length * cfg.num_envs
        learning = env_steps >= cfg.sac.learning_starts
        agent_state = jax.tree.map(lambda new, old: jnp.where(learning, new, old), new_agent, ts.agent)
        if cfg.sac.reset_critic_at:
            # PEBBLE: the critic fitted to the pre-training bonus is dropped when the learned
            # reward takes over (the step count crossing `reset_critic_at` in this iteration).
            before = ts.iteration * cfg.unroll_length * cfg.num_envs
            crossing = (before < cfg.sac.reset_critic_at) & (env_steps >= cfg.sac.reset_critic_at)
            fresh = self.agent.reset_critic(agent_state, jax.random.fold_in(rng, 1))
            agent_state = jax.tree.map(lambda f, a: jnp.where(crossing, f, a), fresh, agent_state)
        metrics = jax.tree.map(jnp.mean, metrics)
        metrics["sac/buffer_size"] = buffer.size.astype(jnp.float32)
        metrics |= relabel_metrics
        return agent_state, buffer, metrics

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
            env_action, *_ = self.agent.act(ts.agent, self._normalize(ts.normalizer, obs), jax.random.PRNGKey(0), True)
            return env_action

        return act
