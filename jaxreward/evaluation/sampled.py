"""EPIC, DARD and STARC distances between reward models on an environment, from samples.

The exact forms live in `distances` (tabular MDPs). Here the expectations of each
canonicalisation are Monte-Carlo averages over transitions sampled from an environment by a
uniform-random coverage policy, and any reward under the reward contract (`RewardModel` +
its state), or any function of (obs, action, next_obs, gold), can be compared.

A `CoverageSample` holds N base transitions (s, a, s') — the ones the distance is measured
on — and, for each, M one-step transitions from s and from s' (fresh uniform actions, the
environment's own successors), which DARD's expectations need (Wulfe et al., ICLR 2022).
EPIC's (Gleave et al., ICLR 2021) S' is drawn from a pool of M visited states shared by all
base transitions, so its constant terms are shared exactly and the sampled distance keeps
EPIC's invariance to potential shaping sample by sample, not only in expectation.

Gold off the dynamics. EPIC queries R(s, A, S') for S' that need not follow (s, A); the
environment's gold reward is defined only on its own transitions. We take the gold reward
of such a query to be the reward the environment pays for A in s (obtained by stepping from
s), i.e. gold is treated as a state-action reward. Learned models are queried as given.
DARD's term R(S', A, S'') is treated the same way. This is a deviation to state in results.

The sampled STARC metric uses DARD's canonicalisation, the L2 norm over the base
transitions, and the L2 distance between normalised canonical rewards (Skalse et al.,
"STARC", ICLR 2024: canonicalise, normalise, metric); range [0, 2]. It follows the STARC
recipe but is not a STARC metric in the paper's sense: a canonicalisation there must also
remove S'-redistribution, and DARD's keeps R(s, a, s') itself, so under stochastic dynamics
two rewards that order all policies alike can be at a positive distance, and the paper's
regret bounds are not claimed for it. The exact `distances.starc` (value-adjusted levelling)
is one.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxreward.evaluation.distances import pearson_distance
from jaxreward.rewards.base import RewardModel, TransitionBatch

#: reward_fn(obs [n, D], action [n, ...], next_obs [n, D], gold [n]) -> r [n]
RewardFn = Callable[[jax.Array, jax.Array, jax.Array, jax.Array], jax.Array]


@struct.dataclass
class CoverageSample:
    """Transitions for the sampled distances. N base transitions, M samples per expectation."""

    obs: jax.Array  # [N, D]
    action: jax.Array  # [N, ...]
    next_obs: jax.Array  # [N, D]
    gold: jax.Array  # [N]
    weight: jax.Array  # [N] 0 where the base transition ended its episode (no successor)
    # From s and from s': one step with a fresh action each (DARD's S' ~ T(s, A), S'' ~ T(s', A)).
    act_from_obs: jax.Array  # [N, M, ...]
    succ_from_obs: jax.Array  # [N, M, D]
    gold_from_obs: jax.Array  # [N, M]
    act_from_next: jax.Array  # [N, M, ...]
    succ_from_next: jax.Array  # [N, M, D]
    gold_from_next: jax.Array  # [N, M]
    # DARD's R(S', A, S''): from successor S' of s (j-th), a fresh action, to successor S'' of s'.
    act_between: jax.Array  # [N, M, ...]
    gold_between: jax.Array  # [N, M]
    # EPIC: a pool of M visited states (S') shared by all base transitions, with the
    # actions A (also shared) and the gold rewards of stepping A from s, from s', from the pool.
    pool: jax.Array  # [M, D]
    pool_action: jax.Array  # [M, ...]
    gold_pool_from_obs: jax.Array  # [N, M]
    gold_pool_from_next: jax.Array  # [N, M]
    gold_pool_from_pool: jax.Array  # [M, M]


def _actions(env, u: jax.Array) -> jax.Array:
    """Uniform random actions from uniform [0, 1) noise `u` [..., action_size]: continuous
    in [−1, 1], or discrete (from the first noise column)."""
    if env.discrete:
        return jnp.minimum((u[..., 0] * env.action_size).astype(jnp.int32), env.action_size - 1)
    return 2.0 * u - 1.0


def collect(env, rng: jax.Array, num_transitions: int = 256, num_samples: int = 16, warmup_steps: int = 20) -> CoverageSample:
    """Samples a `CoverageSample` from `env` (an `envs` environment, without auto-reset).

    Base states are those a uniform-random policy visits after `warmup_steps` steps from
    `num_transitions` independent resets. Jittable with `env`, the sizes static. All action
    noise is one draw: each JAX sampler call adds seconds of compile time on a CPU.
    """
    N, M, W = num_transitions, num_samples, warmup_steps
    k_reset, k_act, k_pool = jax.random.split(rng, 3)
    sizes = [(W + 1) * N, 3 * N * M, M]  # warm-up and base, (from s, from s', between), EPIC's pool actions
    noise = jax.random.uniform(k_act, (sum(sizes), max(env.action_size, 1)))
    u_walk, u_grid, u_pool = jnp.split(noise, list(np.cumsum(sizes)[:-1]))
    step = jax.vmap(env.step)

    def walk(carry, u):  # carries (state, previous state): the last step is the base transition
        return (step(carry[0], _actions(env, u)), carry[0]), None

    start = jax.vmap(env.reset)(jax.random.split(k_reset, N))
    (nxt, state), _ = jax.lax.scan(walk, (start, start), u_walk.reshape(W + 1, N, -1))
    alive = 1.0 - state.done
    action = _actions(env, u_walk.reshape(W + 1, N, -1)[-1])
    act_obs, act_next, act_between = (_actions(env, u.reshape(N, M, -1)) for u in jnp.split(u_grid, 3))

    # M distinct base states that did not end their episode, uniformly: the first M of a
    # random order that puts the ended ones last.
    pool_idx = jnp.argsort(jax.random.uniform(k_pool, (N,)) + 2.0 * (1.0 - alive))[:M]
    pool_state = jax.tree.map(lambda x: x[pool_idx], state)
    pool_action = _actions(env, u_pool)

    def tile(states, n):  # [n, ...] -> [n·M, ...], each state M times
        return jax.tree.map(lambda x: jnp.repeat(x, M, 0), states)

    def flat(actions):  # [n, M, ...] -> [n·M, ...]
        return actions.reshape((-1,) + actions.shape[2:])

    def shared(n):  # the same M pool actions from each of n states -> [n·M, ...]
        return jnp.tile(pool_action, (n,) + (1,) * (pool_action.ndim - 1))

    # Every one-step query from s, s' and the pool is one batched step (one copy of the
    # env's step in the program, not five), then split back.
    sources = [(state, act_obs, N), (nxt, act_next, N), (state, None, N), (nxt, None, N), (pool_state, None, M)]
    states = jax.tree.map(lambda *x: jnp.concatenate(x), *[tile(st, n) for st, _, n in sources])
    actions = jnp.concatenate([flat(a) if a is not None else shared(n) for _, a, n in sources])
    out = step(states, actions)
    counts = [n * M for _, _, n in sources]
    from_obs, from_next, pool_obs, pool_next, pool_pool = (
        jax.tree.map(lambda x: x.reshape((n, M) + x.shape[1:]), part) for part, n in zip(
            [jax.tree.map(lambda x: x[a:b], out) for a, b in zip(np.cumsum([0] + counts[:-1]), np.cumsum(counts))],
            [n for _, _, n in sources]))
    between = step(jax.tree.map(lambda x: x.reshape((N * M,) + x.shape[2:]), from_obs), flat(act_between))

    return CoverageSample(
        obs=state.obs, action=action, next_obs=nxt.obs, gold=nxt.reward, weight=alive * (1.0 - nxt.done),
        act_from_obs=act_obs, succ_from_obs=from_obs.obs, gold_from_obs=from_obs.reward,
        act_from_next=act_next, succ_from_next=from_next.obs, gold_from_next=from_next.reward,
        act_between=act_between, gold_between=between.reward.reshape(N, M),
        pool=pool_state.obs, pool_action=pool_action,
        gold_pool_from_obs=pool_obs.reward, gold_pool_from_next=pool_next.reward, gold_pool_from_pool=pool_pool.reward,
    )


def sample(env, seed: int, num_transitions: int = 256, num_samples: int = 16) -> CoverageSample:
    """`collect` compiled on its own, so every user of one environment and size (the
    `eval-reward` command, tests, experiments) shares one program through the compilation
    cache, whatever rewards it then compares."""
    return _collect_jit(env, jax.random.PRNGKey(seed), num_transitions, num_samples)


_collect_jit = jax.jit(collect, static_argnums=(0, 2, 3))


def model_fn(model: RewardModel, state) -> RewardFn:
    """A reward model under the contract as a `RewardFn`: each query is a [1, n] batch."""

    def fn(obs, action, next_obs, gold):
        n = obs.shape[0]
        zeros = jnp.zeros((1, n))
        batch = TransitionBatch(obs=obs[None], action=action[None], next_obs=next_obs[None], gold_reward=gold[None],
                                done=zeros, truncation=zeros, metrics={})
        r, _ = model.reward(state, batch)
        return r[0]

    return fn


@struct.dataclass
class RewardValues:
    """One reward's values on a `CoverageSample` (same names, [N] / [N, M] / [M, M])."""

    base: jax.Array
    from_obs: jax.Array
    from_next: jax.Array
    between: jax.Array
    pool_from_obs: jax.Array
    pool_from_next: jax.Array
    pool_from_pool: jax.Array


def evaluate(fn: RewardFn, sample: CoverageSample) -> RewardValues:
    """Scores every transition of the sample with `fn`."""
    N, M = sample.gold_from_obs.shape

    def flat(x, lead):
        return x.reshape((lead,) + x.shape[2:]) if x.ndim >= 2 else x

    def grid(obs, action, next_obs, gold):
        """obs [n, M, D] etc. -> r [n, M]."""
        n = obs.shape[0]
        return fn(flat(obs, n * M), flat(action, n * M), flat(next_obs, n * M), gold.reshape(n * M)).reshape(n, M)

    def rep(x, n):  # [n, ...] -> [n, M, ...]
        return jnp.repeat(x[:, None], M, 1)

    def shared(x, n):  # [M, ...] -> [n, M, ...]
        return jnp.broadcast_to(x[None], (n,) + x.shape)

    return RewardValues(
        base=fn(sample.obs, sample.action, sample.next_obs, sample.gold),
        from_obs=grid(rep(sample.obs, N), sample.act_from_obs, sample.succ_from_obs, sample.gold_from_obs),
        from_next=grid(rep(sample.next_obs, N), sample.act_from_next, sample.succ_from_next, sample.gold_from_next),
        between=grid(sample.succ_from_obs, sample.act_between, sample.succ_from_next, sample.gold_between),
        pool_from_obs=grid(rep(sample.obs, N), shared(sample.pool_action, N), shared(sample.pool, N), sample.gold_pool_from_obs),
        pool_from_next=grid(rep(sample.next_obs, N), shared(sample.pool_action, N), shared(sample.pool, N), sample.gold_pool_from_next),
        pool_from_pool=grid(rep(sample.pool, M), shared(sample.pool_action, M), shared(sample.pool, M), sample.gold_pool_from_pool),
    )


def epic_canonical(v: RewardValues, discount) -> jax.Array:
    """[N] C(R)(s,a,s') = R + γE[R(s',A,S')] − E[R(s,A,S')] − γE[R(S,A,S')], S' from the pool."""
    return v.base + discount * v.pool_from_next.mean(1) - v.pool_from_obs.mean(1) - discount * v.pool_from_pool.mean()


def dard_canonical(v: RewardValues, discount) -> jax.Array:
    """[N] C(R)(s,a,s') = R + γE[R(s',A,S'')] − E[R(s,A,S')] − γE[R(S',A,S'')], dynamics samples."""
    return v.base + discount * v.from_next.mean(1) - v.from_obs.mean(1) - discount * v.between.mean(1)


def distances(v1: RewardValues, v2: RewardValues, weight: jax.Array, discount) -> dict[str, jax.Array]:
    """{"epic", "dard", "starc"} between two rewards' values on one sample."""
    d1, d2 = dard_canonical(v1, discount), dard_canonical(v2, discount)
    w = weight / weight.sum()

    def normalised(c):
        norm = jnp.sqrt(w @ (c * c))
        return jnp.where(norm > 1e-8, c / jnp.where(norm > 0, norm, 1.0), 0.0)

    return {
        "epic": pearson_distance(epic_canonical(v1, discount), epic_canonical(v2, discount), w),
        "dard": pearson_distance(d1, d2, w),
        "starc": jnp.sqrt(w @ (normalised(d1) - normalised(d2)) ** 2),
    }
