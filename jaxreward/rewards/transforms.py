"""Reward transforms against reward hacking, as a wrapper under the reward contract.

`Transformed(model, TransformConfig(kind=...))` is a reward model whose reward is a
transform of `model`'s; the wrapped model still learns through `update`. Kinds:

- "par": sigmoid(r − r_ref). Preference As Reward, Fu, Zhao, Li, Lin, Zhou, Li, "Reward
  Shaping to Mitigate Reward Hacking in RLHF" (2025): a bounded reward that rises fastest
  near the reference and saturates, so pushing the proxy far beyond the reference pays
  little.
- "log_sigmoid": log sigmoid(r − r_ref). Wang, Nagpal, Eisenstein, D'Amour, Koyejo, Veitch,
  "Transforming and Combining Rewards for Aligning Large Language Models" (2024): the
  log-probability that the outcome beats the reference under Bradley–Terry; concave, so
  gains above the reference are damped while shortfalls are punished.
- "clip": min(max(r, −c), c) (`clip` the bound), the plain guard.
- "delta": r_t − r_{t−1} along each environment's trajectory (0 at an episode's first
  step). For a state score r_t = φ(s_{t+1}) this is the progress φ(s_{t+1}) − φ(s_t), a
  potential-based reshaping (Ng, Harada, Russell 1999, with γ = 1), which pays for
  improving the score rather than for sitting where it is high.
- "none": the reward unchanged (a control arm in experiments).

r_ref, the reference reward, is by default the mean raw reward over the first
`reference_updates` calls of `update` — the initial policy's rollouts, the role PAR's
reference-policy reward plays — and then stays fixed. `center="running_mean"` keeps
averaging over all rollouts (a reference that rises with the policy), `center="fixed"`
uses `reference`.

In a composite the transform is a term option: `--reward preference:1:transform=par`.

Ensemble pessimism (mean − k·std, min) acts on the members of a model, not on its output;
it is `rewards.preference.model.aggregate`, re-exported here as `ensemble` so that there
is one implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct

from jaxreward.nets.normalizer import Normalizer
from jaxreward.rewards.base import RewardModel, Scored, TransitionBatch
from jaxreward.rewards.preference.model import AGGREGATIONS, aggregate

KINDS = ("none", "par", "log_sigmoid", "clip", "delta")
CENTERS = ("initial", "running_mean", "fixed")

#: Ensemble pessimism over member rewards [K, ...]: "mean", "mean_minus_std", "min".
ensemble = aggregate
ENSEMBLE_MODES = AGGREGATIONS


def par(r: jax.Array, ref) -> jax.Array:
    """sigmoid(r − ref)."""
    return jax.nn.sigmoid(r - ref)


def log_sigmoid(r: jax.Array, ref) -> jax.Array:
    """log sigmoid(r − ref), computed stably."""
    return jax.nn.log_sigmoid(r - ref)


def clip(r: jax.Array, bound) -> jax.Array:
    return jnp.clip(r, -bound, bound)


def delta(r: jax.Array, first: jax.Array, prev: jax.Array) -> jax.Array:
    """r [T, B] → r_t − r_{t−1}, with 0 where `first` [T, B] marks an episode's first step;
    `prev` [B] is the reward of the step before this batch."""
    before = jnp.concatenate([prev[None], r[:-1]], 0)
    return jnp.where(first, 0.0, r - before)


@dataclass(frozen=True)
class TransformConfig:
    kind: str = "none"
    #: Where r_ref comes from: "initial" (mean raw reward of the first `reference_updates`
    #: updates), "running_mean" (of all of them), or "fixed" (`reference`).
    center: str = "initial"
    reference: float = 0.0
    reference_updates: int = 10
    #: The bound of kind "clip".
    clip: float = 1.0

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"transform.kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.center not in CENTERS:
            raise ValueError(f"transform.center must be one of {', '.join(CENTERS)}, got {self.center!r}")
        if self.clip <= 0:
            raise ValueError(f"transform.clip must be positive, got {self.clip}")
        if self.reference_updates <= 0:
            raise ValueError(f"transform.reference_updates must be positive, got {self.reference_updates}")


@struct.dataclass
class TransformedState:
    inner: object
    stats: Normalizer  # running statistics of the raw reward (r_ref)
    updates: jax.Array  # [] int32 calls of `update`
    prev_reward: jax.Array  # [B] raw reward of each env's last step (delta form)
    prev_done: jax.Array  # [B] whether that step ended its episode


class Transformed(RewardModel):
    """`model`'s reward through a transform. Its info: `raw` [T, B] the untransformed reward,
    `reference` [] r_ref, `inner` the wrapped model's own info (handed back to it by
    `update`)."""

    def __init__(self, model: RewardModel, cfg: TransformConfig):
        super().__init__(model.spec)
        cfg.validate()
        self.model, self.cfg = model, cfg
        self.name = f"{model.name}_{cfg.kind}"
        self.learned, self.intrinsic, self.warmup_steps = model.learned, model.intrinsic, model.warmup_steps
        self.frames = getattr(model, "frames", None)  # pixel terms: the wrapped model's frame request
        self.sequential = model.sequential or cfg.kind == "delta"  # delta carries each env's previous reward

    def init(self, rng) -> TransformedState:
        B = self.spec.num_envs
        return TransformedState(self.model.init(rng), Normalizer.create(1), jnp.zeros((), jnp.int32), jnp.zeros((B,)),
                                jnp.ones((B,), bool))

    def reference(self, state: TransformedState) -> jax.Array:
        return state.stats.mean[0] if self.cfg.center != "fixed" else jnp.asarray(self.cfg.reference, jnp.float32)

    def reward(self, state: TransformedState, batch: TransitionBatch):
        raw, info = self.model.reward(state.inner, batch)
        kind, ref = self.cfg.kind, self.reference(state)
        if kind == "par":
            r = par(raw, ref)
        elif kind == "log_sigmoid":
            r = log_sigmoid(raw, ref)
        elif kind == "clip":
            r = clip(raw, self.cfg.clip)
        elif kind == "delta":
            done_before = jnp.concatenate([state.prev_done[None], batch.done[:-1].astype(bool)], 0)
            r = delta(raw, done_before, state.prev_reward)
        else:
            r = raw
        return r, {"raw": raw, "reference": ref, "inner": info}

    def observe(self, state: TransformedState, batch: TransitionBatch) -> TransformedState:
        return state.replace(inner=self.model.observe(state.inner, batch))

    def update(self, state: TransformedState, batch: TransitionBatch, scored: Scored, rng):
        raw = scored.info["raw"]
        inner, metrics = self.model.update(state.inner, batch, Scored(raw, scored.info["inner"]), rng)
        stats = state.stats.update(raw.reshape(-1, 1))
        if self.cfg.center == "initial":
            stats = jax.tree.map(lambda new, old: jnp.where(state.updates < self.cfg.reference_updates, new, old), stats, state.stats)
        return TransformedState(inner, stats, state.updates + 1, raw[-1], batch.done[-1].astype(bool)), metrics
