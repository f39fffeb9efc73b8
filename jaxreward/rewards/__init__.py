"""Reward models: the contract (`base`), composition (`compose`) and the models."""

from jaxreward.rewards.base import RewardModel, RewardSpec, TransitionBatch
from jaxreward.rewards.registry import RewardConfig, describe, make, make_composite, names

__all__ = ["RewardModel", "RewardSpec", "TransitionBatch", "RewardConfig", "describe", "make", "make_composite", "names"]
