"""The training configuration: frozen dataclasses, one per component, composed.

Static fields (shapes: `num_envs`, network widths, `unroll_length`) fix the compiled
program; the vmappable leaves (seeds, learning rates, reward weights...) live inside the
`TrainState` so seeds and variants are a `vmap` of one program. `validate()` checks every
field before anything is compiled and names the field at fault.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import jax

from jaxreward.agents import registry as learners
from jaxreward.agents.ppo import PPOConfig
from jaxreward.agents.sac import SACConfig
from jaxreward.rewards import registry as reward_registry
from jaxreward.rewards.registry import RewardConfig


@dataclass(frozen=True)
class TrainConfig:
    env: str = "pendulum"
    #: Environment options as (name, value) pairs, e.g. (("sparse", True),).
    env_options: tuple[tuple[str, Any], ...] = ()
    #: Steps before truncation; None uses the environment's default.
    episode_length: int | None = None
    learner: str = "ppo"
    reward: RewardConfig = field(default_factory=RewardConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    sac: SACConfig = field(default_factory=SACConfig)
    num_envs: int = 64
    #: Environment steps per seed (rounded up to whole log chunks of whole iterations).
    total_steps: int = 300_000
    seed: int = 0
    #: Seeds seed, seed+1, ... run in one vmapped program.
    num_seeds: int = 1
    #: Host-side log points (progress, CSV rows, NaN checks) over the run.
    num_log_points: int = 30
    #: Save a checkpoint every this many env steps (0: only at the end).
    checkpoint_every: int = 0
    #: Normalise observations with running statistics before the networks.
    normalize_obs: bool = True
    #: Write a GIF of one deterministic evaluation episode every this many log points and
    #: at the end (videos/env_steps_<N>.gif); 0 disables.
    video_every: int = 0
    #: Height and width of those videos, in pixels.
    video_size: int = 64
    #: Episodes of the deterministic policy per run at each log point, on separate
    #: environments and the gold reward: metrics.csv's eval/gold_return and eval/success
    #: (their means); 0 disables.
    eval_episodes: int = 4

    # ---- derived sizes ------------------------------------------------------------
    def learner_config(self):
        """The chosen learner's settings: the field named after it, else its registered defaults."""
        own = getattr(self, self.learner, None)
        return own if dataclasses.is_dataclass(own) else learners.get(self.learner).default_config

    @property
    def unroll_length(self) -> int:
        """Env steps per environment in one training iteration (the learner's unroll)."""
        return self.learner_config().unroll_length

    @property
    def steps_per_iteration(self) -> int:
        return self.num_envs * self.unroll_length

    @property
    def iterations_per_log(self) -> int:
        needed = max(1, math.ceil(self.total_steps / self.steps_per_iteration))
        return max(1, math.ceil(needed / self.num_log_points))

    @property
    def num_iterations(self) -> int:
        """Whole log chunks, so every chunk has one compiled length."""
        needed = max(1, math.ceil(self.total_steps / self.steps_per_iteration))
        return math.ceil(needed / self.iterations_per_log) * self.iterations_per_log

    def validate(self) -> "TrainConfig":
        """Raises ValueError naming the offending field; returns self for chaining."""
        import envs

        envs.spec(self.env)  # unknown env -> error listing valid names
        valid_opts = envs.options(self.env)
        for name, _ in self.env_options:
            if name not in valid_opts:
                raise ValueError(
                    f"env_options: unknown option {name!r} for environment {self.env!r}. "
                    f"Valid options: {', '.join(valid_opts) or '(none)'}"
                )
        learner = learners.get(self.learner)  # unknown learner -> error listing valid names
        if self.episode_length is not None and self.episode_length <= 0:
            raise ValueError(f"episode_length must be positive, got {self.episode_length}")
        for name in ("num_envs", "total_steps", "num_seeds", "num_log_points"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.video_every < 0:
            raise ValueError(f"video_every must be >= 0, got {self.video_every}")
        if self.video_size < 8:
            raise ValueError(f"video_size must be at least 8 pixels, got {self.video_size}")
        if self.eval_episodes < 0:
            raise ValueError(f"eval_episodes must be >= 0 (0 disables evaluation), got {self.eval_episodes}")
        if self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be >= 0, got {self.checkpoint_every}")
        learner.check(self.learner_config(), self.num_envs)
        self.reward.validate()
        # Only a model the terms build trains on this batch; an unused section's count is inert.
        if "regression" in self.reward.models_used() and self.steps_per_iteration % self.reward.regression.num_minibatches:
            raise ValueError(
                f"reward.regression.num_minibatches ({self.reward.regression.num_minibatches}) must divide "
                f"num_envs * unroll_length ({self.steps_per_iteration})"
            )
        devices = jax.device_count()
        if self.num_envs % devices:
            raise ValueError(f"num_envs ({self.num_envs}) must be divisible by the number of devices ({devices})")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        reward = dict(d["reward"])
        # Every registered section, from its saved values or its defaults (a run saved before
        # the section existed); saved sections no longer registered are dropped.
        sections = {name: _dataclass_from(s.config_class, reward.get(name, {})) for name, s in reward_registry.sections().items()}
        d["reward"] = RewardConfig(terms=reward["terms"], **sections)
        d["ppo"] = _dataclass_from(PPOConfig, d["ppo"])
        d["sac"] = _dataclass_from(SACConfig, d.get("sac", {}))
        d["env_options"] = tuple(tuple(p) for p in d.get("env_options", ()))
        return cls(**d)


def _dataclass_from(cls, d: dict):
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in d:
            v = d[f.name]
            kwargs[f.name] = tuple(v) if isinstance(v, list) else v
    return cls(**kwargs)
