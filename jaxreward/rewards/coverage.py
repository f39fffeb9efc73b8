"""`coverage`: a diagnostic term that scores 0 and records which cells the agent visits.

Exploration envs report the agent's grid cell as `metrics["cell"]` (an integer-valued
float). This term keeps a per-run table of cells seen since training began and reports
`visited_cells` (their number) from `update`, logged as `reward_model/coverage/
visited_cells` — the coverage axis of the exploration figures. Its reward is always 0, so
it changes nothing the agent optimises (add it with weight 0: `...,coverage:0`).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

from jaxreward.rewards.base import RewardModel, RewardSpec, Scored, TransitionBatch


@dataclass(frozen=True)
class CoverageConfig:
    #: Size of the visited-cell table; cells at or above it are not counted.
    max_cells: int = 1024

    def validate(self) -> None:
        if self.max_cells <= 0:
            raise ValueError(f"coverage.max_cells must be positive, got {self.max_cells}")


class Coverage(RewardModel):
    name = "coverage"

    def __init__(self, spec: RewardSpec, cfg: CoverageConfig = CoverageConfig()):
        super().__init__(spec)
        self.cfg = cfg

    def init(self, rng):
        return jnp.zeros((self.cfg.max_cells,), bool)

    def reward(self, state, batch: TransitionBatch):
        return jnp.zeros_like(batch.gold_reward), {}

    def update(self, state, batch: TransitionBatch, scored: Scored, rng):
        if "cell" not in batch.metrics:
            raise ValueError("the coverage term needs an env that reports metrics['cell'] (the exploration envs do)")
        cells = batch.metrics["cell"].astype(jnp.int32).reshape(-1)
        # Out-of-range indices are dropped by the scatter (mode="drop").
        visited = state.at[cells].set(True, mode="drop")
        return visited, {"visited_cells": jnp.sum(visited).astype(jnp.float32)}
