"""Generalised advantage estimation (Schulman et al., "High-Dimensional Continuous Control
Using Generalized Advantage Estimation", 2016) with the termination/truncation split.

A terminated step has no future (its TD target is just the reward). A truncated step —
the time limit ended the episode — still has one: its TD target bootstraps from the value
of the *final* observation of the episode. In both cases the advantage trace stops at the
episode boundary, so it never leaks into the next episode.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp


def gae(
    rewards: jax.Array,
    values: jax.Array,
    next_values: jax.Array,
    terminations: jax.Array,
    dones: jax.Array,
    gamma: float | jax.Array,
    lam: float | jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Advantages and value targets.

    Args:
      rewards: [T, B] rewards r_t.
      values: [T, B] V(s_t).
      next_values: [T, B] V(s_{t+1}) where s_{t+1} is the observation the step led to —
        for the last step of an episode, the episode's final observation (not the reset one).
      terminations: [T, B] 1.0 where s_{t+1} is terminal (no bootstrap).
      dones: [T, B] 1.0 where the episode ended for any reason (trace cut).
      gamma: discount factor.
      lam: GAE lambda, the decay of the weights on longer n-step advantage estimates (0: one-step
        TD error, 1: Monte Carlo return minus the value).

    Returns:
      (advantages [T, B], returns [T, B]) with returns = advantages + values.
    """
    chex.assert_rank(rewards, 2)
    chex.assert_equal_shape([rewards, values, next_values, terminations, dones])
    deltas = rewards + gamma * (1.0 - terminations) * next_values - values

    def backward(carry, xs):
        delta, done = xs
        adv = delta + gamma * lam * (1.0 - done) * carry
        return adv, adv

    _, advantages = jax.lax.scan(backward, jnp.zeros_like(values[0]), (deltas, dones), reverse=True)
    return advantages, advantages + values

