"""Small tabular MDPs with exact values: the shared toolkit for experiments that need ground truth.

Two kinds of MDP, both pytrees of arrays so that thousands of them are one `vmap`:

- `TabularMDP`: deterministic, `next_state [S, A]`, reward `[S, A]`; a fixed number of
  Bellman backups (`q_values`), differentiable in the reward. Used by the regret teacher:
  Knox, Hatgis-Kessell, Adalgeirsson, Booth, Dragan, Stone, Niekum, "Models of human
  preference for learning reward functions" (TMLR 2024) explain preferences by the regret
  Σ_t A*(s_t, a_t) of a segment, which needs A* = Q* − V* exactly.
- `MDP`: stochastic, `transition [S, A, S]`, an initial distribution, rewards kept apart as
  `[S, A, S]` arrays R(s, a, s'), so one MDP is scored under many rewards. Exact policy
  evaluation by a linear solve, optimal values by value iteration. Used by the reward
  distances (`jaxreward.evaluation`) and the Goodhart / distance-vs-regret experiments.

Random MDPs follow the STARC paper's test bed in spirit (Skalse et al., "STARC: A General
Framework For Quantifying Differences Between Reward Functions", ICLR 2024): random
transition kernels with a few successors per (s, a), and random rewards.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

#: up, down, left, right, stay
MOVES = jnp.array([[-1, 0], [1, 0], [0, -1], [0, 1], [0, 0]])


@struct.dataclass
class TabularMDP:
    """A deterministic MDP: next_state [S, A] int, reward [S, A], discount []."""

    next_state: jax.Array
    reward: jax.Array
    discount: jax.Array

    @property
    def num_states(self) -> int:
        return self.reward.shape[0]

    @property
    def num_actions(self) -> int:
        return self.reward.shape[1]


def gridworld_transitions(size: int) -> jax.Array:
    """[size², 5] next state of every cell and move; moves into a wall stay put."""
    rows, cols = jnp.divmod(jnp.arange(size * size), size)
    r = jnp.clip(rows[:, None] + MOVES[None, :, 0], 0, size - 1)
    c = jnp.clip(cols[:, None] + MOVES[None, :, 1], 0, size - 1)
    return r * size + c


def random_gridworld(rng: jax.Array, size: int = 5, discount: float = 0.9, num_goals: int = 2,
                     step_cost: float = 0.05) -> TabularMDP:
    """A gridworld whose reward is earned on entering cells: a few goal cells with random
    values in [0.5, 1], a few hazard cells at −1, and a small step cost elsewhere."""
    k_goal, k_val, k_haz = jax.random.split(rng, 3)
    S = size * size
    nxt = gridworld_transitions(size)
    cells = jax.random.permutation(k_goal, S)
    cell_reward = jnp.full((S,), -step_cost)
    cell_reward = cell_reward.at[cells[:num_goals]].set(jax.random.uniform(k_val, (num_goals,), minval=0.5, maxval=1.0))
    cell_reward = cell_reward.at[cells[num_goals:2 * num_goals]].set(-1.0)
    return TabularMDP(nxt, cell_reward[nxt], jnp.asarray(discount, jnp.float32))


def q_values(mdp: TabularMDP, reward: jax.Array | None = None, iterations: int = 100) -> jax.Array:
    """[S, A] Q* by `iterations` Bellman optimality backups (exact to γ^iterations)."""
    reward = mdp.reward if reward is None else reward

    def backup(q, _):
        return reward + mdp.discount * q.max(-1)[mdp.next_state], None

    q, _ = jax.lax.scan(backup, jnp.zeros_like(reward), None, length=iterations)
    return q


def optimal_advantages(mdp: TabularMDP, reward: jax.Array | None = None, iterations: int = 100) -> jax.Array:
    """[S, A] A*(s, a) = Q*(s, a) − V*(s): 0 on optimal actions, negative otherwise."""
    q = q_values(mdp, reward, iterations)
    return q - q.max(-1, keepdims=True)


def policy_value(mdp: TabularMDP, policy: jax.Array, iterations: int = 100) -> jax.Array:
    """[S] value under the true reward of a deterministic policy [S] int."""
    states = jnp.arange(mdp.num_states)
    r = mdp.reward[states, policy]
    nxt = mdp.next_state[states, policy]

    def backup(v, _):
        return r + mdp.discount * v[nxt], None

    v, _ = jax.lax.scan(backup, jnp.zeros((mdp.num_states,)), None, length=iterations)
    return v


def random_segments(rng: jax.Array, mdp: TabularMDP, num: int, length: int) -> tuple[jax.Array, jax.Array]:
    """`num` segments of uniformly random start states and actions: (states, actions) [num, H]."""
    k_start, k_act = jax.random.split(rng)
    start = jax.random.randint(k_start, (num,), 0, mdp.num_states)
    actions = jax.random.randint(k_act, (num, length), 0, mdp.num_actions)

    def step(s, a):
        return mdp.next_state[s, a], s

    _, states = jax.lax.scan(step, start, actions.T)
    return states.T, actions


# ---- stochastic MDPs with rewards R(s, a, s') ------------------------------------------------
@struct.dataclass
class MDP:
    """transition [S, A, S] (rows sum to 1), initial [S], discount []."""

    transition: jax.Array
    initial: jax.Array
    discount: jax.Array

    @property
    def num_states(self) -> int:
        return self.transition.shape[0]

    @property
    def num_actions(self) -> int:
        return self.transition.shape[1]


def from_deterministic(mdp: TabularMDP) -> MDP:
    """The stochastic form of a deterministic MDP (one-hot transitions, uniform start)."""
    S = mdp.num_states
    return MDP(jax.nn.one_hot(mdp.next_state, S), jnp.full((S,), 1.0 / S), mdp.discount)


def _kernel(xp, order_noise, weights, successors: int):
    """Transition [..., S, A, S] from noise: the `successors` first states of a random
    permutation (argsort of `order_noise` [..., S, A, S]), with probabilities `weights`
    [..., S, A, successors] normalised — Dirichlet(1) when the weights are Exp(1)."""
    succ = xp.argsort(order_noise, axis=-1)[..., :successors]
    prob = weights / weights.sum(-1, keepdims=True)
    onehot = succ[..., None] == xp.arange(order_noise.shape[-1])
    return (onehot * prob[..., None]).sum(-2)


def random_mdp(rng: jax.Array, num_states: int, num_actions: int, discount: float = 0.9,
               successors: int = 3) -> MDP:
    """A random MDP: each (s, a) leads to `successors` random states with Dirichlet(1)
    probabilities (sparse kernels make policies matter more than dense ones do); uniform start.
    Jittable; to make many at once on the host without compiling anything, `random_mdps`."""
    k_succ, k_prob = jax.random.split(rng)
    S, A = num_states, num_actions
    transition = _kernel(jnp, jax.random.uniform(k_succ, (S, A, S)), jax.random.exponential(k_prob, (S, A, successors)), successors)
    return MDP(transition, jnp.full((S,), 1.0 / S), jnp.asarray(discount, jnp.float32))


def random_mdps(rng: np.random.Generator, num: int, num_states: int, num_actions: int, discount: float = 0.9,
                successors: int = 3) -> MDP:
    """`num` random MDPs as one MDP pytree with a leading [num] axis (vmap over it), drawn
    with NumPy: the same distribution as `random_mdp`, but no random-number program to
    compile — on a CPU, compiling JAX's samplers under vmap costs seconds per call."""
    S, A = num_states, num_actions
    transition = _kernel(np, rng.uniform(size=(num, S, A, S)), rng.exponential(size=(num, S, A, successors)), successors)
    return MDP(jnp.asarray(transition, jnp.float32), jnp.full((num, S), 1.0 / S), jnp.full((num,), discount, jnp.float32))


def gridworld(size: int, discount: float = 0.9, slip: float = 0.0) -> MDP:
    """A size×size grid with moves up/down/left/right/stay; with probability `slip` the
    move is replaced by a uniformly random one."""
    nxt = jax.nn.one_hot(gridworld_transitions(size), size * size)  # [S, 5, S]
    transition = (1.0 - slip) * nxt + slip * nxt.mean(1, keepdims=True)
    S = size * size
    return MDP(transition, jnp.full((S,), 1.0 / S), jnp.asarray(discount, jnp.float32))


def random_reward(rng: jax.Array, mdp: MDP) -> jax.Array:
    """[S, A, S] standard normal rewards."""
    return jax.random.normal(rng, mdp.transition.shape)


def expected_reward(mdp: MDP, reward: jax.Array) -> jax.Array:
    """[S, A] E_{S'~T(s, a)}[R(s, a, S')]."""
    return (mdp.transition * reward).sum(-1)


def value_iteration(mdp: MDP, reward: jax.Array, iterations: int = 200) -> jax.Array:
    """[S, A] Q* of `reward` [S, A, S] after `iterations` backups (error ≤ γ^iterations·max|Q*|)."""
    r = expected_reward(mdp, reward)

    def backup(q, _):
        return r + mdp.discount * mdp.transition @ q.max(-1), None

    q, _ = jax.lax.scan(backup, jnp.zeros_like(r), None, length=iterations)
    return q


def greedy_policy(q: jax.Array) -> jax.Array:
    """[S, A] deterministic policy (one-hot) greedy in q [S, A]; ties go to the first action."""
    return jax.nn.one_hot(q.argmax(-1), q.shape[-1])


def uniform_policy(mdp: MDP) -> jax.Array:
    return jnp.full((mdp.num_states, mdp.num_actions), 1.0 / mdp.num_actions)


def policy_evaluation(mdp: MDP, reward: jax.Array, policy: jax.Array) -> jax.Array:
    """[S] exact V^π of `reward` [S, A, S] for a stochastic policy [S, A]: (I − γP_π)⁻¹ r_π."""
    r_pi = (policy * expected_reward(mdp, reward)).sum(-1)
    p_pi = jnp.einsum("sa,sat->st", policy, mdp.transition)
    return jnp.linalg.solve(jnp.eye(mdp.num_states) - mdp.discount * p_pi, r_pi)


def policy_return(mdp: MDP, reward: jax.Array, policy: jax.Array) -> jax.Array:
    """[] J(π) = E_{s0~initial}[V^π(s0)]."""
    return mdp.initial @ policy_evaluation(mdp, reward, policy)


def occupancy(mdp: MDP, policy: jax.Array) -> jax.Array:
    """[S, A] discounted state-action occupancy Σ_t γ^t P(s_t = s, a_t = a), so that
    J(π) = Σ occupancy · E[R(s, a, S')]."""
    p_pi = jnp.einsum("sa,sat->st", policy, mdp.transition)
    d = jnp.linalg.solve((jnp.eye(mdp.num_states) - mdp.discount * p_pi).T, mdp.initial)
    return d[:, None] * policy


def softmax_policy(q: jax.Array, beta: jax.Array | float) -> jax.Array:
    """[S, A] Boltzmann policy ∝ exp(β·q): β is the optimisation pressure (0: uniform)."""
    return jax.nn.softmax(beta * q, axis=-1)


def regret(mdp: MDP, reward: jax.Array, policy: jax.Array, iterations: int = 200) -> jax.Array:
    """[] J_R(π*_R) − J_R(π) ≥ 0: how much return under `reward` the policy leaves behind."""
    best = policy_return(mdp, reward, greedy_policy(value_iteration(mdp, reward, iterations)))
    return best - policy_return(mdp, reward, policy)
