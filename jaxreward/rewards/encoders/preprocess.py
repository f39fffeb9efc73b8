"""CLIP image preprocessing in JAX, so it runs inside the compiled training step.

Radford et al. (ICML 2021) feed CLIP images resized so the shorter side equals the model's
resolution (bicubic), centre-cropped to a square, scaled to [0, 1] and normalised per
channel with the mean/std of their training set (`CLIP_MEAN`, `CLIP_STD`). Deliberate
deviation: the reference resizes with PIL on uint8 images; `jax.image.resize` (bicubic,
antialiased when shrinking) on floats differs from PIL by a few grey levels, which moves
embeddings slightly but not the ranking of prompts.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def resize_shorter_side(images: jax.Array, size: int) -> jax.Array:
    """images: [..., H, W, C] -> [..., H', W', C] with min(H', W') = size, aspect kept."""
    height, width = images.shape[-3], images.shape[-2]
    scale = size / min(height, width)
    new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
    if (new_h, new_w) == (height, width):
        return images
    shape = images.shape[:-3] + (new_h, new_w, images.shape[-1])
    return jax.image.resize(images, shape, method="bicubic", antialias=True)


def center_crop(images: jax.Array, size: int) -> jax.Array:
    """images: [..., H, W, C] with H, W >= size -> [..., size, size, C], the central square."""
    height, width = images.shape[-3], images.shape[-2]
    top, left = (height - size) // 2, (width - size) // 2
    return images[..., top : top + size, left : left + size, :]


def preprocess(frames: jax.Array, size: int, dtype=jnp.float32) -> jax.Array:
    """Rendered frames uint8 [..., H, W, 3] -> CLIP input [..., size, size, 3] in `dtype`.

    Resize (shorter side to `size`), centre crop, scale to [0, 1], normalise with the CLIP
    mean/std. Shapes are static, so this jits and vmaps with the renderer.
    """
    x = frames.astype(jnp.float32) / 255.0
    x = center_crop(resize_shorter_side(x, size), size)
    x = (x - jnp.asarray(CLIP_MEAN)) / jnp.asarray(CLIP_STD)
    return x.astype(dtype)
