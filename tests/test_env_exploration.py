"""Sparse-reward exploration envs: known values, scripted solutions, and the traps they set.

Each env here is checked against something that could fail: hand-computed dynamics
(mountain car, cart-pole swing-up), the one rewarded path of deep sea, walls that a
straight-line policy cannot pass while a breadth-first route through the maze grid reaches
the goal, and the `metrics["cell"]` index that exploration code counts.
"""

from __future__ import annotations

import functools
from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.exploration import point_maze

from conftest import env_jit


@functools.lru_cache(maxsize=None)
def jitted(name: str, **options):
    """(env, jit(reset), jit(step)) of `envs.make(name, **options)`, compiled once per module run."""
    env = envs.make(name, **options)
    return env, env_jit(env.reset), env_jit(env.step)


def run(name, policy, key, num_steps=None, stop_when_done=False, **options):
    """Steps one env with `policy(obs) -> action` (numpy obs); returns the list of states."""
    env, reset, step = jitted(name, **options)
    state = reset(key)
    states = []
    for _ in range(num_steps or env.default_episode_length):
        state = step(state, policy(np.asarray(state.obs)))
        states.append(state)
        if stop_when_done and float(state.done):
            break
    return states


def values(states, key):
    return np.array([float(s.metrics[key]) if key in s.metrics else float(getattr(s, key)) for s in states])


# ---------------------------------------------------------------------------------------------
# Point maze: walls block straight lines; a route found by breadth-first search gets through.

U_WAYPOINTS = np.array([[0.7, -0.6], [0.7, 0.6], [-0.6, 0.6]])


def waypoint_policy(waypoints, reach=0.1):
    """Velocity commands along `waypoints` [K, 2] (a stateful numpy policy)."""
    index = [0]

    def policy(obs):
        to_waypoint = waypoints[index[0]] - obs[:2]
        if np.linalg.norm(to_waypoint) < reach and index[0] < len(waypoints) - 1:
            index[0] += 1
            to_waypoint = waypoints[index[0]] - obs[:2]
        return jnp.asarray(np.clip(to_waypoint / 0.1, -1.0, 1.0), jnp.float32)

    return policy


def straight_to_goal(obs):
    return jnp.asarray(np.clip((obs[4:6] - obs[:2]) / 0.1, -1.0, 1.0), jnp.float32)


def grid_route(grid):
    """Cell centres [K, 2] of a shortest S→G path through the character grid (BFS)."""
    rows, cols = len(grid), len(grid[0])
    find = lambda ch: next((r, c) for r in range(rows) for c in range(cols) if grid[r][c] == ch)  # noqa: E731
    start, goal = find("S"), find("G")
    parent = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nxt = (cell[0] + dr, cell[1] + dc)
            if grid[nxt[0]][nxt[1]] != "#" and nxt not in parent:
                parent[nxt] = cell
                queue.append(nxt)
    assert goal in parent, "the goal cell is unreachable from the start"
    path, cell = [], goal
    while cell is not None:
        path.append(cell)
        cell = parent[cell]
    return np.array([[c - cols / 2 + 0.5, rows / 2 - r - 0.5] for r, c in reversed(path)], np.float32)


def test_point_maze_wall_blocks_the_straight_line():
    states = run("point_maze", straight_to_goal, jax.random.PRNGKey(8))
    assert not any(float(s.metrics["success"]) for s in states)
    ys = np.array([float(s.obs[1]) for s in states])
    assert ys.max() <= -0.15, "the point went into the wall"
    # Stuck under the wall, it only improves −distance to about −0.75.
    assert float(states[-1].reward) < -0.7


def test_point_maze_scripted_route_reaches_the_goal():
    states = run("point_maze", waypoint_policy(U_WAYPOINTS), jax.random.PRNGKey(8))
    success = values(states, "success")
    assert success.any(), "the scripted route never reached the goal"
    assert int(np.argmax(success)) < 0.5 * len(states)
    assert float(states[-1].reward) > -0.1  # it stays there; dense reward ≈ 0
    assert not any(float(s.done) for s in states[:-1]), "reaching the goal terminated by default"


def test_point_maze_sparse_reward_is_the_goal_indicator():
    env = envs.make("point_maze_sparse")
    assert set(env.reset(jax.random.PRNGKey(0)).metrics) == {"reward/goal", "success", "cell"}
    states = run("point_maze_sparse", waypoint_policy(U_WAYPOINTS), jax.random.PRNGKey(9))
    rewards, success = values(states, "reward"), values(states, "success")
    np.testing.assert_array_equal(rewards, success)
    assert rewards[0] == 0.0 and rewards[-1] == 1.0


def test_point_maze_terminate_at_goal_option():
    states = run("point_maze", waypoint_policy(U_WAYPOINTS), jax.random.PRNGKey(8), stop_when_done=True,
                 terminate_at_goal=True)
    assert float(states[-1].metrics["success"]) == 1.0 and float(states[-1].done) == 1.0
    assert float(states[-1].info["truncation"]) == 0.0


def test_point_maze_open_layout_has_no_wall():
    states = run("point_maze", straight_to_goal, jax.random.PRNGKey(8), layout="open")
    success = values(states, "success")
    # 1.2 to cover at speed ≤ 1 with dt 0.1: about 12 steps plus the velocity lag.
    assert success.any() and int(np.argmax(success)) < 20


def test_grid_layouts_turn_characters_into_wall_boxes():
    layout = point_maze.grid_layout(("#####", "#S.G#", "#.#.#", "#####"), episode_length=10)
    np.testing.assert_array_equal(layout.bounds, [-2.5, -2.0, 2.5, 2.0])
    np.testing.assert_array_equal(layout.start, [-1.0, 1.0 - 0.5])  # row 1, column 1
    np.testing.assert_array_equal(layout.goal, [1.0, 0.5])
    # Rows of '#' merge into one box each; the inner wall cell is its own box.
    walls = {tuple(w) for w in layout.walls.tolist()}
    assert (-2.5, 1.0, 2.5, 2.0) in walls and (-2.5, -2.0, 2.5, -1.0) in walls
    assert (-0.5, -1.0, 0.5, 0.0) in walls
    assert len(layout.walls) == 2 + 2 + 3  # top, bottom, two side cells of row 1, three of row 2
    with pytest.raises(ValueError, match="'S'"):
        point_maze.grid_layout(("###", "#.#", "###"), episode_length=10)


@pytest.mark.parametrize("layout,grid", [("medium", point_maze.MEDIUM_GRID), ("large", point_maze.LARGE_GRID)])
def test_grid_maze_route_succeeds_where_the_straight_line_fails(layout, grid):
    name = f"point_maze_{layout}_sparse"
    blocked = run(name, straight_to_goal, jax.random.PRNGKey(20))
    assert not values(blocked, "success").any(), "the straight line reached the goal through the walls"
    route = grid_route(grid)
    states = run(name, waypoint_policy(route), jax.random.PRNGKey(20))
    success = values(states, "success")
    assert success.any(), f"the breadth-first route ({len(route)} cells) never reached the goal"
    # About 10 steps per cell at full speed; the episode allows the route with room to spare.
    assert int(np.argmax(success)) < 0.6 * len(states)
    np.testing.assert_array_equal(values(states, "reward"), success)


@pytest.mark.parametrize("layout", ["u", "medium", "large"])
def test_random_motion_never_enters_a_wall(layout):
    env = envs.make("point_maze", layout=layout, time_limit=False)
    num_envs, num_steps = 64, 300

    @jax.jit
    def positions(key):
        state = jax.vmap(env.reset)(jax.random.split(key, num_envs))

        def one(state, k):
            # Full-speed random commands (the signs of uniform draws) press into walls often.
            action = jnp.sign(jax.random.uniform(k, (num_envs, 2), minval=-1.0, maxval=1.0))
            state = jax.vmap(env.step)(state, action)
            return state, (state.pipeline_state[:, :2], state.metrics["cell"])

        return jax.lax.scan(one, state, jax.random.split(key, num_steps))[1]

    pos, cells = (np.asarray(x) for x in positions(jax.random.PRNGKey(21)))
    walls = env.layout.walls
    inside = (
        (pos[..., None, 0] >= walls[:, 0]) & (pos[..., None, 1] >= walls[:, 1])
        & (pos[..., None, 0] <= walls[:, 2]) & (pos[..., None, 1] <= walls[:, 3])
    )
    assert not inside.any(), "a point ended a step inside a wall"
    lo, hi = env.layout.bounds[:2], env.layout.bounds[2:]
    assert (pos >= lo).all() and (pos <= hi).all()
    # Cells: the index of the unit (or 0.2 for "u") grid cell under the point.
    cols, rows = env.layout.cells
    size = (hi - lo) / np.array([cols, rows])
    col_row = np.floor((pos - lo) / size)
    np.testing.assert_array_equal(cells, col_row[..., 1] * cols + col_row[..., 0])
    assert len(np.unique(cells)) > 3, "random motion should visit several cells"


def test_point_maze_unknown_layout_lists_the_valid_ones():
    with pytest.raises(ValueError, match="u, open, medium, large"):
        envs.make("point_maze", layout="spiral")


# ---------------------------------------------------------------------------------------------
# Mountain car: Gymnasium's equations; pushing uphill fails, pumping energy succeeds.


def test_mountain_car_first_step_matches_hand_computed_dynamics():
    env, reset, step = jitted("mountain_car")
    state = reset(jax.random.PRNGKey(0))
    x0 = float(state.obs[0])
    assert -0.6 <= x0 <= -0.4 and float(state.obs[1]) == 0.0
    out = step(state, jnp.array([0.5]))
    v = 0.5 * 0.0015 - 0.0025 * np.cos(3 * x0)
    np.testing.assert_allclose(out.obs, [x0 + v, v], rtol=1e-5, atol=1e-7)
    assert float(out.reward) == pytest.approx(-0.1 * 0.25)
    assert float(out.metrics["reward/control"]) == pytest.approx(-0.025)


def test_mountain_car_left_wall_stops_the_car():
    env, reset, step = jitted("mountain_car")
    state = reset(jax.random.PRNGKey(0))
    state = state.replace(pipeline_state=jnp.array([-1.19, -0.05]), obs=jnp.array([-1.19, -0.05]))
    out = step(state, jnp.array([-1.0]))
    np.testing.assert_allclose(out.obs, [-1.2, 0.0])


def test_mountain_car_needs_momentum():
    push = run("mountain_car", lambda obs: jnp.ones(1), jax.random.PRNGKey(1))
    assert not values(push, "success").any(), "full throttle alone climbed the hill"
    pump = run("mountain_car", lambda obs: jnp.array([1.0 if obs[1] >= 0 else -1.0]), jax.random.PRNGKey(1),
               stop_when_done=True)
    last = pump[-1]
    assert float(last.done) == 1.0 and float(last.metrics["success"]) == 1.0
    assert float(last.obs[0]) >= 0.45
    assert float(last.reward) == pytest.approx(100.0 - 0.1)
    assert len(pump) < 200
    # Every step before the flag paid the control cost only.
    np.testing.assert_allclose(values(pump[:-1], "reward"), -0.1)
    # Rocking back and forth visits many position × velocity cells.
    assert len(set(values(pump, "cell"))) > 20


def test_mountain_car_sparse_pays_one_at_the_flag():
    pump = run("mountain_car_sparse", lambda obs: jnp.array([1.0 if obs[1] >= 0 else -1.0]), jax.random.PRNGKey(1),
               stop_when_done=True)
    rewards = values(pump, "reward")
    assert rewards[-1] == 1.0 and (rewards[:-1] == 0.0).all()
    assert set(pump[0].metrics) == {"reward/goal", "success", "cell"}


def test_mountain_car_cell_index():
    env = envs.make("mountain_car")
    assert float(env.cell(jnp.array([-1.2, -0.07]))) == 0.0
    assert float(env.cell(jnp.array([0.6, 0.07]))) == env.num_cells - 1
    # x = -0.3 is bin 10 of 20 over [-1.2, 0.6]; v = 0.01 is bin 11 of 20 over [-0.07, 0.07].
    assert float(env.cell(jnp.array([-0.3, 0.01]))) == 10 * 20 + 11


# ---------------------------------------------------------------------------------------------
# Deep sea: only the always-right path pays; a random policy finds it with probability 2^-N.


def right_actions(env):
    """The action that moves right in each cell (numpy [N, N])."""
    return np.asarray(env.action_right)


def test_deep_sea_always_right_collects_the_treasure():
    env, reset, step = jitted("deep_sea", size=8)
    right = right_actions(env)
    state = reset(jax.random.PRNGKey(0))
    states = []
    for row in range(8):
        state = step(state, jnp.int32(right[row, row]))
        states.append(state)
    rewards = values(states, "reward")
    np.testing.assert_allclose(rewards[:-1], -0.01 / 8)
    assert rewards[-1] == pytest.approx(1.0 - 0.01 / 8)
    assert rewards.sum() == pytest.approx(1.0 - 0.01)
    assert values(states, "success").tolist() == [0.0] * 7 + [1.0]
    assert values(states, "done").tolist() == [0.0] * 7 + [1.0]
    assert float(states[-1].info["truncation"]) == 0.0, "the episode ends by termination, at N steps"
    assert not np.asarray(states[-1].obs).any(), "the terminal observation is all zeros"
    # Cells along the diagonal: row·N + column, the last one in the terminal row N.
    np.testing.assert_array_equal(values(states, "cell"), [(r + 1) * 8 + min(r + 1, 7) for r in range(8)])


@pytest.mark.parametrize("wrong_row", [0, 3, 7])
def test_deep_sea_one_left_step_loses_the_treasure(wrong_row):
    env, reset, step = jitted("deep_sea", size=8)
    right = right_actions(env)
    state = reset(jax.random.PRNGKey(0))
    total, column = 0.0, 0
    for row in range(8):
        action = 1 - right[row, column] if row == wrong_row else right[row, column]
        state = step(state, jnp.int32(action))
        total += float(state.reward)
        column = int(np.argmax(np.asarray(state.obs))) % 8 if row < 7 else column
    assert float(state.metrics["success"]) == 0.0
    assert total < 0.0  # only move costs


def test_deep_sea_action_mapping_is_fixed_by_the_seed():
    a, b, c = (envs.make("deep_sea", seed=s).unwrapped.action_right for s in (0, 0, 1))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert 0 < a.mean() < 1  # both actions mean "right" somewhere
    plain = envs.make("deep_sea", randomize_actions=False).unwrapped.action_right
    assert (plain == 1).all()


def test_deep_sea_random_policy_finds_the_treasure_at_rate_two_to_the_minus_n():
    size, episodes = 4, 4096
    env = envs.make("deep_sea", size=size, time_limit=False)

    @jax.jit
    def success_rate(key):
        state = jax.vmap(env.reset)(jax.random.split(key, episodes))
        for k in jax.random.split(key, size):
            state = jax.vmap(env.step)(state, jax.random.randint(k, (episodes,), 0, 2))
        return state.metrics["success"].mean(), state.done.mean()

    rate, done = success_rate(jax.random.PRNGKey(3))
    assert float(done) == 1.0
    # 1/16 = 0.0625; the binomial standard error over 4096 episodes is about 0.004.
    assert abs(float(rate) - 1 / 16) < 0.015


# ---------------------------------------------------------------------------------------------
# Cart-pole swing-up: the reward's known values, and an energy-pumping controller.


def _swingup_state(name, q):
    env, reset, step = jitted(name)
    state = reset(jax.random.PRNGKey(0))
    q = jnp.asarray(q, jnp.float32)
    return state.replace(pipeline_state=q, obs=env._obs(q)), step


@pytest.mark.parametrize("name", ["cartpole_swingup", "cartpole_swingup_sparse"])
def test_cartpole_swingup_upright_and_centred_earns_full_reward(name):
    state, step = _swingup_state(name, [0.0, 0.0, 0.0, 0.0])
    out = step(state, jnp.zeros(1))
    assert float(out.reward) == pytest.approx(1.0, abs=1e-6)
    assert float(out.metrics["success"]) == 1.0


def test_cartpole_swingup_reward_factors():
    # Hanging still at x = 2 under full force: upright 0, centred (1 + 0.1)/2, control 4/5.
    state, step = _swingup_state("cartpole_swingup", [2.0, 0.0, np.pi, 0.0])
    out = step(state, jnp.ones(1))
    assert float(out.metrics["factor/upright"]) == pytest.approx(0.0, abs=1e-4)
    assert float(out.metrics["factor/centred"]) == pytest.approx(0.55, abs=2e-3)
    assert float(out.metrics["factor/small_control"]) == pytest.approx(0.8)
    assert float(out.reward) == pytest.approx(0.0, abs=1e-4)
    # Horizontal pole, θ̇ = 5: upright 1/2, small_velocity (1 + 0.1)/2.
    state, step = _swingup_state("cartpole_swingup", [0.0, 0.0, np.pi / 2, 5.0])
    out = step(state, jnp.zeros(1))
    assert float(out.metrics["factor/upright"]) == pytest.approx(0.5, abs=0.03)
    assert float(out.metrics["factor/small_velocity"]) == pytest.approx(0.55, abs=0.02)
    assert float(out.metrics["success"]) == 0.0


def test_cartpole_swingup_sparse_is_zero_off_centre():
    state, step = _swingup_state("cartpole_swingup_sparse", [0.5, 0.0, 0.0, 0.0])
    out = step(state, jnp.zeros(1))
    assert float(out.reward) == 0.0 and float(out.metrics["success"]) == 0.0
    assert float(out.metrics["factor/upright"]) == pytest.approx(1.0, abs=1e-4)


def test_cartpole_swingup_starts_hanging_and_gravity_keeps_it_there():
    states = run("cartpole_swingup", lambda obs: jnp.zeros(1), jax.random.PRNGKey(4), num_steps=200)
    cos = np.array([float(s.obs[1]) for s in states])
    assert (cos < -0.99).all(), "a pole left alone should stay hanging"
    assert values(states, "reward").max() < 0.01


def energy_pumping(obs):
    """Pumps energy into the swing until the pole has the energy of resting upright.

    The force adds −cos θ·F to θ̈, so F = −sign(θ̇ cos θ) makes the pole's power positive.
    Energy per unit pole mass, half-length l = 0.5: e = (2/3) l² θ̇² + g l cos θ; upright: g l.
    """
    x, cos, sin, x_dot, theta_dot = obs
    energy = theta_dot**2 / 6.0 + 4.9 * cos
    if energy >= 4.9:
        return jnp.zeros(1, jnp.float32)
    push = -np.sign(theta_dot * cos) if abs(theta_dot) > 1e-3 else 1.0
    return jnp.asarray([push], jnp.float32)


def test_cartpole_swingup_energy_pumping_swings_the_pole_up():
    states = run("cartpole_swingup", energy_pumping, jax.random.PRNGKey(5), num_steps=600)
    cos = np.array([float(s.obs[1]) for s in states])
    assert cos.max() > 0.99, f"the pole never came up (max cos θ {cos.max():.3f})"
    assert values(states, "reward").max() > 0.5
    assert (np.abs([float(s.obs[0]) for s in states]) <= 2.4 + 1e-6).all()  # the rail ends


def test_cartpole_swingup_rail_end_stops_the_cart():
    state, step = _swingup_state("cartpole_swingup", [2.39, 3.0, np.pi, 0.0])
    out = step(state, jnp.ones(1))
    assert float(out.obs[0]) == pytest.approx(2.4)
    assert float(out.obs[3]) == 0.0


# ---- ant maze -------------------------------------------------------------------------


def test_ant_maze_sparse_reward_is_zero_for_random_motion_and_one_at_the_goal(jitted_env):
    """Random torques for 100 steps (5 s) in 4 envs never pay; the same program started with
    the torso on the goal pays 1 and reports success from the first step."""
    env = jitted_env("ant_maze")
    steps, batch = 100, 4

    @env_jit
    def run(state, actions):
        def step(s, a):
            s = jax.vmap(env.step)(s, a)
            return s, (s.reward, s.metrics["success"])

        return jax.lax.scan(step, state, actions)[1]

    start = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(0), batch))
    random_actions = jax.random.uniform(jax.random.PRNGKey(1), (steps, batch, env.action_size), minval=-1, maxval=1)
    reward, success = run(start, random_actions)
    assert float(jnp.sum(reward)) == 0.0 and float(jnp.sum(success)) == 0.0

    goal = jnp.asarray(env.unwrapped.goal, jnp.float32)
    at_goal = start.replace(pipeline_state=start.pipeline_state.replace(qpos=start.pipeline_state.qpos.at[:, :2].set(goal)))
    reward, success = run(at_goal, jnp.zeros_like(random_actions))
    np.testing.assert_array_equal(np.asarray(reward[0]), 1.0)
    np.testing.assert_array_equal(np.asarray(success[0]), 1.0)


# ---- coverage denominators: the cells an agent can enter ------------------------------------
def test_maze_reachable_cells_exclude_walls():
    # Counted by hand from the character grids: free cells (S, G, '.') row by row.
    assert envs.make("point_maze_medium_sparse").unwrapped.reachable_cells == 4 + 5 + 3 + 5 + 4 + 5
    assert envs.make("point_maze_large_sparse").unwrapped.reachable_cells == 9 + 5 + 9 + 3 + 8 + 4 + 8
    assert envs.make("point_maze_sparse").unwrapped.reachable_cells == 100  # the "u" arena: no cell is all wall
    isolated = ("#####", "#S..#", "###.#", "#G#.#", "#####")  # 6 free cells; G's is walled off from S
    assert point_maze._cells_reachable_from_start(isolated) == 5


def test_deep_sea_reachable_cells_are_the_cells_some_action_sequence_visits():
    env, reset, step = jitted("deep_sea", size=4)
    seen = set()
    for code in range(2**4):
        state = reset(jax.random.PRNGKey(0))
        for k in range(4):
            state = step(state, jnp.int32((code >> k) & 1))
            seen.add(int(state.metrics["cell"]))
    assert len(seen) == env.reachable_cells < env.num_cells
