"""The environment's own task reward (the "gold" reward)."""

from __future__ import annotations

from jaxreward.rewards.base import RewardModel, TransitionBatch


class Gold(RewardModel):
    name = "gold"

    def reward(self, state, batch: TransitionBatch):
        return batch.gold_reward, {}
