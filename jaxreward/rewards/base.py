"""The reward contract.

A reward model is three pure functions over its own state pytree:

- `init(rng) -> state` — parameters, optimiser state, running statistics, buffers.
- `reward(state, batch) -> (r [T, B], info)` — scores a batch of transitions.
- `update(state, batch, scored, rng) -> (state, metrics)` — learns inside the compiled step.
  `scored` (`Scored`) is what `reward(state, batch)` returned for this same state and batch:
  a batch is scored once per iteration, and whatever scoring computed that learning needs
  (prediction errors, episodic memories after the rollout, running statistics) travels in
  its `info`, so `update` recomputes none of it.

A model is constructed for one `RewardSpec` (shapes are static, so binding them at
construction keeps `reward`/`update` free of Python-side state); `rewards.make(name, spec,
config)` builds one. Models that do not learn return their state unchanged from `update`. The training step
calls `reward` once on each rollout, hands its result to `update`, then hands the (composed)
reward to the learner. `reward` stays usable alone (SAC re-scores stored transitions with it). Models never see learner internals, and learners never see reward models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import struct


@dataclass(frozen=True)
class RewardSpec:
    """What a reward model may size itself by (all static)."""

    observation_size: int
    action_size: int
    discrete: bool
    num_envs: int
    unroll_length: int
    #: The env's additive reward terms, `metrics["reward/<term>"]` (sorted; their sum is the
    #: gold reward): a tuple, or a function returning it — the trainer's traces an env reset,
    #: seconds on MJX envs, so only models that ask pay. Read it with `env_reward_terms()`;
    #: () where the builder did not look (rewards that need the terms say so).
    reward_terms: tuple[str, ...] | Callable[[], tuple[str, ...]] = field(default=(), compare=False)

    def env_reward_terms(self) -> tuple[str, ...]:
        return tuple(self.reward_terms() if callable(self.reward_terms) else self.reward_terms)


@dataclass(frozen=True)
class FrameSpec:
    """Frames a pixel-based reward asks the rollout for (static): each transition's next
    state rendered by `env.render(state, camera, height, width)` into `TransitionBatch.pixels`
    uint8 [T, B, height, width, 3]. At an episode end it is the state the episode ended on,
    like `next_obs`: the trainer's auto-reset wrapper renders before it replaces finished
    envs (`envs.wrappers.AutoReset(frames=...)`)."""

    height: int = 64
    width: int = 64
    camera: Any = None


@struct.dataclass
class TransitionBatch:
    """Transitions as reward models see them; leading axes [T, B].

    `next_obs` is the observation the step led to — at episode ends, the final observation
    of the episode, not the reset one. `done` marks any episode end, `truncation` the ones
    caused by the time limit alone. `metrics` are the env's per-step metrics
    (`reward/<term>`, `success`). `pixels` is None unless an env renders.
    """

    obs: jax.Array  # [T, B, D]
    action: jax.Array  # [T, B, A] (env action) or [T, B] int
    next_obs: jax.Array  # [T, B, D]
    gold_reward: jax.Array  # [T, B]
    done: jax.Array  # [T, B]
    truncation: jax.Array  # [T, B]
    metrics: dict  # name -> [T, B]
    pixels: Any = None


@struct.dataclass
class Scored:
    """What `RewardModel.reward(state, batch)` returned: `reward` [T, B] and the model's
    `info` (a dict of arrays and pytrees), handed back to `update` on the same state and
    batch so that it need not score the batch again."""

    reward: jax.Array  # [T, B]
    info: dict


class RewardModel:
    """Base class; subclasses override what they need."""

    #: Registry name, also the metric prefix.
    name: str = "reward"
    #: True when `update` learns something (used for progress and docs).
    learned: bool = False
    #: True for exploration bonuses: the composite hands them to the learner as a separate
    #: intrinsic stream (PPO then trains a second value head on it).
    intrinsic: bool = False
    #: True when the reward of a transition depends on per-env state carried from the
    #: env's earlier steps (a step counter, the previous reward): the model scores rollouts
    #: in order and cannot score a stored transition on its own (replay relabelling).
    #: Intrinsic models keep such memories too and are handled by `intrinsic`.
    sequential: bool = False
    #: Frames to render for this model (`FrameSpec`), or None: no pixels (the default).
    frames: FrameSpec | None = None
    #: Per-env steps of a random-action warm-up the training step runs at init and shows
    #: to `observe` (e.g. RND's observation statistics); 0: no warm-up.
    warmup_steps: int = 0

    def __init__(self, spec: RewardSpec):
        self.spec = spec

    def init(self, rng: jax.Array) -> Any:
        return {}

    def reward(self, state: Any, batch: TransitionBatch) -> tuple[jax.Array, dict]:
        raise NotImplementedError

    def score(self, state: Any, batch: TransitionBatch) -> Scored:
        """`reward(state, batch)` as the `Scored` that `update` takes."""
        return Scored(*self.reward(state, batch))

    def update(self, state: Any, batch: TransitionBatch, scored: Scored, rng: jax.Array) -> tuple[Any, dict]:
        """Learns from `batch`; `scored` is `self.reward(state, batch)` (see the module docstring)."""
        return state, {}

    def changed(self, old: Any, new: Any) -> jax.Array:
        """[] bool: whether `reward` may score a stored transition differently under `new`
        (the state after `update`) than under `old`. SAC's `relabel=all` re-scores its
        buffer only then. Conservative default: every update of a learned model counts."""
        return jnp.asarray(self.learned)

    def observe(self, state: Any, batch: TransitionBatch) -> Any:
        """Absorbs warm-up transitions of a random policy (statistics only, no learning)."""
        return state
