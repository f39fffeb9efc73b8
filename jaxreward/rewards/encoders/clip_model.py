"""CLIP in Flax: a ViT image tower and a causal text transformer.

Radford et al., "Learning Transferable Visual Models From Natural Language Supervision"
(ICML 2021). The architecture follows the published CLIP ViT models so that weights in the
OpenAI / Hugging Face `CLIPModel` layout and in the OpenCLIP layout load without conversion
beyond renaming and transposing (`clip_checkpoint.py`):

- image: non-overlapping patch embedding (a bias-free convolution), a learned class token,
  learned positions, `ln_pre`, pre-norm transformer blocks, `ln_post` on the class token, a
  bias-free projection to the joint embedding;
- text: token + learned position embeddings, pre-norm transformer blocks under a causal
  mask, `ln_final`, the hidden state at the first end-of-text token, a bias-free projection.

Named configurations (`CONFIGS`) cover ViT-B/32 up to ViT-bigG/14 as OpenCLIP defines them;
OpenAI's checkpoints use QuickGELU, LAION's larger ones exact GELU. The image tower
(`VisionTower`) is a module of its own so other perceptual rewards can reuse it.
Deliberate deviation: attention softmax and layer norms always run in float32, also when
`dtype=jnp.bfloat16` is chosen for the matrix multiplies on accelerators.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

ACTIVATIONS = ("quick_gelu", "gelu")
#: Layer-norm epsilon of both reference implementations (PyTorch's default).
LAYER_NORM_EPS = 1e-5


@dataclass(frozen=True)
class VisionConfig:
    image_size: int = 224
    patch_size: int = 32
    width: int = 768
    layers: int = 12
    heads: int = 12
    mlp_dim: int = 3072

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


@dataclass(frozen=True)
class TextConfig:
    context_length: int = 77
    vocab_size: int = 49408
    width: int = 512
    layers: int = 12
    heads: int = 8
    mlp_dim: int = 2048
    #: Id of `<|endoftext|>`; the text embedding is read at its first occurrence.
    eos_token_id: int = 49407


@dataclass(frozen=True)
class CLIPConfig:
    """Static shape of a CLIP model (all fields are shapes, so it is hashable and static)."""

    embed_dim: int = 512
    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    #: "quick_gelu" (OpenAI checkpoints: x·σ(1.702x)) or "gelu" (exact; LAION checkpoints).
    activation: str = "quick_gelu"

    def validate(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"CLIPConfig.activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        for name, tower in (("vision", self.vision), ("text", self.text)):
            if tower.width % tower.heads:
                raise ValueError(f"CLIPConfig.{name}: width {tower.width} is not divisible by heads {tower.heads}")
        if self.vision.image_size % self.vision.patch_size:
            raise ValueError(
                f"CLIPConfig.vision: image_size {self.vision.image_size} is not a multiple of patch_size {self.vision.patch_size}"
            )


def _vit(image_size, patch, width, layers, heads, mlp_dim, text_width, text_layers, text_heads, embed_dim, act):
    return CLIPConfig(
        embed_dim=embed_dim,
        vision=VisionConfig(image_size, patch, width, layers, heads, mlp_dim),
        text=TextConfig(width=text_width, layers=text_layers, heads=text_heads, mlp_dim=4 * text_width),
        activation=act,
    )


#: OpenCLIP's model configurations (model_configs/*.json), names as OpenCLIP spells them.
#: OpenAI's released weights exist for B/32, B/16, L/14 and L/14-336 (QuickGELU); the
#: H/14, g/14 and bigG/14 weights are LAION's (exact GELU).
CONFIGS: dict[str, CLIPConfig] = {
    "ViT-B-32": _vit(224, 32, 768, 12, 12, 3072, 512, 12, 8, 512, "quick_gelu"),
    "ViT-B-16": _vit(224, 16, 768, 12, 12, 3072, 512, 12, 8, 512, "quick_gelu"),
    "ViT-L-14": _vit(224, 14, 1024, 24, 16, 4096, 768, 12, 12, 768, "quick_gelu"),
    "ViT-L-14-336": _vit(336, 14, 1024, 24, 16, 4096, 768, 12, 12, 768, "quick_gelu"),
    "ViT-H-14": _vit(224, 14, 1280, 32, 16, 5120, 1024, 24, 16, 1024, "gelu"),
    "ViT-g-14": _vit(224, 14, 1408, 40, 16, 6144, 1024, 24, 16, 1024, "gelu"),
    "ViT-bigG-14": _vit(224, 14, 1664, 48, 16, 8192, 1280, 32, 20, 1280, "gelu"),
}


def config_by_name(name: str, **overrides) -> CLIPConfig:
    """A named configuration (`CONFIGS`), optionally with top-level fields replaced."""
    if name not in CONFIGS:
        raise ValueError(f"unknown CLIP config {name!r}; valid: {', '.join(CONFIGS)}")
    return replace(CONFIGS[name], **overrides)


def _activation(name: str):
    if name == "quick_gelu":
        return lambda x: x * jax.nn.sigmoid(1.702 * x)
    return lambda x: jax.nn.gelu(x, approximate=False)


class Attention(nn.Module):
    """Multi-head self-attention with separate q/k/v projections (both layouts map onto them)."""

    heads: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, mask=None):
        batch, length, width = x.shape
        head_dim = width // self.heads
        split = lambda t: t.reshape(batch, length, self.heads, head_dim)
        q = split(nn.Dense(width, dtype=self.dtype, name="q")(x))
        k = split(nn.Dense(width, dtype=self.dtype, name="k")(x))
        v = split(nn.Dense(width, dtype=self.dtype, name="v")(x))
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k).astype(jnp.float32) * head_dim**-0.5
        if mask is not None:
            logits = jnp.where(mask, logits, jnp.finfo(jnp.float32).min)
        weights = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, length, width)
        return nn.Dense(width, dtype=self.dtype, name="out")(out)


class Block(nn.Module):
    """Pre-norm residual block: x + attn(ln_1 x), then x + mlp(ln_2 x)."""

    heads: int
    mlp_dim: int
    activation: str
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, mask=None):
        width = x.shape[-1]
        h = nn.LayerNorm(LAYER_NORM_EPS, dtype=jnp.float32, name="ln_1")(x)
        x = x + Attention(self.heads, self.dtype, name="attn")(h.astype(self.dtype), mask)
        h = nn.LayerNorm(LAYER_NORM_EPS, dtype=jnp.float32, name="ln_2")(x)
        h = nn.Dense(self.mlp_dim, dtype=self.dtype, name="fc")(h.astype(self.dtype))
        h = nn.Dense(width, dtype=self.dtype, name="proj")(_activation(self.activation)(h))
        return x + h


class Transformer(nn.Module):
    layers: int
    heads: int
    mlp_dim: int
    activation: str
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x, mask=None):
        for i in range(self.layers):
            x = Block(self.heads, self.mlp_dim, self.activation, self.dtype, name=f"block_{i}")(x, mask)
        return x


class VisionTower(nn.Module):
    """ViT image encoder: images [B, H, W, 3] (already CLIP-normalised, H = W =
    `image_size`) -> projected embeddings [B, embed_dim] (not unit-normalised)."""

    config: VisionConfig
    embed_dim: int
    activation: str = "quick_gelu"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, images):
        cfg = self.config
        patch = cfg.patch_size
        x = nn.Conv(cfg.width, (patch, patch), (patch, patch), "VALID", use_bias=False, dtype=self.dtype, name="patch_embed")(
            images.astype(self.dtype)
        )
        x = x.reshape(x.shape[0], -1, cfg.width)  # row-major patches, as both references flatten them
        init = nn.initializers.normal(cfg.width**-0.5)
        cls = self.param("class_embedding", init, (cfg.width,))
        pos = self.param("position_embedding", init, (cfg.num_patches + 1, cfg.width))
        x = jnp.concatenate([jnp.broadcast_to(cls.astype(x.dtype), (x.shape[0], 1, cfg.width)), x], axis=1) + pos.astype(x.dtype)
        x = nn.LayerNorm(LAYER_NORM_EPS, dtype=jnp.float32, name="ln_pre")(x)
        x = Transformer(cfg.layers, cfg.heads, cfg.mlp_dim, self.activation, self.dtype, name="transformer")(x.astype(self.dtype))
        pooled = nn.LayerNorm(LAYER_NORM_EPS, dtype=jnp.float32, name="ln_post")(x[:, 0])
        proj = self.param("projection", init, (cfg.width, self.embed_dim))
        return (pooled @ proj.astype(jnp.float32)).astype(jnp.float32)


class TextTower(nn.Module):
    """Causal text encoder: token ids [B, L] (L <= context_length) -> projected embeddings
    [B, embed_dim] read at the first end-of-text token (not unit-normalised)."""

    config: TextConfig
    embed_dim: int
    activation: str = "quick_gelu"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, tokens):
        cfg = self.config
        length = tokens.shape[-1]
        init = nn.initializers.normal(0.02)
        x = nn.Embed(cfg.vocab_size, cfg.width, name="token_embedding")(tokens)
        pos = self.param("position_embedding", init, (cfg.context_length, cfg.width))
        x = (x + pos[:length]).astype(self.dtype)
        causal = jnp.tril(jnp.ones((length, length), bool))[None, None]
        x = Transformer(cfg.layers, cfg.heads, cfg.mlp_dim, self.activation, self.dtype, name="transformer")(x, causal)
        x = nn.LayerNorm(LAYER_NORM_EPS, dtype=jnp.float32, name="ln_final")(x)
        # First end-of-text token: the same position Hugging Face uses, and OpenCLIP's
        # argmax-of-ids picks, because `<|endoftext|>` is the largest id in CLIP's vocabulary.
        eos = jnp.argmax(tokens == cfg.eos_token_id, axis=-1)
        pooled = jnp.take_along_axis(x, eos[:, None, None], axis=1)[:, 0]
        proj = self.param("projection", init, (cfg.width, self.embed_dim))
        return (pooled @ proj.astype(jnp.float32)).astype(jnp.float32)


class CLIP(nn.Module):
    """Both towers; `encode_image` / `encode_text` are the entry points (`apply(...,
    method=...)`). Parameters: {"visual": ..., "text": ..., "logit_scale": []}."""

    config: CLIPConfig
    dtype: Any = jnp.float32

    def setup(self):
        cfg = self.config
        self.visual = VisionTower(cfg.vision, cfg.embed_dim, cfg.activation, self.dtype)
        self.text = TextTower(cfg.text, cfg.embed_dim, cfg.activation, self.dtype)
        # ln(1/0.07), CLIP's initial temperature; only the stand-in's training uses it.
        self.logit_scale = self.param("logit_scale", nn.initializers.constant(jnp.log(1 / 0.07)), ())

    def encode_image(self, images):
        """images: [B, H, W, 3] CLIP-normalised float -> [B, embed_dim]."""
        return self.visual(images)

    def encode_text(self, tokens):
        """tokens: [B, L] int -> [B, embed_dim]."""
        return self.text(tokens)

    def __call__(self, images, tokens):
        return self.encode_image(images), self.encode_text(tokens), self.logit_scale


def init_params(config: CLIPConfig, rng: jax.Array) -> dict:
    """Random parameters of the right shapes (tests, the stand-in, benchmarks)."""
    config.validate()
    v = config.vision
    images = jnp.zeros((1, v.image_size, v.image_size, 3), jnp.float32)
    tokens = jnp.zeros((1, config.text.context_length), jnp.int32)
    return CLIP(config).init(rng, images, tokens)["params"]


def unit(x: jax.Array) -> jax.Array:
    """Rows scaled to unit L2 norm ([..., D])."""
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)
