"""Zero-shot vision-language rewards from CLIP embeddings.

Rocamonde et al., "Vision-Language Models are Zero-Shot Reward Models for Reinforcement
Learning" (ICLR 2024). With x the unit-normalised image embedding of a rendered frame,
g the mean of the unit-normalised goal-prompt embeddings and b that of the baseline
prompts, d = g - b:

- goal-baseline regularisation (their Eq. 3):
  `P = α·d dᵀ/‖d‖² + (1−α)·I`,  `R = 1 − ½‖(x − g) P‖²`.
  α = 0 is an affine map of x·g (exactly the cosine when there is one goal prompt);
  α = 1 keeps only the component of x − g along d;
- the plain CLIP reward: cos(x, g);
- contrasting prompts (goal minus baseline, "positive minus negative"): the mean cosine to
  the goal prompts minus the mean cosine to the baseline prompts, which is x·d.

All three are functions of (x, g, b, α) only, and g, b, α are arrays, so an α sweep or a
sweep over prompt sets (of equal counts) is a `vmap` of one compiled program. Text
embeddings are computed once on the host (`prompt_embeddings`); only the image tower runs
in the training step. P is never formed: (x − g)P = α·((x − g)·d/‖d‖²)·d + (1 − α)(x − g),
the same vector without an E×E matrix.

EPIC-style quality without RL (their App. A): `epic_distance` is D = √(1 − ρ)/√2 with ρ the
Pearson correlation between the reward and binary labels over a set of states.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxreward.evaluation.distances import pearson_distance
from jaxreward.rewards.base import FrameSpec, RewardModel, RewardSpec, TransitionBatch
from jaxreward.rewards.encoders.clip_checkpoint import load_clip
from jaxreward.rewards.encoders.clip_model import CLIP, unit
from jaxreward.rewards.encoders.preprocess import preprocess

MODES = ("goal_baseline", "cosine", "contrast")


def goal_baseline_reward(image_embeds: jax.Array, goal: jax.Array, baseline: jax.Array, alpha) -> jax.Array:
    """R = 1 − ½‖(x − g)P‖² of Rocamonde et al. (2024), Eq. 3.

    image_embeds: [..., E] (any norm; normalised here). goal, baseline: [E] means of
    unit-normalised prompt embeddings (not renormalised, as in the paper). alpha: scalar in
    [0, 1]. Returns [...].
    """
    x = unit(image_embeds)
    direction = goal - baseline
    diff = x - goal
    along = (diff @ direction) / jnp.sum(direction**2)
    projected = alpha * along[..., None] * direction + (1.0 - alpha) * diff
    return 1.0 - 0.5 * jnp.sum(projected**2, axis=-1)


def cosine_reward(image_embeds: jax.Array, goal: jax.Array) -> jax.Array:
    """cos(x, g): image_embeds [..., E], goal [E] -> [...]."""
    return unit(image_embeds) @ unit(goal)


def contrast_reward(image_embeds: jax.Array, goal: jax.Array, baseline: jax.Array) -> jax.Array:
    """Mean cosine to the goal prompts minus mean cosine to the baseline prompts.

    With goal/baseline the means of unit prompt embeddings this is x·(g − b): [..., E] -> [...].
    """
    return unit(image_embeds) @ (goal - baseline)


def vlm_reward(mode: str, image_embeds, goal, baseline, alpha) -> jax.Array:
    """Dispatch on the (static) `mode`, one of `MODES`."""
    if mode == "goal_baseline":
        return goal_baseline_reward(image_embeds, goal, baseline, alpha)
    if mode == "cosine":
        return cosine_reward(image_embeds, goal)
    if mode == "contrast":
        return contrast_reward(image_embeds, goal, baseline)
    raise ValueError(f"VLM reward mode must be one of {', '.join(MODES)}, got {mode!r}")


def prompt_embeddings(model: CLIP, params: dict, tokenizer, prompts: Sequence[str]) -> np.ndarray:
    """Mean of the unit-normalised text embeddings of `prompts` -> [E] (host, once per run)."""
    if not prompts:
        raise ValueError("prompt_embeddings: need at least one prompt")
    tokens = jnp.asarray(tokenizer(list(prompts)))
    # Compiled: op-by-op dispatch of a transformer costs more than compiling it once.
    embeds = jax.jit(lambda p, t: model.apply({"params": p}, t, method=model.encode_text))(params, tokens)
    return np.asarray(jnp.mean(unit(embeds), axis=0))


def image_embeddings(model: CLIP, params: dict, frames: jax.Array, batch_size: int = 0) -> jax.Array:
    """Rendered frames uint8 [..., H, W, 3] -> image embeddings [..., E] (jittable).

    Preprocesses in JAX and runs the image tower over all leading axes as one batch, or in
    `lax.map` chunks of `batch_size` to bound activation memory (e.g. T·B frames of a rollout).
    """
    size = model.config.vision.image_size
    lead = frames.shape[:-3]
    flat = frames.reshape((-1,) + frames.shape[-3:])
    encode = lambda f: model.apply({"params": params}, preprocess(f, size, model.dtype), method=model.encode_image)
    if batch_size and flat.shape[0] > batch_size and flat.shape[0] % batch_size == 0:
        chunks = flat.reshape((-1, batch_size) + flat.shape[1:])
        out = jax.lax.map(encode, chunks).reshape(flat.shape[0], -1)
    else:
        out = encode(flat)
    return out.reshape(lead + out.shape[-1:])


def epic_distance(rewards: jax.Array, labels: jax.Array) -> jax.Array:
    """D = √(1 − ρ)/√2, ρ = Pearson(rewards, labels) over states (Rocamonde et al. App. A).

    rewards, labels: [N] -> []. 0 for a reward perfectly correlated with the labels, 1 for
    perfectly anti-correlated ones, ≈0.71 for an uninformative one.
    """
    return pearson_distance(rewards, labels, jnp.ones_like(rewards))


# --- the reward model inside the training step ---------------------------------------------


@dataclass(frozen=True)
class VLMConfig:
    """Settings of the `vlm` reward term (defaults: the paper's CartPole prompts).

    `checkpoint` is a local folder with CLIP weights and tokenizer files (`load_clip`); it is
    only read when the term is used. `alpha` is a vmappable leaf (it lives in the reward
    state); the rest is static.
    """

    checkpoint: str = ""
    goal_prompts: tuple[str, ...] = ("pole vertically upright on top of the cart",)
    baseline_prompts: tuple[str, ...] = ("pole and cart",)
    #: Goal-baseline regularisation strength α in [0, 1] (mode "goal_baseline").
    alpha: float = 0.5
    #: "goal_baseline", "cosine" (plain CLIP reward) or "contrast" (goal minus baseline).
    mode: str = "goal_baseline"
    #: Rendered frame size (square); 0: the model's input resolution.
    frame_size: int = 0
    #: Camera passed to `env.render` (None: the env's default view).
    camera: str | None = None
    #: Image-tower matmul dtype: "float32", or "bfloat16" on accelerators.
    dtype: str = "float32"
    #: Frames per image-tower call (lax.map chunks over the T·B frames); 0: all at once.
    batch_size: int = 0

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"vlm.mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"vlm.alpha must be in [0, 1], got {self.alpha}")
        if self.dtype not in ("float32", "bfloat16"):
            raise ValueError(f"vlm.dtype must be float32 or bfloat16, got {self.dtype!r}")
        if not self.goal_prompts or (self.mode != "cosine" and not self.baseline_prompts):
            raise ValueError("vlm.goal_prompts (and, except in mode 'cosine', vlm.baseline_prompts) must not be empty")
        if self.frame_size < 0 or self.batch_size < 0:
            raise ValueError("vlm.frame_size and vlm.batch_size must be >= 0")


class VLMReward(RewardModel):
    """CLIP reward of Rocamonde et al. (2024) on frames rendered inside the training step.

    Text embeddings are computed once here, on the host; the image tower runs on
    `batch.pixels` ([T, B, H, W, 3], asked for through `frames`). The CLIP parameters live in
    the reward state (so vmapped runs share one program and checkpoints are self-contained).
    """

    name = "vlm"

    def __init__(self, spec: RewardSpec, cfg: VLMConfig):
        super().__init__(spec)
        cfg.validate()
        if not cfg.checkpoint:
            raise ValueError(
                "reward 'vlm' needs a local CLIP checkpoint folder: set reward.vlm.checkpoint (e.g. the files of "
                "openai/clip-vit-base-patch32 downloaded by you). Nothing is downloaded at run time."
            )
        self.cfg = cfg
        loaded = load_clip(cfg.checkpoint)
        self.model = CLIP(loaded.config, dtype=jnp.bfloat16 if cfg.dtype == "bfloat16" else jnp.float32)
        self.params = loaded.params
        self.goal = prompt_embeddings(self.model, loaded.params, loaded.tokenizer, cfg.goal_prompts)
        self.baseline = prompt_embeddings(self.model, loaded.params, loaded.tokenizer, cfg.baseline_prompts or cfg.goal_prompts)
        size = cfg.frame_size or loaded.config.vision.image_size
        self.frames = FrameSpec(size, size, cfg.camera)

    def init(self, rng):
        return {
            "params": jax.tree.map(jnp.asarray, self.params),
            "goal": jnp.asarray(self.goal),
            "baseline": jnp.asarray(self.baseline),
            "alpha": jnp.asarray(self.cfg.alpha, jnp.float32),
        }

    def reward(self, state, batch: TransitionBatch):
        if batch.pixels is None:
            raise ValueError(
                "reward 'vlm' scores rendered frames, but this batch has none (SAC's replay relabelling does not "
                "store frames; use the PPO learner)"
            )
        embeds = image_embeddings(self.model, state["params"], batch.pixels, self.cfg.batch_size)
        r = vlm_reward(self.cfg.mode, embeds, state["goal"], state["baseline"], state["alpha"])
        return r, {}
