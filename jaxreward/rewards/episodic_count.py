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
(`rewards/episodic.py`). The reset is lazy: each slot carries the number of the episode
that wrote it, a `done` only advances the env's episode number, and a slot stamped with an
older episode reads as 0 — one slot touched per env and step instead of a whole table
rewritten at every step. The episodic count bonus is the one studied as "episodic" in
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
from jaxreward.rewards.base import RewardModel, RewardSpec, Scored, TransitionBatch
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
class Counts:
    """One env's episodic counts (a leading [B] axis in the reward state)."""

    counts: jax.Array  # [table_size] visits, valid where stamps == episode
    stamps: jax.Array  # [table_size] int32 episode number of the last write
    episode: jax.Array  # [] int32 the env's current episode number


@struct.dataclass
class CountState:
    normalizer: Normalizer
    memory: Counts  # leaves [B, ...]


def visit(memory: Counts, key: jax.Array) -> tuple[jax.Array, Counts]:
    """key: [] int slot. Returns (1/√N after the visit, new memory)."""
    n = jnp.where(memory.stamps[key] == memory.episode, memory.counts[key], 0.0) + 1.0
    memory = memory.replace(counts=memory.counts.at[key].set(n), stamps=memory.stamps.at[key].set(memory.episode))
    return jax.lax.rsqrt(n), memory


def next_episode(memory: Counts, fresh: Counts, done: jax.Array) -> Counts:
    """The lazy reset: envs whose episode ended move on to a new episode number."""
    del fresh
    return memory.replace(episode=memory.episode + (done > 0).astype(jnp.int32))


class EpisodicCount(RewardModel):
    name = "count"
    intrinsic = True

    def __init__(self, spec: RewardSpec, cfg: CountConfig = CountConfig()):
        super().__init__(spec)
        self.cfg = cfg
        # Fixed odd multipliers of the grid hash (static: part of the model, not its state).
        self._multipliers = np.random.default_rng(0).integers(1, 2**31 - 1, spec.observation_size) | 1

    def _fresh(self) -> Counts:
        size = self.cfg.table_size
        return Counts(jnp.zeros((size,)), jnp.full((size,), -1, jnp.int32), jnp.zeros((), jnp.int32))

    def init(self, rng) -> CountState:
        del rng
        return CountState(Normalizer.create(self.spec.observation_size), fresh_memories(self._fresh(), self.spec.num_envs))

    def _scan(self, state: CountState, batch: TransitionBatch):
        return scan_episodes(visit, state.memory, self._fresh(), self.keys(state, batch), batch.done, reset=next_episode)

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
        """The bonus [T, B]; info["memory"] is the count tables after the batch (leaves
        [B, ...]), which `update` keeps."""
        bonus, memory = self._scan(state, batch)
        return bonus, {"memory": memory}

    def update(self, state: CountState, batch: TransitionBatch, scored: Scored, rng):
        normalizer = state.normalizer.update(batch.next_obs) if self.cfg.source == "grid" else state.normalizer
        return CountState(normalizer, scored.info["memory"]), {"bonus": jnp.mean(scored.reward)}
