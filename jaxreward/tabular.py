"""Small tabular tasks with exact optimal values, for the regret preference model.

Knox, Hatgis-Kessell, Adalgeirsson, Booth, Dragan, Stone, Niekum, "Models of human
preference for learning reward functions" (TMLR 2024): people's preferences are better
explained by the *regret* of a segment — here Σ_t A*(s_t, a_t), the sum of optimal
advantages — than by its partial return Σ_t r_t, and a reward is identifiable from
regret preferences where partial-return preferences leave it ambiguous.

Regret needs A* = Q* − V*, exact only where the MDP is small and known: a deterministic
gridworld, solved by value iteration (a fixed number of Bellman backups, so it is
differentiable in the reward and a learner can fit a reward *through* the regret model).
Everything is a pure function of arrays, so many random worlds are one `vmap`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
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
