"""A point mass in a maze: the goal lies behind walls, so greedy progress leads to dead ends.

A pure-JAX, simplified take on the point-mass mazes of D4RL / Gymnasium-Robotics
(`maze2d-umaze/medium/large`, `PointMaze_*`; Fu et al., "D4RL: Datasets for Deep Data-Driven
Reinforcement Learning", 2020): no MuJoCo, axis-aligned walls, fixed layouts. The
deliberate simplifications are the velocity-command dynamics and the blocking collisions
described below.

Layouts (the `layout` option):

- ``"u"`` (default), arena [-1, 1]²::

      +-------------------+
      | G                 |     G: goal (-0.6, 0.6)
      |==============     |     wall: x in [-1, 0.4], y in [-0.15, 0.15]
      | S                 |     S: start (-0.6, -0.6) ± 0.05
      +-------------------+

  The straight line from S to G runs into the wall; the way round is through the corridor
  x > 0.4 (shortest path ≈ 3.8, ≈ 40 steps at full speed). 200 steps, goal radius 0.1.
- ``"open"``: the same arena, start and goal without the wall (a control for the U).
- ``"medium"`` (8×8 cells) and ``"large"`` (9×12 cells): character grids in the style of
  D4RL's maze2d mazes ('#' wall, '.' free, 'S' start, 'G' goal), cells of 1×1 centred on
  the origin; every '#' cell becomes a wall box. 600 and 800 steps (D4RL's horizons), goal
  radius 0.5 (D4RL's sparse threshold). Start and goal are placed so that the shortest
  route is long (12 and 16 cells) and steering straight at the goal gets stuck.

Dynamics (dt = 0.1): v ← 0.8 v + 0.2 a, so a constant action a ∈ [-1, 1]² settles at
speed a per unit time; p ← p + v dt. Collisions are resolved one axis at a time: a move
along an axis that would end inside a wall (walls are closed boxes) or outside the arena is
cancelled and the velocity on that axis is zeroed (the point slides along walls).

Observation [pos (2), vel (2), goal (2)]. Action [2] in [-1, 1], the commanded velocity.
Reward: dense −‖pos − goal‖ ("reward/distance"), or with `sparse=True` 1.0 inside the goal
radius ("reward/goal"). Success: inside the goal radius. Reaching the goal terminates the
episode only with `terminate_at_goal=True`. `metrics["cell"]` is the index (as float32) of
the grid cell holding the point — the maze cell for grid layouts, a 10×10 grid over the
arena for "u" and "open" — so that training code can count the distinct cells visited.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from envs.core import Env, State, info_defaults
from envs.rendering import drawings

DT = 0.1
DAMPING = 0.8
ACCEL = (1.0 - DAMPING) / DT  # makes the steady speed under a constant action equal the action
START_NOISE = 0.05


@dataclass(frozen=True)
class Layout:
    """A static maze. Walls must be thicker than the largest step (|v| dt ≤ 0.1) so that a
    move can never tunnel through one.

    Attributes:
      walls: [K, 4] boxes [x_min, y_min, x_max, y_max].
      bounds: [4] the arena [x_min, y_min, x_max, y_max].
      start, goal: [2] positions.
      goal_radius: success radius around the goal.
      cells: (columns, rows) of the grid behind `metrics["cell"]`.
      episode_length: default time limit.
      reachable_cells: how many of those cells the agent can enter (the denominator of
        coverage); 0: all of them.
    """

    walls: np.ndarray
    bounds: np.ndarray
    start: np.ndarray
    goal: np.ndarray
    goal_radius: float
    cells: tuple[int, int]
    episode_length: int
    reachable_cells: int = 0


MEDIUM_GRID = (
    "########",
    "#S.##..#",
    "#..#...#",
    "##...###",
    "#..#...#",
    "#.#..#.#",
    "#...#G.#",
    "########",
)

LARGE_GRID = (
    "############",
    "#S...#.....#",
    "#.##.#.#.#.#",
    "#......#..G#",
    "#.####.###.#",
    "#..#.#.....#",
    "##.#.#.#.###",
    "#..#...#...#",
    "############",
)


def grid_layout(grid: tuple[str, ...], episode_length: int, goal_radius: float = 0.5) -> Layout:
    """Turns a character grid (row 0 at the top) into wall boxes of unit cells.

    Consecutive '#' cells of a row merge into one box (fewer boxes to test per step).
    """
    rows, cols = len(grid), len(grid[0])
    if any(len(line) != cols for line in grid):
        raise ValueError("maze grid rows must all have the same length")
    x0, y_top = -cols / 2.0, rows / 2.0

    def centre(r: int, c: int) -> np.ndarray:
        return np.array([x0 + c + 0.5, y_top - r - 0.5], np.float32)

    walls, start, goal = [], None, None
    for r, line in enumerate(grid):
        c = 0
        while c < cols:
            if line[c] == "#":
                end = c
                while end + 1 < cols and line[end + 1] == "#":
                    end += 1
                walls.append([x0 + c, y_top - r - 1, x0 + end + 1, y_top - r])
                c = end + 1
                continue
            if line[c] == "S":
                start = centre(r, c)
            elif line[c] == "G":
                goal = centre(r, c)
            c += 1
    if start is None or goal is None:
        raise ValueError("maze grid needs one 'S' and one 'G' cell")
    return Layout(
        walls=np.array(walls, np.float32),
        bounds=np.array([x0, -y_top, -x0, y_top], np.float32),
        start=start,
        goal=goal,
        goal_radius=goal_radius,
        cells=(cols, rows),
        episode_length=episode_length,
        reachable_cells=_cells_reachable_from_start(grid),
    )


def _cells_reachable_from_start(grid: tuple[str, ...]) -> int:
    """Non-wall cells 4-connected to 'S' (a point mass moves between adjacent cells only)."""
    start = next((r, line.index("S")) for r, line in enumerate(grid) if "S" in line)
    seen, frontier = {start}, [start]
    while frontier:
        r, c = frontier.pop()
        for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            inside = 0 <= nr < len(grid) and 0 <= nc < len(grid[nr])
            if inside and grid[nr][nc] != "#" and (nr, nc) not in seen:
                seen.add((nr, nc))
                frontier.append((nr, nc))
    return len(seen)


_SQUARE = np.array([-1.0, -1.0, 1.0, 1.0], np.float32)
LAYOUTS = {
    "u": Layout(
        walls=np.array([[-1.0, -0.15, 0.4, 0.15]], np.float32),
        bounds=_SQUARE,
        start=np.array([-0.6, -0.6], np.float32),
        goal=np.array([-0.6, 0.6], np.float32),
        goal_radius=0.1,
        cells=(10, 10),
        episode_length=200,
    ),
    "open": Layout(
        walls=np.zeros((0, 4), np.float32),
        bounds=_SQUARE,
        start=np.array([-0.6, -0.6], np.float32),
        goal=np.array([-0.6, 0.6], np.float32),
        goal_radius=0.1,
        cells=(10, 10),
        episode_length=200,
    ),
    "medium": grid_layout(MEDIUM_GRID, episode_length=600),
    "large": grid_layout(LARGE_GRID, episode_length=800),
}


class PointMaze(Env):
    """Point mass in a maze (see the module docstring for layouts, dynamics and rewards).

    Args:
      layout: one of "u", "open", "medium", "large".
      sparse: reward 1.0 inside the goal radius and 0 elsewhere, instead of −distance.
      terminate_at_goal: end the episode (done, not truncated) when the goal is reached.
    """

    action_space = "continuous"
    default_episode_length = 200
    family = "exploration"

    def __init__(self, layout: str = "u", sparse: bool = False, terminate_at_goal: bool = False):
        if layout not in LAYOUTS:
            raise ValueError(f"unknown point_maze layout {layout!r}; valid layouts: {', '.join(LAYOUTS)}")
        self.layout_name = layout
        self.layout = LAYOUTS[layout]
        self.default_episode_length = self.layout.episode_length
        self.sparse = bool(sparse)
        self.terminate_at_goal = bool(terminate_at_goal)
        self._reward_key = "reward/goal" if self.sparse else "reward/distance"

    @property
    def observation_size(self) -> int:
        return 6

    @property
    def action_size(self) -> int:
        return 2

    def render_scene(self, state: State, camera=None):
        """Top view, slightly tilted: walls (brown), the point (blue), the goal disc (green)."""
        layout = self.layout
        bounds = np.asarray(layout.bounds)
        scene = drawings.maze(state.pipeline_state[:2], layout.walls, bounds, layout.goal, layout.goal_radius)
        centre, half = (bounds[:2] + bounds[2:]) / 2, float(np.max(bounds[2:] - bounds[:2])) / 2
        return scene, drawings.choose_camera(camera, drawings.top_camera(centre[0], centre[1], half))

    @property
    def num_cells(self) -> int:
        """How many distinct values `metrics["cell"]` can take."""
        return self.layout.cells[0] * self.layout.cells[1]

    @property
    def reachable_cells(self) -> int:
        """How many of them the point can enter: the denominator of coverage. The "u" and
        "open" arenas' walls cover no cell whole, so every cell counts there."""
        return self.layout.reachable_cells or self.num_cells

    def blocked(self, pos: jax.Array) -> jax.Array:
        """pos: [2] -> bool scalar: inside (or on) a wall, or outside the arena."""
        walls, bounds = jnp.asarray(self.layout.walls), self.layout.bounds
        inside = (pos[0] >= walls[:, 0]) & (pos[1] >= walls[:, 1]) & (pos[0] <= walls[:, 2]) & (pos[1] <= walls[:, 3])
        outside = (pos[0] < bounds[0]) | (pos[1] < bounds[1]) | (pos[0] > bounds[2]) | (pos[1] > bounds[3])
        return jnp.any(inside) | outside

    def cell(self, pos: jax.Array) -> jax.Array:
        """pos: [2] -> float32 scalar index of the grid cell (row-major from the bottom-left)."""
        bounds, (cols, rows) = self.layout.bounds, self.layout.cells
        frac = (pos - bounds[:2]) / (bounds[2:] - bounds[:2])
        col = jnp.clip(jnp.floor(frac[0] * cols), 0, cols - 1)
        row = jnp.clip(jnp.floor(frac[1] * rows), 0, rows - 1)
        return (row * cols + col).astype(jnp.float32)

    def _move_axis(self, pos: jax.Array, vel: jax.Array, axis: int) -> tuple[jax.Array, jax.Array]:
        """Moves along one axis unless that ends blocked; then stays and stops on that axis."""
        target = pos.at[axis].add(vel[axis] * DT)
        blocked = self.blocked(target)
        return jnp.where(blocked, pos, target), jnp.where(blocked, vel.at[axis].set(0.0), vel)

    def _obs(self, q: jax.Array) -> jax.Array:
        return jnp.concatenate([q, jnp.asarray(self.layout.goal)])

    def reset(self, rng: jax.Array) -> State:
        pos = jnp.asarray(self.layout.start) + jax.random.uniform(rng, (2,), minval=-START_NOISE, maxval=START_NOISE)
        q = jnp.concatenate([pos, jnp.zeros(2)])  # pipeline_state: [pos (2), vel (2)]
        zero = jnp.zeros(())
        metrics = {self._reward_key: zero, "success": zero, "cell": self.cell(pos)}
        return State(q, self._obs(q), zero, zero, metrics, info_defaults())

    def step(self, state: State, action: jax.Array) -> State:
        """action: [2] in [-1, 1], the commanded velocity."""
        pos, vel = state.pipeline_state[:2], state.pipeline_state[2:]
        vel = DAMPING * vel + ACCEL * DT * jnp.clip(action, -1.0, 1.0)
        pos, vel = self._move_axis(pos, vel, 0)
        pos, vel = self._move_axis(pos, vel, 1)
        q = jnp.concatenate([pos, vel])

        distance = jnp.linalg.norm(pos - jnp.asarray(self.layout.goal))
        at_goal = distance < self.layout.goal_radius
        reward = jnp.where(at_goal, 1.0, 0.0) if self.sparse else -distance
        done = at_goal if self.terminate_at_goal else jnp.zeros((), bool)
        metrics = {self._reward_key: reward, "success": at_goal.astype(jnp.float32), "cell": self.cell(pos)}
        return state.replace(
            pipeline_state=q, obs=self._obs(q), reward=reward, done=done.astype(jnp.float32), metrics=metrics
        )
