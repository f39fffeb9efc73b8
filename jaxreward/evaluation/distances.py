"""Reward distances on tabular MDPs, exact: EPIC, DARD and a STARC metric.

All three compare two reward functions without training a policy, by mapping each reward to
a canonical representative of its class of policy-equivalent rewards and then comparing the
representatives:

- EPIC — Gleave, Dennis, Legg, Russell, Leike, "Quantifying Differences in Reward
  Functions" (ICLR 2021). Canonicalise with state and action distributions D_S, D_A:
  C(R)(s,a,s') = R(s,a,s') + E[γR(s',A,S') − R(s,A,S') − γR(S,A,S')], S, S' ~ D_S, A ~ D_A;
  then the Pearson distance D = sqrt((1 − ρ)/2) of C(R₁), C(R₂) over a coverage
  distribution of transitions. Invariant to potential shaping and positive scaling.
- DARD — Wulfe, Balakrishna, Ellis, Mercat, McAllister, Gaidon, "Dynamics-Aware Comparison
  of Learned Reward Functions" (ICLR 2022). The same, but the expectations follow the
  dynamics: C(R)(s,a,s') = R(s,a,s') + E[γR(s',A,S'') − R(s,A,S') − γR(S',A,S'')] with
  S' ~ T(s, A), S'' ~ T(s', A), so learned rewards are queried near the data they were fit
  on. We draw the action of each expectation independently (the invariance needs only the
  marginals of S' and S'').
- STARC — Skalse, Farnik, Motwani, Jenner, Gleave, Abate, "STARC: A General Framework For
  Quantifying Differences Between Reward Functions" (ICLR 2024). Canonicalise, normalise,
  take a metric. Ours: value-adjusted levelling c(R)(s,a) = E_{S'~T(s,a)}[R(s,a,S') +
  γV^π(S')] − V^π(s) for a fixed reference policy π (uniform), the weighted L2 norm over
  (s, a), and the weighted L2 distance between normalised representatives. Because c(R)
  differs from R by potential shaping (potential V^π) and S'-redistribution, every policy's
  return changes by the same constant, so d = 0 exactly when the rewards order all policies
  alike (up to scale), and the regret of optimising one under the other is bounded by the
  distance (`starc_regret_bound`).

Rewards are arrays R [S, A, S]; everything is a pure jittable function, vmappable over
MDPs and rewards.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxreward import tabular


def pearson_distance(x: jax.Array, y: jax.Array, weights: jax.Array) -> jax.Array:
    """[] sqrt((1 − ρ)/2) with ρ the Pearson correlation of x, y under `weights` (same
    shape, summing to 1). A constant input has no correlation: ρ is taken as 0 then."""
    x, y, w = x.ravel(), y.ravel(), weights.ravel() / weights.sum()
    xc, yc = x - w @ x, y - w @ y
    cov, vx, vy = w @ (xc * yc), w @ (xc * xc), w @ (yc * yc)
    # Relative floor: canonical rewards of a constant are ~1e-7 of round-off, not signal.
    tiny = 1e-12 * (1.0 + w @ (x * x)) * (1.0 + w @ (y * y))
    rho = jnp.where((vx * vy) > tiny, cov / jnp.sqrt(jnp.maximum(vx * vy, tiny)), 0.0)
    return jnp.sqrt(jnp.clip(1.0 - rho, 0.0, 2.0) / 2.0)


def _uniform(n: int) -> jax.Array:
    return jnp.full((n,), 1.0 / n)


def epic_canonical(reward: jax.Array, discount, state_dist: jax.Array | None = None,
                   action_dist: jax.Array | None = None) -> jax.Array:
    """[S, A, S] EPIC canonical reward of `reward` [S, A, S] (uniform D_S, D_A by default)."""
    S, A, _ = reward.shape
    ps = _uniform(S) if state_dist is None else state_dist
    pa = _uniform(A) if action_dist is None else action_dist
    mean_from = jnp.einsum("sax,a,x->s", reward, pa, ps)  # E[R(s, A, S')]
    return reward + discount * mean_from[None, None, :] - mean_from[:, None, None] - discount * (ps @ mean_from)


def dard_canonical(reward: jax.Array, mdp: tabular.MDP, action_dist: jax.Array | None = None) -> jax.Array:
    """[S, A, S] DARD canonical reward of `reward` [S, A, S] under `mdp`'s dynamics."""
    pa = _uniform(mdp.num_actions) if action_dist is None else action_dist
    step = jnp.einsum("a,sat->st", pa, mdp.transition)  # P(S' | s) with A ~ D_A
    mean_from = jnp.einsum("a,sa->s", pa, tabular.expected_reward(mdp, reward))  # E[R(s, A, S')]
    r_bar = jnp.einsum("a,uav->uv", pa, reward)  # E_A[R(u, A, v)]
    between = step @ r_bar @ step.T  # [s, s']: E[R(S', A, S'')]
    return reward + mdp.discount * mean_from[None, None, :] - mean_from[:, None, None] - mdp.discount * between[:, None, :]


def product_coverage(num_states: int, num_actions: int) -> jax.Array:
    """[S, A, S] the uniform distribution over all (s, a, s'), EPIC's default."""
    return jnp.full((num_states, num_actions, num_states), 1.0 / (num_states * num_actions * num_states))


def dynamics_coverage(mdp: tabular.MDP, state_dist: jax.Array | None = None, policy: jax.Array | None = None) -> jax.Array:
    """[S, A, S] p(s)·π(a|s)·T(s'|s, a): transitions that can happen (uniform s and a by default)."""
    ps = _uniform(mdp.num_states) if state_dist is None else state_dist
    pi = tabular.uniform_policy(mdp) if policy is None else policy
    return ps[:, None, None] * pi[:, :, None] * mdp.transition


def epic(r1: jax.Array, r2: jax.Array, discount, coverage: jax.Array | None = None,
         state_dist: jax.Array | None = None, action_dist: jax.Array | None = None) -> jax.Array:
    """[] EPIC distance in [0, 1] between rewards [S, A, S]; `coverage` [S, A, S] defaults
    to the uniform product distribution."""
    S, A, _ = r1.shape
    cov = product_coverage(S, A) if coverage is None else coverage
    c1 = epic_canonical(r1, discount, state_dist, action_dist)
    c2 = epic_canonical(r2, discount, state_dist, action_dist)
    return pearson_distance(c1, c2, cov)


def dard(r1: jax.Array, r2: jax.Array, mdp: tabular.MDP, coverage: jax.Array | None = None,
         action_dist: jax.Array | None = None) -> jax.Array:
    """[] DARD distance in [0, 1]; `coverage` defaults to `dynamics_coverage(mdp)`."""
    cov = dynamics_coverage(mdp) if coverage is None else coverage
    return pearson_distance(dard_canonical(r1, mdp, action_dist), dard_canonical(r2, mdp, action_dist), cov)


def starc_canonical(reward: jax.Array, mdp: tabular.MDP, policy: jax.Array | None = None) -> jax.Array:
    """[S, A] value-adjusted levelling E[R(s,a,S') + γV^π(S')] − V^π(s), π uniform by default."""
    pi = tabular.uniform_policy(mdp) if policy is None else policy
    v = tabular.policy_evaluation(mdp, reward, pi)
    return tabular.expected_reward(mdp, reward) + mdp.discount * mdp.transition @ v - v[:, None]


def starc_normalised(reward: jax.Array, mdp: tabular.MDP, weights: jax.Array | None = None,
                     policy: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """(c(R)/‖c(R)‖_w [S, A], ‖c(R)‖_w []): the STARC representative and its norm; a reward
    whose canonical form is zero (all policies equal) maps to zero."""
    w = jnp.full((mdp.num_states, mdp.num_actions), 1.0 / (mdp.num_states * mdp.num_actions)) if weights is None else weights
    c = starc_canonical(reward, mdp, policy)
    norm = jnp.sqrt((w * c * c).sum())
    scale = jnp.sqrt((w * reward.mean(-1) ** 2).sum()) + 1.0
    # Round-off leaves |c| ~ 1e-7·|R| for a trivial reward: treat that as zero, not a direction.
    return jnp.where(norm > 1e-5 * scale, c / jnp.where(norm > 0, norm, 1.0), 0.0), norm


def starc(r1: jax.Array, r2: jax.Array, mdp: tabular.MDP, weights: jax.Array | None = None,
          policy: jax.Array | None = None) -> jax.Array:
    """[] STARC distance ‖n(c(R₁)) − n(c(R₂))‖_w in [0, 2]; `weights` [S, A] sum to 1
    (uniform by default)."""
    w = jnp.full((mdp.num_states, mdp.num_actions), 1.0 / (mdp.num_states * mdp.num_actions)) if weights is None else weights
    n1, _ = starc_normalised(r1, mdp, w, policy)
    n2, _ = starc_normalised(r2, mdp, w, policy)
    return jnp.sqrt((w * (n1 - n2) ** 2).sum())


def starc_regret_bound(r1: jax.Array, r2: jax.Array, mdp: tabular.MDP, weights: jax.Array | None = None,
                       policy: jax.Array | None = None) -> jax.Array:
    """[] An upper bound on the regret under R₂ of any policy that R₁ ranks at least as high
    as another: J₂(π') − J₂(π) ≤ 2‖c(R₂)‖_w · d / ((1 − γ)·sqrt(min w)) whenever J₁(π) ≥ J₁(π').

    Why: the return of c(R)/‖c(R)‖ differs from J_R/‖c(R)‖ by a policy-independent constant,
    two rewards at sup-distance δ give returns at most δ/(1 − γ) apart, and
    sup-distance ≤ L2_w-distance / sqrt(min w). In particular the optimal policy of R₁ has
    regret under R₂ at most this (STARC's soundness, with an explicit constant).
    """
    w = jnp.full((mdp.num_states, mdp.num_actions), 1.0 / (mdp.num_states * mdp.num_actions)) if weights is None else weights
    _, norm2 = starc_normalised(r2, mdp, w, policy)
    d = starc(r1, r2, mdp, w, policy)
    return 2.0 * norm2 * d / ((1.0 - mdp.discount) * jnp.sqrt(w.min()))
