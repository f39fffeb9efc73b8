"""Learner registry: one entry per learner, from which the config, the CLI and the trainer
read. Adding a learner is its module under `agents/` and one `register(...)` line here
(plus a `TrainConfig` field named after it if its settings should be set from the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from envs.registry import unknown_name_error
from jaxreward.agents.base import EnvSignature, Learner, RewardSignature
from jaxreward.agents.ppo import PPOConfig
from jaxreward.agents.ppo_learner import PPOLearner
from jaxreward.agents.sac import SACConfig
from jaxreward.agents.sac_learner import SACLearner


@dataclass(frozen=True)
class Registration:
    """name: the `--learner` value. default_config: its settings when `TrainConfig` has no
    field of that name; they must have `unroll_length`. build(config, env, reward) -> Learner.
    check(config, num_envs): raises ValueError naming the field at fault, before compiling."""

    name: str
    default_config: Any
    build: Callable[[Any, EnvSignature, RewardSignature], Learner]
    description: str
    check: Callable[[Any, int], None] = lambda config, num_envs: config.validate()


def _check_ppo(cfg: PPOConfig, num_envs: int) -> None:
    cfg.validate()
    if (num_envs * cfg.unroll_length) % cfg.num_minibatches:
        raise ValueError(
            f"ppo.num_minibatches ({cfg.num_minibatches}) must divide num_envs * ppo.unroll_length "
            f"({num_envs} * {cfg.unroll_length} = {num_envs * cfg.unroll_length})"
        )


_REGISTRY: dict[str, Registration] = {}


def register(entry: Registration) -> Registration:
    """Adds a learner; registering a taken name is an error."""
    if entry.name in _REGISTRY:
        raise ValueError(f"learner {entry.name!r} is already registered")
    if not hasattr(entry.default_config, "unroll_length"):
        raise ValueError(f"learner {entry.name!r}: its config needs an unroll_length")
    _REGISTRY[entry.name] = entry
    return entry


def unregister(name: str) -> None:
    """Removes a learner (tests that register a toy one clean up with it)."""
    _REGISTRY.pop(name, None)


def names() -> list[str]:
    return sorted(_REGISTRY)


def get(name: str) -> Registration:
    if name not in _REGISTRY:
        raise unknown_name_error("learner", name, names(), "learners")
    return _REGISTRY[name]


register(Registration("ppo", PPOConfig(), PPOLearner, "PPO: on-policy, clipped surrogate, GAE; two value heads for intrinsic rewards", _check_ppo))
register(Registration("sac", SACConfig(), SACLearner, "SAC: off-policy with a replay buffer, relabelled by the current reward model (PEBBLE)"))
