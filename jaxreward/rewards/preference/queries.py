"""How many queries to ask when, and which ones.

Schedule. A run has a total feedback budget (queries asked, including ones the teacher
skips, as B-Pref counts them). A fraction of it is spent at the first feedback session
(the `imitation` library spends 10% up front so the reward model has something to fit
before the policy moves); later sessions ask a constant number each, or a number that
decays hyperbolically, n_k = n / (1 + decay_rate · (k − 1)) (the `imitation` library's
1/(1 + t) schedule), until the budget is spent.

Selection (Lee et al., PEBBLE and B-Pref). Uniform takes random pairs. Disagreement and
entropy draw `oversample` times more candidate pairs than needed, score each by the
ensemble — the standard deviation over members of P(a ≻ b), or the binary entropy of the
members' mean P(a ≻ b) — and keep the top ones.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxreward.rewards.preference.model import preference_probability

SCHEDULES = ("constant", "decaying")
SELECTIONS = ("uniform", "disagreement", "entropy")


def first_session_size(budget: int, initial_fraction: float, queries_per_session: int) -> int:
    """Queries of session 0 (static): the up-front fraction, or one regular session if 0."""
    if initial_fraction > 0:
        return min(budget, max(1, round(initial_fraction * budget)))
    return min(budget, queries_per_session)


def session_capacity(budget: int, initial_fraction: float, queries_per_session: int) -> int:
    """The most queries any session asks: fixes the (static) shapes of a session."""
    return max(first_session_size(budget, initial_fraction, queries_per_session), min(budget, queries_per_session))


def session_size(session: jax.Array, used: jax.Array, *, budget, initial_fraction: float, queries_per_session: int,
                 schedule: str, decay_rate: float = 1.0, capacity: int | None = None) -> jax.Array:
    """[] int32 queries to ask at feedback session `session` (0-based) given `used` so far.

    `budget` may be an array (a vmappable leaf, so runs with different budgets share one
    program); `capacity` then caps a session at the static size its arrays were built for.
    """
    budget = jnp.asarray(budget, jnp.int32)
    if initial_fraction > 0:
        first = jnp.maximum(1, jnp.round(initial_fraction * budget)).astype(jnp.int32)
    else:
        first = jnp.asarray(queries_per_session, jnp.int32)
    if schedule == "constant":
        later = jnp.asarray(queries_per_session, jnp.float32)
    elif schedule == "decaying":
        later = queries_per_session / (1.0 + decay_rate * jnp.maximum(session - 1, 0).astype(jnp.float32))
    else:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    # At least one query per session while budget remains, so a decaying schedule still finishes.
    n = jnp.where(session == 0, first, jnp.maximum(jnp.round(later), 1.0).astype(jnp.int32))
    if capacity is not None:
        n = jnp.minimum(n, capacity)
    return jnp.clip(n, 0, jnp.maximum(budget - used, 0)).astype(jnp.int32)


def disagreement(member_returns_a: jax.Array, member_returns_b: jax.Array) -> jax.Array:
    """[M]: std over members of P(a ≻ b); member returns are [K, M]."""
    return preference_probability(member_returns_a, member_returns_b).std(0)


def entropy(member_returns_a: jax.Array, member_returns_b: jax.Array) -> jax.Array:
    """[M]: binary entropy of the ensemble-mean P(a ≻ b)."""
    p = jnp.clip(preference_probability(member_returns_a, member_returns_b).mean(0), 1e-6, 1 - 1e-6)
    return -(p * jnp.log(p) + (1 - p) * jnp.log(1 - p))


def select(mode: str, member_returns_a: jax.Array, member_returns_b: jax.Array, num: int) -> jax.Array:
    """Indices [num] of the candidates to ask about, most informative first.

    member_returns_a, member_returns_b: [K, M] each member's predicted returns of M
    candidate pairs (already in random order, so "uniform" takes the first `num`).
    """
    if mode == "uniform":
        return jnp.arange(num)
    if mode == "disagreement":
        score = disagreement(member_returns_a, member_returns_b)
    elif mode == "entropy":
        score = entropy(member_returns_a, member_returns_b)
    else:
        raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, got {mode!r}")
    return jax.lax.top_k(score, num)[1]
