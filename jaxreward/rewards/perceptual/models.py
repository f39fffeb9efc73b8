"""Rewards from demonstration frames under the reward contract: the perceptual reward and
three embedding-distance baselines, all on a frozen image encoder.

- `perceptual` — Sermanet, Xu & Levine, "Unsupervised Perceptual Rewards for Imitation
  Learning" (RSS 2017): step classifiers on selected embedding features (`steps.py`).
- `goal_distance` — −‖φ(o') − g‖, g the mean embedding of the demos' success frames (the
  embedding-distance reward of VIP, Ma et al., ICLR 2023, with a fixed encoder).
- `goal_potential` — its potential-based difference form Φ(o'_t) − Φ(o'_{t−1}) with
  Φ = goal_distance (Ng, Harada & Russell, 1999, γ = 1; 0 at an episode's first step): the
  "delta" transform of `rewards/transforms.py` around `goal_distance`, so that the carry
  across rollouts has one implementation.
- `progress_distance` — −‖φ(o') − ref_t‖, ref_t the demos' mean embedding at the same
  episode step t (clipped to the demos' length): "be where the demonstrator was by now".
  The episode step is counted in the reward state from the `done` flags (the batch carries
  no step index): `reward` counts it through the batch (info["episode_steps"]) and
  `update` keeps the count after the batch.

Frames: the models declare `frames = FrameSpec(height, width, camera)` — the demos' render
size and camera — and read `TransitionBatch.pixels`, uint8 [T, B, H, W, 3], the frame of
each transition's next state rendered in the rollout (`rewards/base.py`; at an episode end,
the state it ended on, rendered before the auto-reset).

All four are frozen during RL (`learned = False`): encoder and fit are constants of the
reward state, made once before training by `fit_demo_rewards`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxreward.demos import Demos
from jaxreward.rewards.base import FrameSpec, RewardModel, RewardSpec, Scored, TransitionBatch
from jaxreward.rewards.perceptual.steps import StepClassifiers, fit, step_probabilities
from jaxreward.rewards.perceptual.frame_encoder import Encoder
from jaxreward.rewards.transforms import TransformConfig, Transformed

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


def train_demo_encoder(demos: Demos, rng: jax.Array, cfg=None):
    """The time-contrastive encoder (`tcn.train_tcn`) on the demos' frames up to their first
    success (`demo_segments`; at least `negative_gap + 2` frames each, as the triplets need).

    Not on whole demos: our scripted demos hold still after success, and a TCN must push
    apart frames far apart in time even when they look alike, so on those frames it learns
    the time, not the task's progress. Measured on 6 held-out 50-step `reach` demos with one
    fixed goal (experiments.perceptual_rewards' reach_fixed_goal, 32x32, TCN of 150 steps on
    6 others): Pearson r of `goal_distance` with the dense reward −0.28 with all frames,
    +0.92 with frames up to success; `progress_distance` +0.08 -> +0.75.
    Returns (encoder, [train_steps] triplet losses)."""
    from jaxreward.rewards.perceptual import tcn

    cfg = tcn.TCNConfig() if cfg is None else cfg
    lengths = np.minimum(np.maximum(demo_segments(demos), cfg.negative_gap + 2), demos.length + 1)
    return tcn.train_tcn(demos.frames, lengths, rng, cfg)


def frame_spec(demos: Demos) -> FrameSpec:
    """Frames as the demos were rendered: the rewards must see the same size and camera."""
    height, width = demos.size
    return FrameSpec(height, width, demos.camera or None)


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


def pixel_batch(demos: Demos) -> np.ndarray:
    """uint8 [T, N, H, W, 3]: the demos' next-state frames laid out like a rollout's pixels."""
    return np.swapaxes(demos.frames[:, 1:], 0, 1)


@struct.dataclass
class DemoRewardModelState:
    fitted: DemoRewardState
    steps: jax.Array  # [B] int: episode steps taken by each env's current state


class DemoReward(RewardModel):
    """`perceptual`, `goal_distance` or `progress_distance` (`make_demo_reward` builds all
    four kinds; see the module docstring)."""

    learned = False

    def __init__(self, spec: RewardSpec, kind: str, encoder: Encoder, fitted: DemoRewardState, frames: FrameSpec):
        super().__init__(spec)
        if kind not in KINDS or kind == "goal_potential":
            raise ValueError(f"unknown demo reward {kind!r}; valid: {', '.join(KINDS)} (goal_potential via make_demo_reward)")
        self.kind, self.name = kind, kind
        # progress_distance compares with the demos at each env's episode step (carried).
        self.sequential = kind == "progress_distance"
        self.encoder, self.fitted, self.frames = encoder, fitted, frames

    def init(self, rng: jax.Array) -> DemoRewardModelState:
        return DemoRewardModelState(self.fitted, jnp.zeros((self.spec.num_envs,), jnp.int32))

    def _next_steps(self, state: DemoRewardModelState, done: jax.Array) -> jax.Array:
        """[T, B] episode step of each transition's next state (1 after an episode's first action)."""

        def scan_step(steps, d):
            steps = steps + 1
            return jnp.where(d > 0, 0, steps), steps

        return jax.lax.scan(scan_step, state.steps, done)[1]

    def reward(self, state: DemoRewardModelState, batch: TransitionBatch) -> tuple[jax.Array, dict]:
        frames = batch.pixels
        if frames is None or getattr(frames, "ndim", 0) != 5:
            raise ValueError(f"reward {self.kind!r} scores frames: the batch needs pixels uint8 [T, B, H, W, 3] "
                             f"rendered in the rollout (the model's `frames` spec), got {type(frames).__name__}")
        fitted = state.fitted
        emb = self.encoder.module.apply(fitted.encoder_params, frames)
        # [T, B] int; only progress_distance scores with it, every kind's update keeps its end.
        steps = self._next_steps(state, batch.done)
        info = {"episode_steps": steps}
        if self.kind == "perceptual":
            probs = step_probabilities(fitted.classifiers, emb)
            r = probs @ fitted.classifiers.weights
            info |= {f"perceptual/p_step{k}": probs[..., k] for k in range(probs.shape[-1])}
        elif self.kind == "goal_distance":
            r = -jnp.linalg.norm(emb - fitted.goal, axis=-1)
        else:
            t = jnp.clip(steps, 0, fitted.reference.shape[0] - 1)
            r = -jnp.linalg.norm(emb - fitted.reference[t], axis=-1)
        return r, info

    def update(self, state: DemoRewardModelState, batch: TransitionBatch, scored: Scored, rng: jax.Array):
        steps = scored.info["episode_steps"][-1]
        return state.replace(steps=jnp.where(batch.done[-1] > 0, 0, steps)), {}


def make_demo_reward(spec: RewardSpec, kind: str, encoder: Encoder, fitted: DemoRewardState,
                     frames: FrameSpec) -> RewardModel:
    """Any of `KINDS` under the reward contract; `goal_potential` is the delta transform of
    `goal_distance`."""
    if kind == "goal_potential":
        model = Transformed(DemoReward(spec, "goal_distance", encoder, fitted, frames), TransformConfig(kind="delta"))
        model.name = "goal_potential"
        return model
    return DemoReward(spec, kind, encoder, fitted, frames)


# -- construction from files, for the reward registry -------------------------------------


@dataclass(frozen=True)
class DemoRewardConfig:
    """Settings of the demonstration rewards (perceptual, goal_distance, goal_potential,
    progress_distance): fitted before training from a `jaxreward demos` file."""

    #: Path of the demonstrations (.npz written by `jaxreward demos`).
    demos: str = ""
    #: "" trains a TCN on the demos' frames; "tcn:PATH" loads one; "clip:PATH" uses the
    #: image tower of a local CLIP checkpoint.
    encoder: str = ""
    num_steps: int = 3
    num_features: int = 8
    tcn_steps: int = 300
    seed: int = 0

    def validate(self) -> None:
        if self.num_steps < 2:
            raise ValueError(f"demo.num_steps must be at least 2, got {self.num_steps}")
        if self.num_features < 1 or self.tcn_steps < 1:
            raise ValueError(f"demo.num_features and demo.tcn_steps must be positive, got {self.num_features}, {self.tcn_steps}")
        if self.encoder and not self.encoder.startswith(("tcn:", "clip:")):
            raise ValueError(f"demo.encoder must be '', 'tcn:PATH' or 'clip:PATH', got {self.encoder!r}")


def build_demo_reward(spec: RewardSpec, kind: str, cfg: DemoRewardConfig) -> RewardModel:
    """Loads the demos, gets the encoder (trains a TCN when none is named), fits, and
    returns the `kind` model. Runs on the host once, when the training step is built."""
    from jaxreward import demos as demo_io
    from jaxreward.rewards.perceptual import frame_encoder, tcn

    cfg.validate()
    if not cfg.demos:
        raise ValueError(f"reward {kind!r} needs demonstrations: set demo.demos to a file from `jaxreward demos`")
    demos = demo_io.load(cfg.demos)
    if demos.obs.shape[-1] != spec.observation_size or demos.actions.shape[-1] != spec.action_size:
        raise demo_io.DemoFileError(
            f"demonstrations file {cfg.demos!r}: demos of {demos.env!r} (obs {demos.obs.shape[-1]}, action "
            f"{demos.actions.shape[-1]}) do not fit this environment (obs {spec.observation_size}, action {spec.action_size})")
    if cfg.encoder:
        encoder = frame_encoder.load_encoder_spec(cfg.encoder)
    else:
        encoder, _ = train_demo_encoder(demos, jax.random.PRNGKey(cfg.seed), tcn.TCNConfig(train_steps=cfg.tcn_steps))
    fitted = fit_demo_rewards(demos, encoder, cfg.num_steps, cfg.num_features)
    return make_demo_reward(spec, kind, encoder, fitted, frame_spec(demos))
