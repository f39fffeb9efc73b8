"""Contextual rooms: a gridworld whose layout is redrawn between episodes, from a set of
`num_contexts` layouts (1: the same every episode) or fresh each episode (0).

The environment of `experiments/global_vs_episodic.py`, a small stand-in for the
procedurally generated MiniHack / Procgen tasks of Henaff, Jiang, Raileanu, "A Study of
Global and Episodic Bonuses for Exploration in Contextual MDPs" (ICML 2023): the knob
`num_contexts` sets how much is shared across episodes.

A 9×9 grid; the agent starts at the middle of the top row. Walls fill rows 2, 4 and 6
except for one door each; the goal is a cell of the bottom row. The door columns and the
goal column are the context. Actions: 0 up, 1 right, 2 down, 3 left (a move into a wall or
off the grid does nothing). Reward 1 on reaching the goal, which ends the episode
(success); 100 steps otherwise. Observation [117]: one-hot agent cell (81), one-hot door
column of each wall row (3 × 9), one-hot goal column (9) — the layout is observed, so a
global bonus sees a new layout as novel. `metrics["cell"]` is the agent's cell.

`observe_visited=True` appends the cells visited so far in the episode (81, 1 where
visited), the memory MiniHack's map gives its agents: without it an episodic bonus (E3B,
counts) depends on a history a feed-forward policy and value head cannot see.

It lives with its experiment and registers itself as `contextual_rooms` when imported
(the env package belongs to another team's ongoing work; it can move to
`envs/exploration` unchanged).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import envs
from envs.core import Env, State, info_defaults
from envs.registry import register

SIZE = 9
WALL_ROWS = (2, 4, 6)
START = (0, SIZE // 2)
MOVES = jnp.array([[-1, 0], [0, 1], [1, 0], [0, -1]], jnp.int32)  # (row, column) per action


class ContextualRooms(Env):
    """Args:
    num_contexts: layouts drawn from this many fixed ones (1: always the same); 0 draws a
      fresh layout every episode.
    layout_seed: seed of the fixed layouts.
    observe_visited: append the episode's visited cells to the observation.
    """

    action_space = "discrete"
    default_episode_length = 100
    family = "exploration"

    def __init__(self, num_contexts: int = 1, layout_seed: int = 0, observe_visited: bool = False):
        if num_contexts < 0:
            raise ValueError(f"num_contexts must be >= 0 (0: a new layout every episode), got {num_contexts}")
        self.num_contexts = int(num_contexts)
        self.layout_seed = int(layout_seed)
        self.observe_visited = bool(observe_visited)

    @property
    def observation_size(self) -> int:
        return SIZE * SIZE + len(WALL_ROWS) * SIZE + SIZE + (SIZE * SIZE if self.observe_visited else 0)

    @property
    def action_size(self) -> int:
        return 4

    num_cells = SIZE * SIZE
    #: Every cell: a wall row's door moves between layouts, so over many episodes the agent
    #: can stand on any cell of it (coverage counts cells seen since training began).
    reachable_cells = SIZE * SIZE

    def _layout(self, rng: jax.Array) -> jax.Array:
        """[len(WALL_ROWS) + 1] int32: door column of each wall row, then the goal column."""
        if self.num_contexts > 0:
            context = jax.random.randint(rng, (), 0, self.num_contexts)
            rng = jax.random.fold_in(jax.random.PRNGKey(self.layout_seed), context)
        return jax.random.randint(rng, (len(WALL_ROWS) + 1,), 0, SIZE)

    def _obs(self, pos: jax.Array, layout: jax.Array, visited: jax.Array) -> jax.Array:
        cell = jax.nn.one_hot(pos[0] * SIZE + pos[1], SIZE * SIZE)
        parts = [cell, jax.nn.one_hot(layout, SIZE).ravel()] + ([visited.astype(jnp.float32)] if self.observe_visited else [])
        return jnp.concatenate(parts)

    def _blocked(self, pos: jax.Array, layout: jax.Array) -> jax.Array:
        outside = jnp.any((pos < 0) | (pos >= SIZE))
        wall_rows = jnp.asarray(WALL_ROWS)
        in_wall_row = pos[0] == wall_rows
        not_door = pos[1] != layout[: len(WALL_ROWS)]
        return outside | jnp.any(in_wall_row & not_door)

    def reset(self, rng: jax.Array) -> State:
        layout = self._layout(rng)
        pos = jnp.asarray(START, jnp.int32)
        visited = jax.nn.one_hot(pos[0] * SIZE + pos[1], SIZE * SIZE, dtype=jnp.int32)
        q = jnp.concatenate([pos, layout, visited])  # pipeline_state: [row, column, doors..., goal, visited (81)]
        zero = jnp.zeros(())
        metrics = {"reward/goal": zero, "success": zero, "cell": (pos[0] * SIZE + pos[1]).astype(jnp.float32)}
        return State(q, self._obs(pos, layout, visited), zero, zero, metrics, info_defaults())

    def step(self, state: State, action: jax.Array) -> State:
        """action: int scalar in [0, 4)."""
        n = len(WALL_ROWS) + 1
        pos, layout, visited = state.pipeline_state[:2], state.pipeline_state[2 : 2 + n], state.pipeline_state[2 + n :]
        target = pos + MOVES[jnp.reshape(action, ())]
        pos = jnp.where(self._blocked(target, layout), pos, target)
        visited = visited.at[pos[0] * SIZE + pos[1]].set(1)
        at_goal = (pos[0] == SIZE - 1) & (pos[1] == layout[-1])
        reward = at_goal.astype(jnp.float32)
        metrics = {"reward/goal": reward, "success": reward, "cell": (pos[0] * SIZE + pos[1]).astype(jnp.float32)}
        return state.replace(
            pipeline_state=jnp.concatenate([pos, layout, visited]), obs=self._obs(pos, layout, visited), reward=reward,
            done=reward, metrics=metrics,
        )


if "contextual_rooms" not in envs.names():
    register("contextual_rooms", ContextualRooms,
             "9x9 rooms gridworld, doors and goal redrawn per episode from num_contexts layouts (0: fresh); observe_visited")
