"""The environment's own signals as rewards: its task reward (the "gold" reward) and its
success indicator (the sparse reward of goal-reaching tasks)."""

from __future__ import annotations

from jaxreward.rewards.base import RewardModel, TransitionBatch


class Gold(RewardModel):
    name = "gold"

    def reward(self, state, batch: TransitionBatch):
        return batch.gold_reward, {}


class Success(RewardModel):
    """1 for a transition into a state where the task is solved, else 0: the env's
    `success` metric of the next state. The env keeps its dense gold reward, so a run on
    this sparse reward still logs the dense gold return (an env's `sparse=True` option
    would replace it)."""

    name = "success"

    def reward(self, state, batch: TransitionBatch):
        if "success" not in batch.metrics:
            raise ValueError(f"reward 'success' needs an environment with a success metric; this one logs "
                             f"{sorted(batch.metrics) or 'no metrics'}")
        return batch.metrics["success"].astype(batch.gold_reward.dtype), {}
