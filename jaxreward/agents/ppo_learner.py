"""PPO as a `Learner`: on-policy, one update per rollout, optionally two reward streams.

The rollout's behaviour extras (raw action, log-probability, value) and its rewards become
a `PPOBatch` under the observation normaliser the policy acted with; `agents/ppo.py` does
the rest. With an intrinsic stream the value net has two heads and the non-episodic
intrinsic trace continues from the observation the rollout ended on.
"""

from __future__ import annotations

import jax

from jaxreward.agents.base import EnvSignature, Experience, LearnContext, RewardSignature
from jaxreward.agents.ppo import PPO, PPOBatch, PPOConfig, PPOState


class PPOLearner:
    name = "ppo"
    intrinsic_stream = True
    rescores_transitions = False

    def __init__(self, cfg: PPOConfig, env: EnvSignature, reward: RewardSignature):
        self.cfg = cfg
        self.unroll_length = cfg.unroll_length
        self.agent = PPO(cfg, env.observation_size, env.action_size, env.discrete, intrinsic=reward.two_streams)

    def init(self, rng: jax.Array, example=None) -> PPOState:
        return self.agent.init(rng)

    def act(self, state: PPOState, obs: jax.Array, rng: jax.Array, deterministic: bool = False):
        """obs: [B, D] normalised. extras: raw_action, log_prob [B], value [B] (or [B, 2])."""
        env_action, raw, log_prob, value = self.agent.act(state, obs, rng, deterministic)
        return env_action, {"raw_action": raw, "log_prob": log_prob, "value": value}

    def learn(self, state: PPOState, experience: Experience, ctx: LearnContext, rng: jax.Array):
        t, extras = experience.transitions, experience.extras
        two = self.agent.intrinsic
        value = extras["value"][..., 0] if two else extras["value"]
        batch = PPOBatch(
            obs=ctx.normalize(t.obs),
            next_obs=ctx.normalize(t.next_obs),
            raw_action=extras["raw_action"],
            log_prob=extras["log_prob"],
            value=value,
            reward=experience.reward,
            termination=t.done * (1.0 - t.truncation),
            done=t.done,
            reward_int=experience.reward_int if two else None,
            value_int=extras["value"][..., 1] if two else None,
            bootstrap_obs=ctx.normalize(experience.last_obs) if two else None,
        )
        return self.agent.learn(state, batch, rng)
