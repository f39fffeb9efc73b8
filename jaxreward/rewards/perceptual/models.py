"""Rewards from demonstration frames under the reward contract: the perceptual reward and
three embedding-distance baselines, all on a frozen image encoder.

- `perceptual` — Sermanet, Xu & Levine, "Unsupervised Perceptual Rewards for Imitation
  Learning" (RSS 2017): step classifiers on selected embedding features (`steps.py`).
- `goal_distance` — −‖φ(o') − g‖, g the mean embedding of the demos' success frames (the
  embedding-distance reward of VIP, Ma et al., ICLR 2023, with a fixed encoder).
- `goal_potential` — the same distance as a potential: γ·Φ(o') − Φ(o), Φ(o) = −‖φ(o) − g‖
  (Ng, Harada & Russell, 1999): the difference form VIP trains on, which leaves the optimal
  policy of any reward it is added to unchanged.
- `progress_distance` — −‖φ(o') − ref_t‖, ref_t the demos' mean embedding at the same
  episode step t (clipped to the demos' length): "be where the demonstrator was by now".

Pixels (the one convention these models read from `TransitionBatch.pixels`): a dict
    "obs":      uint8 [T, B, H, W, 3]  frames of the states the transitions start from
    "next_obs": uint8 [T, B, H, W, 3]  frames of the states they lead to
    "step":     int   [T, B]           episode step of the next state (1 after the first action)
rendered at the demos' size from the demos' camera. `pixel_batch` builds it from
demonstrations; inside training, the rollout renders it (see `frames_needed`).

All four models are frozen during RL (`learned = False`): encoder and fit are constants
of the reward state, made once before training by `fit_demo_rewards`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxreward.demos import Demos
from jaxreward.rewards.base import RewardModel, RewardSpec, TransitionBatch
from jaxreward.rewards.perceptual.steps import StepClassifiers, fit, perceptual_reward, step_probabilities
from jaxreward.rewards.perceptual.tcn import Encoder

KINDS = ("perceptual", "goal_distance", "goal_potential", "progress_distance")


@struct.dataclass
class DemoRewardState:
    """Everything the four rewards need, fitted once from demonstrations (frozen)."""

    encoder_params: dict
    classifiers: StepClassifiers
    goal: jax.Array  # [D] mean embedding of the demos' success frames
    reference: jax.Array  # [L, D] mean demo embedding at each episode step 0..L-1
    boundaries: jax.Array  # [N, K+1] the demos' step boundaries (for plots and tests)


def demo_segments(demos: Demos, extra_frames: int = 0) -> np.ndarray:
    """[N] frames of each demo the perceptual fit uses: up to its first success (inclusive)
    plus `extra_frames`, the whole demo where it never succeeds. The paper's demos end at
    task completion; our scripted ones hold still after it, which would otherwise fill the
    last step with near-identical frames."""
    first = demos.first_success()
    return np.where(first >= 0, np.minimum(first + 1 + extra_frames, demos.length + 1), demos.length + 1)


def fit_demo_rewards(demos: Demos, encoder: Encoder, num_steps: int = 3, num_features: int = 8,
                     min_length: int = 2) -> DemoRewardState:
    """Embeds the demos' frames with `encoder`, segments them and fits the step
    classifiers, the goal embedding and the per-step reference (see the module docstring)."""
    embed = jax.jit(encoder.embed)
    emb = np.asarray(embed(jnp.asarray(demos.frames)))  # [N, T+1, D]
    lengths = demo_segments(demos)
    classifiers, bounds = fit([emb[i, :n] for i, n in enumerate(lengths)], num_steps, num_features, min_length)
    goal = np.mean([emb[i, n - 1] for i, n in enumerate(lengths)], axis=0)
    return DemoRewardState(encoder.params, classifiers, jnp.asarray(goal), jnp.asarray(emb.mean(0)),
                           jnp.asarray(np.stack(bounds)))


def pixel_batch(demos: Demos) -> dict:
    """The pixels dict of the demos' transitions, laid out [T, N] like a rollout's [T, B]."""
    frames = np.swapaxes(demos.frames, 0, 1)  # [T+1, N, ...]
    steps = np.broadcast_to(np.arange(1, demos.length + 1)[:, None], (demos.length, demos.num_demos))
    return {"obs": frames[:-1], "next_obs": frames[1:], "step": steps}


class DemoReward(RewardModel):
    """One of `KINDS` over a frozen encoder (see the module docstring)."""

    learned = False

    def __init__(self, spec: RewardSpec, kind: str, encoder: Encoder, fitted: DemoRewardState, gamma: float = 0.99):
        super().__init__(spec)
        if kind not in KINDS:
            raise ValueError(f"unknown demo reward {kind!r}; valid: {', '.join(KINDS)}")
        self.kind, self.name = kind, kind
        self.encoder, self.fitted, self.gamma = encoder, fitted, float(gamma)

    def init(self, rng: jax.Array) -> DemoRewardState:
        return self.fitted

    def _embed(self, state: DemoRewardState, frames: jax.Array) -> jax.Array:
        return self.encoder.module.apply(state.encoder_params, frames)

    def reward(self, state: DemoRewardState, batch: TransitionBatch) -> tuple[jax.Array, dict]:
        pixels = batch.pixels
        if not isinstance(pixels, dict) or "next_obs" not in pixels:
            raise ValueError(f"reward {self.kind!r} scores frames: the batch needs pixels={{'obs', 'next_obs', 'step'}} "
                             f"rendered in the rollout (got pixels={type(pixels).__name__})")
        nxt = self._embed(state, pixels["next_obs"])
        info = {}
        if self.kind == "perceptual":
            r = perceptual_reward(state.classifiers, nxt)
            probs = step_probabilities(state.classifiers, nxt)
            info = {f"perceptual/p_step{k}": probs[..., k] for k in range(probs.shape[-1])}
        elif self.kind == "goal_distance":
            r = -jnp.linalg.norm(nxt - state.goal, axis=-1)
        elif self.kind == "goal_potential":
            prev = self._embed(state, pixels["obs"])
            r = -self.gamma * jnp.linalg.norm(nxt - state.goal, axis=-1) + jnp.linalg.norm(prev - state.goal, axis=-1)
        else:
            t = jnp.clip(pixels["step"], 0, state.reference.shape[0] - 1)
            r = -jnp.linalg.norm(nxt - state.reference[t], axis=-1)
        return r, info
