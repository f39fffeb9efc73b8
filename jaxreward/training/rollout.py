"""Rollouts (a `lax.scan` of the batched env and the policy) and episode accounting."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from flax import struct

from envs import Env, State
from jaxreward.rewards.base import TransitionBatch


@struct.dataclass
class Rollout:
    """One unroll, leading axes [T, B]."""

    transitions: TransitionBatch
    extras: object  # what the policy returned beside each action (a pytree of [T, B, ...])


def rollout(env: Env, policy: Callable, env_state: State, rng: jax.Array, length: int, frames=None) -> tuple[State, Rollout]:
    """Steps the batched auto-resetting `env` `length` times.

    policy(obs [B, D], rng) -> (env_action, extras): extras is any pytree of per-env arrays
    (a learner's behaviour statistics), stacked over the unroll into `Rollout.extras`.
    frames: a `rewards.base.FrameSpec` to render each next state into `pixels`, or None.
    An env wrapped with the same `frames` (`envs.training_wrap(..., frames=)`) supplies the
    frame each step ended on, before an auto-reset replaced the state; otherwise the
    returned state is rendered, which at an episode end is the next episode's first state.
    """

    def pixels(nxt: State):
        if frames is None:
            return None
        if "final_frame" in nxt.info:
            return nxt.info["final_frame"]
        return env.render(nxt, frames.camera, frames.height, frames.width)

    def one_step(state: State, key):
        action, extras = policy(state.obs, key)
        nxt = env.step(state, action)
        transition = TransitionBatch(
            obs=state.obs,
            action=action,
            next_obs=nxt.info["final_obs"],
            gold_reward=nxt.reward,
            done=nxt.done,
            truncation=nxt.info["truncation"],
            metrics=nxt.metrics,
            pixels=pixels(nxt),
        )
        return nxt, Rollout(transition, extras)

    return jax.lax.scan(one_step, env_state, jax.random.split(rng, length))


@struct.dataclass
class EpisodeStats:
    """Per-env running sums of the current episodes, and the last reported means.

    `running` and `last` are dicts keyed by stream name ("gold_return", "proxy_return",
    "term_return/<name>", "episode_length").
    """

    running: dict  # name -> [B]
    last: dict  # name -> []

    @classmethod
    def create(cls, names: list[str], num_envs: int) -> "EpisodeStats":
        # NaN until the first episode ends: "no data yet", not a return of zero.
        return cls({n: jnp.zeros((num_envs,)) for n in names}, {n: jnp.full((), jnp.nan) for n in names + ["success"]})


def account_episodes(stats: EpisodeStats, streams: dict, done: jax.Array, success: jax.Array):
    """Accumulates per-step streams over [T, B] and averages the episodes that ended.

    streams: name -> [T, B] per-step values (summed over the episode).
    done: [T, B]; success: [T, B] success flag of each step (episodes score their last step).
    Returns (new stats, metrics) where metrics holds each stream's mean over episodes that
    finished in this unroll, the previous values where none did, and "episodes".
    """

    def scan_step(carry, xs):
        running, sums = carry
        step_vals, d, s = xs
        running = {k: running[k] + step_vals[k] for k in running}
        sums = {k: sums[k] + d * running[k] for k in running} | {"success": sums["success"] + d * s}
        running = {k: jnp.where(d > 0, 0.0, v) for k, v in running.items()}
        return (running, sums), None

    zeros = {k: jnp.zeros(()) for k in list(stats.running) + ["success"]}
    sums0 = {k: jnp.zeros_like(done[0]) for k in zeros}
    (running, sums), _ = jax.lax.scan(scan_step, (stats.running, sums0), (streams, done, success))
    count = jnp.sum(done)
    means = {k: jnp.where(count > 0, jnp.sum(v) / jnp.maximum(count, 1.0), stats.last[k]) for k, v in sums.items()}
    return EpisodeStats(running, means), dict(means, episodes=count)
