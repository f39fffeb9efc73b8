"""contextual_rooms (experiments/contextual_rooms.py): walls, doors, goal, layouts, the
visited-cells observation.

The module registers the env when imported. It is imported here inside the tests, not at
collection: the registry-wide contract tests (tests/test_envs.py) are parametrised at
collection over `envs.names()` and cover the envs of `envs/`, whose resets are random; one
fixed layout makes this env's reset deterministic by design.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest


def _rooms():
    from experiments import contextual_rooms

    return contextual_rooms


SIZE, START, WALL_ROWS = 9, (0, 4), (2, 4, 6)  # checked against the module in the first test

UP, RIGHT, DOWN, LEFT = range(4)


def _walk(env, state, actions):
    step = jax.jit(env.step)
    for a in actions:
        state = step(state, jnp.asarray(a))
    return state


def _layout(state):
    return np.asarray(state.pipeline_state[2 : 2 + len(WALL_ROWS) + 1])


def _route(layout):
    """Actions from the start through every door to the goal: in the row above each wall
    row, across to its door, then down through it."""
    row, col, actions = START[0], START[1], []
    for target_row, door in list(zip(WALL_ROWS, layout[:-1])) + [(SIZE - 1, layout[-1])]:
        actions += [DOWN] * (target_row - 1 - row)
        actions += [RIGHT if door > col else LEFT] * abs(int(door) - col)
        actions += [DOWN] * (1 if target_row == SIZE - 1 else 2)
        row, col = target_row + (0 if target_row == SIZE - 1 else 1), int(door)
    return actions


def test_walls_block_and_doors_lead_to_the_goal():
    m = _rooms()
    assert (m.SIZE, m.START, m.WALL_ROWS) == (SIZE, START, WALL_ROWS)
    env = m.ContextualRooms(num_contexts=1)
    state = env.reset(jax.random.PRNGKey(0))
    layout = _layout(state)
    off_door = (layout[0] + 1) % SIZE
    blocked = _walk(env, state, [RIGHT if off_door > START[1] else LEFT] * abs(off_door - START[1]) + [DOWN, DOWN])
    assert int(blocked.pipeline_state[0]) == 1  # row 1: the wall row 2 stopped it
    route = _route(layout)
    before = _walk(env, state, route[:-1])
    assert float(before.done) == 0.0
    end = env.step(before, jnp.asarray(route[-1]))
    assert float(end.reward) == 1.0 and float(end.done) == 1.0 and float(end.metrics["success"]) == 1.0
    assert tuple(np.asarray(end.pipeline_state[:2])) == (SIZE - 1, layout[-1])


def test_one_layout_repeats_and_zero_layouts_redraw():
    keys = jax.random.split(jax.random.PRNGKey(1), 8)
    fixed = {tuple(_layout(_rooms().ContextualRooms(num_contexts=1).reset(k))) for k in keys}
    fresh = {tuple(_layout(_rooms().ContextualRooms(num_contexts=0).reset(k))) for k in keys}
    assert len(fixed) == 1 and len(fresh) == 8
    with pytest.raises(ValueError, match="num_contexts must be >= 0"):
        _rooms().ContextualRooms(num_contexts=-1)


def test_visited_cells_are_observed_and_reset_with_the_episode():
    env = _rooms().ContextualRooms(num_contexts=1, observe_visited=True)
    plain = _rooms().ContextualRooms(num_contexts=1)
    state = env.reset(jax.random.PRNGKey(0))
    assert env.observation_size == plain.observation_size + SIZE * SIZE == state.obs.shape[0]
    visited = lambda s: np.asarray(s.obs[plain.observation_size :])
    start = START[0] * SIZE + START[1]
    assert visited(state).sum() == 1 and visited(state)[start] == 1
    state = _walk(env, state, [RIGHT, RIGHT, LEFT, LEFT, DOWN])  # 3 new cells, one revisit of the start
    assert visited(state).sum() == 4
    np.testing.assert_array_equal(state.obs[: plain.observation_size], plain._obs(state.pipeline_state[:2], _layout(state), None))
    assert visited(env.reset(jax.random.PRNGKey(0))).sum() == 1
