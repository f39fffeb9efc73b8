"""`count`: an episodic count-based bonus, 1/√N_episode(s'), on discretised or hashed states.

N(s') counts the visits of env b to the cell of s' in the current episode (this visit
included, so the first visit earns 1). Cells come from one of two sources:

- ``"grid"`` (default): the observation, normalised by running statistics, is cut into
  cubes `cell_size` standard deviations wide, and the integer cube coordinates are hashed
  into `table_size` buckets (a fixed random linear hash modulo the table size — hash
  collisions merge cells, which only lowers bonuses). A grid rather than SimHash's sign
  bits (Tang et al., "#Exploration", 2017): with low-dimensional states, sign bits only tell
  directions from the origin apart.
- ``"cell"``: the env's own `metrics["cell"]` (exploration envs define it), modulo the table
  size — an oracle discretisation for analysis.

Counts are a fixed-size per-env table [B, table_size] in the reward state, reset by `done`
(`rewards/episodic.py`). The episodic count bonus is the one studied as "episodic" in
Henaff, Jiang, Raileanu, "A Study of Global and Episodic Bonuses for Exploration in
Contextual MDPs" (ICML 2023).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxreward.nets.normalizer import Normalizer
from jaxreward.rewards.base import RewardModel, RewardSpec, TransitionBatch
from jaxreward.rewards.episodic import fresh_memories, scan_episodes

SOURCES = ("grid", "cell")


@dataclass(frozen=True)
class CountConfig:
    source: str = "grid"
    #: Width of a grid cell in running standard deviations of each observation dimension.
    cell_size: float = 0.5
    table_size: int = 1024

    def validate(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"count.source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        if self.cell_size <= 0 or self.table_size <= 0:
            raise ValueError("count.cell_size and count.table_size must be positive")


@struct.dataclass
class CountState:
    normalizer: Normalizer
    counts: jax.Array  # [B, table_size] visits in the current episode


def visit(counts: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """counts: [table_size]; key: [] int. Returns (1/√N after the visit, new counts)."""
    counts = counts.at[key].add(1.0)
    return jax.lax.rsqrt(counts[key]), counts


class EpisodicCount(RewardModel):
    name = "count"
    intrinsic = True

    def __init__(self, spec: RewardSpec, cfg: CountConfig = CountConfig()):
        super().__init__(spec)
        self.cfg = cfg
        # Fixed odd multipliers of the grid hash (static: part of the model, not its state).
        self._multipliers = np.random.default_rng(0).integers(1, 2**31 - 1, spec.observation_size) | 1

    def init(self, rng) -> CountState:
        del rng
        return CountState(
            Normalizer.create(self.spec.observation_size),
            fresh_memories(jnp.zeros((self.cfg.table_size,)), self.spec.num_envs),
        )

    def keys(self, state: CountState, batch: TransitionBatch) -> jax.Array:
        """The table slot of each next observation: [T, B] int32."""
        if self.cfg.source == "cell":
            return batch.metrics["cell"].astype(jnp.int32) % self.cfg.table_size
        # Through int32: a negative float converted straight to uint32 saturates at 0 on
        # some backends, which would merge every cell below the mean.
        coords = jnp.floor(state.normalizer(batch.next_obs, clip=1e6) / self.cfg.cell_size).astype(jnp.int32).astype(jnp.uint32)
        hashed = jnp.sum(coords * jnp.asarray(self._multipliers, jnp.uint32), axis=-1)  # wraps mod 2^32
        return (hashed % jnp.uint32(self.cfg.table_size)).astype(jnp.int32)

    def reward(self, state: CountState, batch: TransitionBatch):
        bonus, _ = scan_episodes(visit, state.counts, jnp.zeros((self.cfg.table_size,)), self.keys(state, batch), batch.done)
        return bonus, {}

    def update(self, state: CountState, batch: TransitionBatch, rng):
        bonus, counts = scan_episodes(visit, state.counts, jnp.zeros((self.cfg.table_size,)), self.keys(state, batch), batch.done)
        normalizer = state.normalizer.update(batch.next_obs) if self.cfg.source == "grid" else state.normalizer
        return CountState(normalizer, counts), {"bonus": jnp.mean(bonus)}
