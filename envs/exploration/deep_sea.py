"""Deep sea: the bsuite hard-exploration chain, where dithering exploration needs 2^N episodes.

After the `deep_sea` environment of bsuite (Osband et al., "Behaviour Suite for
Reinforcement Learning", 2020; first in Osband et al., "Deep Exploration via Randomized
Value Functions", 2019). An N×N grid; the agent starts at the top-left cell and descends one
row per step, moving one column right or left (clipped at the edges) by its action. Only the
one path that goes right on every step reaches the treasure at the bottom-right.

- Observation [N·N]: the one-hot grid of the agent's cell (row-major); all zeros once the
  agent has left the last row (the terminal observation), as bsuite.
- Action: discrete, 2 actions. With `randomize_actions=True` (bsuite's default) which action
  means "right" is drawn per cell from `seed` (a fixed map, the same for every episode of
  an env built with that seed); otherwise action 1 is right and 0 is left.
- Reward: "reward/treasure" 1.0 for going right from the bottom-right cell (only reachable
  by going right every time); "reward/move_cost" −0.01/N for every move right
  (`move_cost` is the unscaled 0.01).
- Success: the treasure was collected. The episode terminates after N steps, when the agent
  leaves the last row (the default time limit is also N, so it never truncates by default).
- `metrics["cell"]`: row·N + column (float32) after the step, row N being the terminal row
  below the grid, for counting distinct cells visited.

Deviation from bsuite: only its deterministic variant (bsuite's stochastic one sometimes
fails to move right).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from envs.core import Env, State, info_defaults
from envs.rendering import drawings


class DeepSea(Env):
    """Descend an N×N grid; the reward lies at the end of the always-right path.

    Args:
      size: N, the grid side and episode length.
      randomize_actions: draw per cell which action moves right (bsuite's default).
      seed: the seed of that draw (a numpy seed, fixed at construction).
      move_cost: cost of a move right, divided by N.

    Attributes:
      action_right: [N, N] int32, the action that moves right in each cell.
    """

    action_space = "discrete"
    default_episode_length = 10
    family = "exploration"
    #: every episode starts at the same cell (the contract tests check fresh resets against
    #: this instead of requiring distinct initial states)
    random_reset = False

    def __init__(self, size: int = 10, randomize_actions: bool = True, seed: int = 0, move_cost: float = 0.01):
        if size < 2:
            raise ValueError(f"deep_sea size must be at least 2, got {size}")
        self.size = int(size)
        self.default_episode_length = self.size
        self.move_cost = float(move_cost)
        if randomize_actions:
            self.action_right = np.random.default_rng(seed).integers(0, 2, (self.size, self.size)).astype(np.int32)
        else:
            self.action_right = np.ones((self.size, self.size), np.int32)

    @property
    def observation_size(self) -> int:
        return self.size * self.size

    @property
    def action_size(self) -> int:
        return 2

    @property
    def num_cells(self) -> int:
        return (self.size + 1) * self.size

    @property
    def reachable_cells(self) -> int:
        """Values `metrics["cell"]` takes after some step (the denominator of coverage): after
        step k ∈ 1..N−1 the agent is in row k at a column ≤ k (k + 1 cells), then in one of
        the N columns of the terminal row."""
        n = self.size
        return sum(k + 1 for k in range(1, n)) + n

    def render_scene(self, state: State, camera=None):
        """Top view of the grid: the agent (blue) and the treasure cell (yellow)."""
        row, column = state.pipeline_state[0], state.pipeline_state[1]
        n = self.size
        cells = jnp.zeros((n, n), jnp.int32).at[n - 1, n - 1].set(2)
        cells = cells.at[jnp.minimum(row, n - 1), column].set(1)
        palette = np.array([drawings.WHITE, drawings.BLUE, drawings.YELLOW])
        return drawings.cell_grid(cells, palette), drawings.choose_camera(camera, drawings.grid_camera(n, n))

    def _obs(self, row: jax.Array, column: jax.Array) -> jax.Array:
        one_hot = jax.nn.one_hot(row * self.size + column, self.size * self.size)
        return jnp.where(row < self.size, one_hot, 0.0)

    def _metrics(self, treasure, move_cost, success, row, column):
        return {
            "reward/treasure": treasure,
            "reward/move_cost": move_cost,
            "success": success,
            "cell": (row * self.size + column).astype(jnp.float32),
        }

    def reset(self, rng: jax.Array) -> State:
        del rng  # the start is fixed
        row = column = jnp.zeros((), jnp.int32)
        zero = jnp.zeros(())
        q = jnp.stack([row, column])  # pipeline_state: [row, column] int32
        return State(q, self._obs(row, column), zero, zero, self._metrics(zero, zero, zero, row, column), info_defaults())

    def step(self, state: State, action: jax.Array) -> State:
        """action: int scalar in {0, 1}."""
        row, column = state.pipeline_state[0], state.pipeline_state[1]
        in_grid = row < self.size  # stepping past the end (without a reset) changes nothing
        mapping = jnp.asarray(self.action_right)[jnp.minimum(row, self.size - 1), column]
        right = (jnp.reshape(action, ()) == mapping) & in_grid
        treasure = jnp.where(right & (column == self.size - 1), 1.0, 0.0)
        move_cost = jnp.where(right, -self.move_cost / self.size, 0.0)
        new_column = jnp.where(in_grid, jnp.clip(column + jnp.where(right, 1, -1), 0, self.size - 1), column)
        new_row = jnp.where(in_grid, row + 1, row)
        done = (new_row >= self.size).astype(jnp.float32)
        q = jnp.stack([new_row, new_column])
        return state.replace(
            pipeline_state=q,
            obs=self._obs(new_row, new_column),
            reward=treasure + move_cost,
            done=done,
            metrics=self._metrics(treasure, move_cost, treasure, new_row, new_column),
        )
