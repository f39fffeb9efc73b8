"""SAC as a `Learner`: a replay buffer, relabelling by the current reward model, uniform
warm-up actions and PEBBLE's critic reset.

Each iteration inserts the rollout's transitions (what a reward model needs to re-score
them: observations, actions, next observations, gold reward, done, truncation, env metrics;
no pixels) with the reward they were given, then takes `unroll_length ×
grad_updates_per_step` gradient steps on uniformly sampled minibatches. The reward a
gradient step sees depends on `relabel`:

- "batch": each sampled minibatch is scored by the current reward model (every update sees
  what a full relabel would give it, at a minibatch's cost);
- "all": PEBBLE's relabelling — the whole buffer is re-scored on iterations where the reward
  model's update may have changed a stored transition's score;
- "none": the reward given at insertion;
- "auto": "batch" when the reward of a stored transition can change during training (a
  learned model, or a term normalised by running statistics), else "none".

Until `learning_starts` env steps (per run) the behaviour policy is uniform and the agent
does not update; at `reset_critic_at` env steps the critics are re-initialised (PEBBLE drops
the critic fitted to its pre-training bonus).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxreward.agents import replay
from jaxreward.agents.base import EnvSignature, Experience, LearnContext, RewardSignature
from jaxreward.agents.sac import SAC, SACConfig, SACState
from jaxreward.runs import any_run


@struct.dataclass
class SACLearnerState:
    agent: SACState
    buffer: replay.ReplayBuffer  # items: {"transition": ..., "reward": []}
    env_steps: jax.Array  # [] int32 env steps collected by this run so far


def resolve_relabel(relabel: str, reward: RewardSignature) -> str:
    """The relabelling mode `relabel` ("auto" resolved) for a reward of this signature."""
    if relabel == "auto":
        return "batch" if reward.changes else "none"
    return relabel


class SACLearner:
    name = "sac"
    intrinsic_stream = False

    def __init__(self, cfg: SACConfig, env: EnvSignature, reward: RewardSignature):
        self.cfg = cfg
        self.unroll_length = cfg.unroll_length
        self.action_size = env.action_size
        self.agent = SAC(cfg, env.observation_size, env.action_size, env.discrete)
        self.relabel = resolve_relabel(cfg.relabel, reward)
        self.rescores_transitions = self.relabel != "none"

    def init(self, rng: jax.Array, example) -> SACLearnerState:
        """example: one transition (no leading axes), as `Experience.transitions` holds them."""
        item = {"transition": _storable(example), "reward": jnp.zeros(())}
        buffer = replay.create(item, self.cfg.buffer_size)
        return SACLearnerState(self.agent.init(rng), buffer, jnp.zeros((), jnp.int32))

    def act(self, state: SACLearnerState, obs: jax.Array, rng: jax.Array, deterministic: bool = False):
        """obs: [B, D] normalised. Uniform actions in [-1, 1] until `learning_starts` env steps
        (not when `deterministic`). extras: none."""
        action, *_ = self.agent.act(state.agent, obs, rng, deterministic)
        if deterministic:
            return action, {}
        warmup = state.env_steps < self.cfg.learning_starts
        uniform = jax.random.uniform(jax.random.fold_in(rng, 1), action.shape, minval=-1.0, maxval=1.0)
        return jnp.where(warmup, uniform, action), {}

    def learn(self, state: SACLearnerState, experience: Experience, ctx: LearnContext, rng: jax.Array):
        cfg = self.cfg
        flat = lambda x: x.reshape((-1,) + x.shape[2:])
        items = {"transition": jax.tree.map(flat, _storable(experience.transitions)), "reward": flat(experience.reward)}
        buffer = replay.add(state.buffer, items)
        metrics = {}
        if self.relabel == "all":
            due = ctx.reward_changed

            def relabel(data):
                return dict(data, reward=jnp.where(due, ctx.score(data["transition"]), data["reward"]))

            # The reduction over runs keeps a real branch under vmap (see `jaxreward.runs`).
            buffer = buffer.replace(data=jax.lax.cond(any_run(due), relabel, lambda d: d, buffer.data))
            metrics["sac/relabelled"] = due.astype(jnp.float32)

        def grad_step(agent_state, key):
            k_sample, k_update = jax.random.split(key)
            sampled = replay.sample(buffer, k_sample, cfg.batch_size)
            t = sampled["transition"]
            reward = ctx.score(t) if self.relabel == "batch" else sampled["reward"]
            minibatch = {
                "obs": ctx.normalize(t.obs),
                "action": t.action,
                "reward": reward,
                "next_obs": ctx.normalize(t.next_obs),
                "termination": t.done * (1.0 - t.truncation),
            }
            return self.agent.update(agent_state, minibatch, k_update)

        num_updates = cfg.unroll_length * cfg.grad_updates_per_step
        new_agent, step_metrics = jax.lax.scan(grad_step, state.agent, jax.random.split(rng, num_updates))
        before = state.env_steps
        env_steps = before + experience.reward.size
        learning = env_steps >= cfg.learning_starts
        agent = jax.tree.map(lambda new, old: jnp.where(learning, new, old), new_agent, state.agent)
        if cfg.reset_critic_at:
            crossing = (before < cfg.reset_critic_at) & (env_steps >= cfg.reset_critic_at)
            fresh = self.agent.reset_critic(agent, jax.random.fold_in(rng, 1))
            agent = jax.tree.map(lambda f, a: jnp.where(crossing, f, a), fresh, agent)
        metrics |= jax.tree.map(jnp.mean, step_metrics)
        metrics["sac/buffer_size"] = buffer.size.astype(jnp.float32)
        return SACLearnerState(agent, buffer, env_steps), metrics


def _storable(transitions):
    """Transitions without their frames: a replay buffer of pixels would not fit, and a
    learner that re-scores stored transitions is refused pixel rewards by the trainer."""
    return transitions.replace(pixels=None)
