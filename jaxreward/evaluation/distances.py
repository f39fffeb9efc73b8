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
  alike (up to scale). The paper proves STARC metrics sound and complete: the worst-case
  regret of following one reward's policy order, measured under the other, lies between
  two constant multiples of d·(max_π J₁ − min_π J₁) (regret relative to the range of R₁'s
  returns); `starc_regret_bounds` gives both with explicit constants for this
  canonicalisation and norm, and `worst_case_regret` the regret itself, exactly.

Rewards are arrays R [S, A, S]; everything is a pure jittable function, vmappable over
MDPs and rewards.
"""

from __future__ import annotations

import itertools

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


def worst_case_regret(r1: jax.Array, r2: jax.Array, mdp: tabular.MDP) -> jax.Array:
    """[] max J₁(π₁) − J₁(π₂) over all pairs of (stochastic) policies with J₂(π₂) ≥ J₂(π₁):
    the most return under R₁ that trusting R₂'s order of policies can lose — the regret of
    STARC's soundness and completeness. Exact, by enumerating the A^S deterministic
    policies: only for tiny MDPs.

    Why enumeration is exact: (J₁, J₂) is linear in the occupancy measure, whose set is the
    convex hull of the deterministic policies' occupancies, so the pairs (J₁(π), J₂(π)) of
    all policies fill the convex polygon P spanned by the deterministic ones. The regret is
    max_t [max{p₁ : p ∈ P, p₂ ≤ t} − min{q₁ : q ∈ P, q₂ ≥ t}], a concave function of t whose
    kinks lie at the vertices' J₂; at each such t the extremes lie at deterministic points or
    where a segment between two of them crosses J₂ = t.
    """
    S, A = mdp.num_states, mdp.num_actions
    if A**S > 4096:
        raise ValueError(f"worst_case_regret enumerates A^S = {A}^{S} deterministic policies; at most 4096")
    policies = jax.nn.one_hot(jnp.array(list(itertools.product(range(A), repeat=S))), A)  # [N, S, A]
    j1 = jax.vmap(lambda p: tabular.policy_return(mdp, r1, p))(policies)
    j2 = jax.vmap(lambda p: tabular.policy_return(mdp, r2, p))(policies)
    gap = j2[:, None] - j2[None, :]  # [N, N]: segment from point j to point i
    scale = jnp.abs(j2).max() + 1.0

    def straddling(t):
        # Where segment (j → i) crosses J₂ = t, if it does.
        frac = (t - j2[None, :]) / jnp.where(jnp.abs(gap) > 1e-9 * scale, gap, jnp.inf)
        crosses = (jnp.abs(gap) > 1e-9 * scale) & (frac >= 0.0) & (frac <= 1.0)
        j1_at = j1[None, :] + frac * (j1[:, None] - j1[None, :])
        best_below = jnp.maximum(jnp.where(j2 <= t, j1, -jnp.inf).max(), jnp.where(crosses, j1_at, -jnp.inf).max())
        worst_above = jnp.minimum(jnp.where(j2 >= t, j1, jnp.inf).min(), jnp.where(crosses, j1_at, jnp.inf).min())
        return best_below - worst_above

    return jnp.maximum(jax.lax.map(straddling, j2).max(), 0.0)


def least_visits(mdp: tabular.MDP, iterations: int = 200) -> jax.Array:
    """[S] min over policies of the expected discounted visits Σ_t γ^t P(s_t = s), never
    above the true minimum: value iteration from 0 on the reward −1[in s] stays above V*."""
    S, A = mdp.num_states, mdp.num_actions
    in_state = -jnp.broadcast_to(jnp.eye(S)[:, :, None, None], (S, S, A, S))  # [target, s, a, s']
    q = jax.vmap(lambda r: tabular.value_iteration(mdp, r, iterations))(in_state)  # [target, S, A]
    return jnp.maximum(-(q.max(-1) @ mdp.initial), 0.0)


def starc_regret_bounds(r1: jax.Array, r2: jax.Array, mdp: tabular.MDP, weights: jax.Array | None = None,
                        policy: jax.Array | None = None) -> tuple[jax.Array, jax.Array]:
    """(lower, upper) [], [] bounds on `worst_case_regret(r1, r2, mdp)`: how much return
    under R₁ following R₂'s policy order can lose, from the STARC distance alone.

    The paper (Skalse et al., ICLR 2024) calls a pseudometric d *sound* if some U > 0 has
    J₁(π₁) − J₁(π₂) ≤ U·(max_π J₁ − min_π J₁)·d(R₁, R₂) whenever J₂(π₂) ≥ J₂(π₁), and
    *complete* if some L > 0 gives, for all R₁, R₂, policies with J₂(π₂) ≥ J₂(π₁) and
    J₁(π₁) − J₁(π₂) ≥ L·(max_π J₁ − min_π J₁)·d(R₁, R₂) (d = 0 for rewards that order
    policies alike); it proves every STARC metric both, with L, U that depend on the MDP,
    the canonicalisation and the norm. For ours (value-adjusted levelling on a reference
    policy π_ref, the w-weighted L2 norm) we derive them explicitly:

        ‖c(R₁)‖_w · ρ · g  ≤  worst-case regret  ≤  ‖c(R₁)‖_w · C · g,

    with g = min_{λ≥0} ‖x₁ − λx₂‖_w for the normalised representatives x_i — g is
    d·sqrt(1 − d²/4) if d² ≤ 2 and 1 beyond, so d/2 ≤ g ≤ d —, C = 2 / ((1 − γ)·sqrt(min w))
    and ρ = 2·sqrt(min π_ref)·min_s ν(s) / sqrt(max w), ν(s) the least discounted visits to s
    over policies (`least_visits`; ≥ the start probability). Normalising by the range
    max J₁ − min J₁ = ‖c(R₁)‖_w·W(x₁) with ρ ≤ W(x₁) ≤ C gives the paper's form with
    L = ρ/(2C) and U = C/ρ; the returned bounds are the sharper unnormalised ones.

    Proof sketch. J_R(π) = ‖c(R)‖_w·J_x(π) + const, and J_x(π) = ⟨η^π, x⟩ for the
    occupancy η^π. The regret is a linear program over pairs of occupancies with one
    constraint; LP duality gives regret = ‖c(R₁)‖_w·min_{λ≥0} W(x₁ − λx₂), W(y) the span
    max_π J_y − min_π J_y. Every such y has zero mean under π_ref in each state, so
    V^{π_ref}_y = 0, the advantage of π_ref is y itself, and by the performance difference
    lemma J_y(π) = Σ_s d^π(s)·Σ_a π(a|s)·y(s, a). Upper: J_y lies in [min y, max y]/(1 − γ),
    so W(y) ≤ 2‖y‖_∞/(1 − γ) ≤ C‖y‖_w. Lower: the policies greedy and anti-greedy in y give
    W(y) ≥ Σ_s ν(s)·(max_a y − min_a y)(s); by the Bhatia–Davis inequality a π_ref-mean-zero
    vector has range ≥ 2·sqrt(min π_ref)·‖y(s, ·)‖₂; then Σ_s‖y(s, ·)‖₂ ≥ ‖y‖₂ ≥
    ‖y‖_w/sqrt(max w), so W(y) ≥ ρ‖y‖_w. Take y = x₁ − λx₂ and minimise over λ.

    The lower bound is attained up to A's parity: in a contextual bandit (visits do not
    depend on actions) with R₁ on the least-visited state only and R₂ = −R₁ it is exact for
    even A and within 6% for A = 3 (tests/test_evaluation.py checks this).
    """
    S, A = mdp.num_states, mdp.num_actions
    w = jnp.full((S, A), 1.0 / (S * A)) if weights is None else weights
    pi = tabular.uniform_policy(mdp) if policy is None else policy
    x1, norm1 = starc_normalised(r1, mdp, w, policy)
    x2, _ = starc_normalised(r2, mdp, w, policy)
    sq2 = (w * x2 * x2).sum()
    lam = jnp.maximum((w * x1 * x2).sum(), 0.0) / jnp.where(sq2 > 0, sq2, 1.0)
    g = jnp.sqrt((w * (x1 - lam * x2) ** 2).sum())
    rho = 2.0 * jnp.sqrt(pi.min()) * least_visits(mdp).min() / jnp.sqrt(w.max())
    c = 2.0 / ((1.0 - mdp.discount) * jnp.sqrt(w.min()))
    return norm1 * rho * g, norm1 * c * g
