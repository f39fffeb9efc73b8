"""The learner contract: what the training step asks of PPO, SAC or any other learner.

A learner owns its whole idea — its networks and optimiser state, its behaviour policy,
whatever it keeps between iterations (SAC's replay buffer), and its update — behind four
members the training step composes with an environment and a reward model:

- `init(rng, example) -> state`: the learner's state pytree (parameters, optimiser state,
  buffers, counters). `example` is one transition (no leading axes) shaped like the ones
  `learn` will see, so a learner that stores transitions can size its storage.
- `act(state, obs, rng, deterministic=False) -> (env_action [B, ...], extras)`: the
  behaviour policy on normalised observations [B, D]. `extras` is a pytree of per-env
  arrays the rollout keeps for `learn` (PPO: raw action, log-probability, value).
- `learn(state, experience, ctx, rng) -> (state, metrics)`: one iteration's learning on
  the rollout just collected (`Experience`), with the reward model reachable only through
  `LearnContext` (the observation normaliser, and scoring of stored transitions).
- static facts (`unroll_length`, `intrinsic_stream`, `rescores_transitions`) that the
  trainer checks against the reward model when it is built, so that a combination the
  learner cannot support is refused before anything compiles.

Learners never import reward models: transitions are opaque pytrees to them, and scoring
is a function the training step hands over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import jax
from flax import struct


@dataclass(frozen=True)
class EnvSignature:
    """The environment as a learner sizes itself by (static)."""

    observation_size: int
    action_size: int
    discrete: bool
    #: Parallel environments of one run (the rollout's batch axis B).
    num_envs: int


@dataclass(frozen=True)
class RewardSignature:
    """The composed reward as a learner plans for it (static).

    two_streams: some term reaches the learner as a separate intrinsic stream.
    changes: the reward of a stored transition can change during training (a learned model,
      or a term normalised by running statistics), so stored rewards go stale.
    """

    two_streams: bool = False
    changes: bool = False


@struct.dataclass
class Experience:
    """One iteration's rollout as a learner sees it; leading axes [T, B].

    `transitions` are what a reward model scores (raw observations, actions, next
    observations, gold reward, done, truncation, env metrics, optional pixels). `reward` is
    the composed reward the learner optimises — the extrinsic stream when the reward has
    two — and `reward_int` the intrinsic stream or None. `last_obs` [B, D] (raw) is the
    observation the rollout ended on, after any auto-reset: where the next rollout starts.
    """

    transitions: Any
    extras: Any
    reward: jax.Array  # [T, B]
    reward_int: jax.Array | None
    last_obs: jax.Array  # [B, D]


@dataclass(frozen=True)
class LearnContext:
    """What the training step lends a learner for one `learn` call.

    normalize: raw observations [..., D] -> what the networks read, under the statistics the
      behaviour policy acted with.
    score: stored transitions (leading axis [N], the pytree of `Experience.transitions`
      without pixels) -> [N] composed reward under the reward model just updated.
    reward_changed: [] bool, whether that update may have changed the score of a stored
      transition (a re-labelling learner re-scores its buffer only then).
    """

    normalize: Callable[[jax.Array], jax.Array]
    score: Callable[[Any], jax.Array]
    reward_changed: jax.Array


class Learner(Protocol):
    """A learner for one environment and reward signature; holds only static structure."""

    #: Registry name (the `--learner` value).
    name: str
    #: Env steps per environment collected in one training iteration.
    unroll_length: int
    #: Can optimise a separate intrinsic reward stream (and per-env episodic bonuses, which
    #: need rollouts scored in order).
    intrinsic_stream: bool
    #: Re-scores stored transitions through `LearnContext.score` (replay relabelling): the
    #: reward must then score a transition on its own, without pixels or per-env carries.
    rescores_transitions: bool

    def init(self, rng: jax.Array, example: Any) -> Any: ...

    def act(self, state: Any, obs: jax.Array, rng: jax.Array, deterministic: bool = False) -> tuple[jax.Array, Any]: ...

    def learn(self, state: Any, experience: Experience, ctx: LearnContext, rng: jax.Array) -> tuple[Any, dict]: ...
