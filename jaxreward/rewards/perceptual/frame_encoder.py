"""Frozen image encoders the perceptual rewards embed frames with.

An `Encoder` is a Flax module mapping uint8 frames [..., H, W, 3] to embeddings [..., D]
and its parameters; the rewards keep the parameters in their state and never update them.
Two sources:

- a time-contrastive network trained here on demonstration frames (`tcn.py`, the default:
  Sermanet et al., "Time-Contrastive Networks", ICRA 2018);
- the image tower of a CLIP checkpoint on local disk (`clip_image_encoder`, through the
  project's Flax CLIP in `rewards/encoders`: nothing is downloaded). The paper used an
  ImageNet-pretrained Inception network the same way, as frozen features.

`load_encoder_spec("tcn:PATH" | "clip:PATH")` reads either from a file.
"""

from __future__ import annotations

from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp


@dataclass(frozen=True)
class Encoder:
    """A frozen image encoder: `embed(frames uint8 [..., H, W, 3]) -> [..., size]`, jittable."""

    module: nn.Module
    params: dict
    size: int
    name: str = "tcn"

    def embed(self, frames: jax.Array) -> jax.Array:
        return self.module.apply(self.params, frames)


class CLIPFrames(nn.Module):
    """CLIP image embeddings of rendered frames: resize and normalise as CLIP was trained
    (`rewards.encoders.preprocess`), the vision tower, unit norm."""

    config: object  # rewards.encoders.CLIPConfig

    @nn.compact
    def __call__(self, frames: jax.Array) -> jax.Array:
        from jaxreward.rewards.encoders import CLIP, preprocess, unit

        lead = frames.shape[:-3]
        images = preprocess(frames.reshape((-1,) + frames.shape[-3:]), self.config.vision.image_size)
        emb = CLIP(self.config, name="clip").encode_image(images)
        return unit(emb).reshape(lead + (emb.shape[-1],))


def clip_image_encoder(path: str) -> Encoder:
    """The image tower of the CLIP checkpoint at `path` (a local file or folder)."""
    from jaxreward.rewards.encoders import load_clip

    loaded = load_clip(path)
    return Encoder(CLIPFrames(loaded.config), {"params": {"clip": loaded.params}}, int(loaded.config.embed_dim), "clip")


def load_encoder_spec(spec: str) -> Encoder:
    """"tcn:PATH" (a TCN saved by `tcn.save_encoder`) or "clip:PATH" (a CLIP checkpoint)."""
    kind, _, path = spec.partition(":")
    if kind == "tcn" and path:
        from jaxreward.rewards.perceptual.tcn import load_encoder

        return load_encoder(path)
    if kind == "clip" and path:
        return clip_image_encoder(path)
    raise ValueError(f"encoder must be 'tcn:PATH' or 'clip:PATH' (or empty: train a TCN on the demos), got {spec!r}")
