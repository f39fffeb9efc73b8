"""Synthetic teachers: who answers "which of these two segments is better?".

The scripted teachers of B-Pref (Lee, Smith, Dragan, Abbeel, "B-Pref: Benchmarking
Preference-Based Reinforcement Learning", NeurIPS 2021 Datasets & Benchmarks), the regret
teacher of Knox et al. ("Models of human preference for learning reward functions", TMLR
2024) and a mixture of users who want different things.

Every teacher is one function, `label`, over a `TeacherParams` pytree whose fields are
arrays — so a sweep over teachers is a `vmap` over stacked params, not six programs. A
teacher sees a per-step *utility* of each segment, `[N, H]`: the gold reward for the
partial-return teachers of B-Pref, the optimal advantage A*(s_t, a_t) for the regret
teacher. The B-Pref order of operations is kept:

    skip   drop the query if both segments' returns are below ε_skip · R̄
    equal  mark a tie (label 0.5) if |R(σ_a) − R(σ_b)| < ε_equal · |R̄|
    myopic weight step t of a length-H segment by γ^(H−1−t)
    label  deterministic (β = ∞) or Bernoulli(sigmoid(β · (R_γ(σ_a) − R_γ(σ_b))))
    flip   with probability ε_mistake (ties stay ties: B-Pref sets them last)

R̄ is the average true return of a segment (B-Pref: mean training-episode return ×
H / episode length). Deviation: B-Pref's equal threshold is ε_equal · R̄, which is ≤ 0 and
so never fires on tasks with negative rewards (pendulum); we use |R̄| because a margin is
a magnitude. The skip threshold keeps B-Pref's sign convention (it only acts when
ε_skip · R̄ > 0), since "both segments are poor" has no sign-free reading.

Labels are y = P(σ_a ≻ σ_b) targets: 1 (a preferred), 0 (b preferred) or 0.5 (tie).

Mixture of users (`Users`, `mixture_label`): U users who want different things, each a
weighting w_u of the env's logged reward terms (`metrics["reward/<term>"]`, whose sum is
the gold reward), so user u's per-step utility is Σ_m w_um · r_m(s_t, a_t). Each query is
answered by one user drawn with probabilities p, through the same `label` (every user
shares the teacher's β, γ, ε; R̄ is the user's own average segment utility). Weights and
probabilities are array leaves, so a sweep over populations is one `vmap` too. This is
our construction for personalised preferences, not a published teacher.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class TeacherParams:
    """One teacher; every field a float array (stackable for a vmapped sweep over teachers)."""

    #: rationality; ≤ 0 encodes β = ∞ (deterministic, the oracle), as B-Pref's β = −1 does —
    #: an inf leaf would trip the training loop's non-finite check.
    beta: jax.Array
    gamma: jax.Array  # myopic discount over the segment; 1 = not myopic
    eps_mistake: jax.Array  # probability of flipping a label
    eps_skip: jax.Array  # skip threshold as a fraction of the average segment return
    eps_equal: jax.Array  # tie margin as a fraction of |average segment return|

    @classmethod
    def create(cls, beta=float("inf"), gamma=1.0, eps_mistake=0.0, eps_skip=0.0, eps_equal=0.0) -> "TeacherParams":
        f = lambda v: jnp.asarray(v, jnp.float32)
        beta = -1.0 if beta == float("inf") else beta
        return cls(f(beta), f(gamma), f(eps_mistake), f(eps_skip), f(eps_equal))


#: The six B-Pref teachers with their published settings (Lee et al. 2021, Sec. 4).
PRESETS: dict[str, dict] = {
    "oracle": dict(),
    "noisy": dict(beta=1.0),
    "mistake": dict(eps_mistake=0.1),
    "skip": dict(eps_skip=0.1),
    "myopic": dict(gamma=0.9),
    "equal": dict(eps_equal=0.1),
}


def preset(name: str) -> TeacherParams:
    """A B-Pref teacher by name (see `PRESETS`)."""
    if name not in PRESETS:
        raise ValueError(f"unknown teacher {name!r}. Valid teachers: {', '.join(PRESETS)}")
    return TeacherParams.create(**PRESETS[name])


def stack(params: list[TeacherParams]) -> TeacherParams:
    """Stacks teachers along a new leading axis, for `vmap` over teachers or a mixture."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *params)


def myopic_weights(gamma: jax.Array, length: int) -> jax.Array:
    """[H]: γ^(H−1−t), so the last step of a segment counts fully and earlier ones less."""
    return gamma ** (length - 1 - jnp.arange(length, dtype=jnp.float32))


def label(params: TeacherParams, rng: jax.Array, utility_a: jax.Array, utility_b: jax.Array,
          mean_segment_return: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Answers N queries.

    utility_a, utility_b: [N, H] per-step utility of each segment (gold reward, or A* for
    the regret teacher). mean_segment_return: [] the R̄ that scales the skip and equal
    thresholds. Returns (y [N] in {0, 0.5, 1} = P(a ≻ b) target, keep [N] bool: False where
    the teacher skipped the query).
    """
    k_rational, k_flip = jax.random.split(rng)
    ret_a, ret_b = utility_a.sum(-1), utility_b.sum(-1)

    skip_threshold = params.eps_skip * mean_segment_return
    keep = (skip_threshold <= 0) | (jnp.maximum(ret_a, ret_b) > skip_threshold)
    tie = jnp.abs(ret_a - ret_b) < params.eps_equal * jnp.abs(mean_segment_return)

    w = myopic_weights(params.gamma, utility_a.shape[-1])
    diff = (utility_a * w).sum(-1) - (utility_b * w).sum(-1)
    rational = jnp.where(diff > 0, 1.0, jnp.where(diff < 0, 0.0, 0.5))
    p_a = jax.nn.sigmoid(params.beta * diff)
    sampled = jax.random.bernoulli(k_rational, p_a).astype(jnp.float32)
    y = jnp.where(params.beta <= 0, rational, sampled)

    flip = jax.random.uniform(k_flip, y.shape) < params.eps_mistake
    y = jnp.where(flip, 1.0 - y, y)
    y = jnp.where(tie, 0.5, y)
    return y, keep


def regret_label(params: TeacherParams, rng: jax.Array, advantage_a: jax.Array, advantage_b: jax.Array,
                 mean_segment_return: jax.Array = jnp.zeros(())) -> tuple[jax.Array, jax.Array]:
    """Knox et al.'s regret teacher: preferences by Σ_t A*(s_t, a_t) instead of partial return.

    advantage_a, advantage_b: [N, H] optimal advantages of each step (0 on optimal actions,
    negative otherwise), known where optimal values are (tabular tasks). With a finite β
    this is their regret preference model P(a ≻ b) = sigmoid(β · (ΣA*(σ_a) − ΣA*(σ_b))).
    """
    return label(params, rng, advantage_a, advantage_b, mean_segment_return)


def mixture_label(params: TeacherParams, user_probs: jax.Array, rng: jax.Array, utility_a: jax.Array,
                  utility_b: jax.Array, mean_segment_return: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A population of users who want different things answers N queries, one user each.

    params: TeacherParams stacked over U users (see `stack`). user_probs: [U] how often each
    user is asked. utility_a, utility_b: [U, N, H] each user's per-step utility (e.g. the
    reward of the goal that user prefers). mean_segment_return: [U].
    Returns (y [N], keep [N], user [N] int: who answered).
    """
    k_user, k_label = jax.random.split(rng)
    n = utility_a.shape[1]
    user = jax.random.categorical(k_user, jnp.log(user_probs), shape=(n,))
    keys = jax.random.split(k_label, user_probs.shape[0])
    ys, keeps = jax.vmap(label)(params, keys, utility_a, utility_b, mean_segment_return)  # [U, N]
    pick = lambda a: jnp.take_along_axis(a, user[None], axis=0)[0]
    return pick(ys), pick(keeps), user


@struct.dataclass
class Users:
    """A population of users for `mixture_label`: what each wants and how often each is asked."""

    weights: jax.Array  # [U, M] user u's weight on reward term m
    probs: jax.Array  # [U] probability that a query goes to user u


def parse_users(text: str, field: str = "teacher_users") -> list[dict[str, float]]:
    """"forward=1,control=1; forward=-1,control=1" -> one {term: weight} dict per user.

    Users are separated by ";", a user's terms by ","; a term left out weighs 0. Errors
    name `field` and the offending user.
    """
    users = []
    for i, part in enumerate(text.split(";")):
        weights: dict[str, float] = {}
        for item in filter(None, (x.strip() for x in part.split(","))):
            term, eq, value = (x.strip() for x in item.partition("="))
            try:
                weight = float(value) if eq and term else math.nan
            except ValueError:
                weight = math.nan
            if not math.isfinite(weight):
                raise ValueError(f"{field}: user {i} has {item!r}; write term=weight with a finite number, "
                                 f"e.g. 'forward=1,control=1; forward=-1,control=1'")
            if term in weights:
                raise ValueError(f"{field}: user {i} weights the term {term!r} twice")
            weights[term] = weight
        if not weights:
            raise ValueError(f"{field}: user {i} weights no reward term (users are separated by ';')")
        users.append(weights)
    return users


def user_weights(users: list[dict[str, float]], terms: tuple[str, ...], valid_terms: tuple[str, ...],
                 field: str = "teacher_users") -> jax.Array:
    """[U, M] weight matrix of `parse_users` output over `terms` (the M columns).

    valid_terms: the env's reward terms; a user naming another term is an error that
    lists them.
    """
    for i, user in enumerate(users):
        unknown = [t for t in user if t not in valid_terms]
        if unknown:
            valid = ", ".join(valid_terms) if valid_terms else "none (it logs no metrics['reward/<term>'])"
            raise ValueError(f"{field}: user {i} names unknown reward term(s) {', '.join(map(repr, unknown))}; "
                             f"the env's reward terms are: {valid}")
    return jnp.asarray([[user.get(t, 0.0) for t in terms] for user in users], jnp.float32)


def user_utilities(weights: jax.Array, term_rewards: jax.Array) -> jax.Array:
    """Each user's per-step utility of segments.

    weights: [U, M]; term_rewards: [..., M] per-step rewards of the M terms (e.g. segments
    [N, H, M]). Returns [U, ...]: Σ_m weights[u, m] · term_rewards[..., m].
    """
    return jnp.einsum("um,...m->u...", weights, term_rewards)
