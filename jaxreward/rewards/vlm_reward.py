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

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

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
    r = rewards - jnp.mean(rewards)
    y = labels - jnp.mean(labels)
    rho = jnp.sum(r * y) / jnp.sqrt(jnp.sum(r**2) * jnp.sum(y**2))
    return jnp.sqrt(jnp.clip(1.0 - rho, 0.0, 2.0) / 2.0)
