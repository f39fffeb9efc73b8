"""Time-contrastive encoder (TCN) trained here on rendered demonstration frames.

Sermanet, Lynch, Chebotar, Hsu, Jang, Schaal, Levine, "Time-Contrastive Networks:
Self-Supervised Learning from Video" (ICRA 2018), single-view variant: an anchor frame and
a positive frame a few steps apart in the same demo are pulled together, a negative frame
far in time from the anchor in the same demo is pushed away (triplet loss with a margin).
The embedding then changes with task progress and ignores what stays constant within a
demo (the goal's placement, the camera).

Deviations, for a 2-core CPU budget: a four-layer conv net on 32x32-ish frames instead of
an Inception tower on 299x299; one view, because our demos have one camera; embeddings
are L2-normalised so the margin has a fixed scale. The encoder is trained once, before RL,
and frozen during it (its parameters are constants of the reward model).
"""

from __future__ import annotations

from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import serialization

from jaxreward.rewards.perceptual.frame_encoder import Encoder


@dataclass(frozen=True)
class TCNConfig:
    """Encoder size and the time-contrastive sampling."""

    embedding_size: int = 32
    channels: tuple[int, ...] = (16, 32, 32)
    #: A positive is at most this many steps from its anchor.
    positive_window: int = 2
    #: A negative is at least this many steps from its anchor.
    negative_gap: int = 6
    margin: float = 0.2
    learning_rate: float = 1e-3
    batch_size: int = 64
    train_steps: int = 300

    def validate(self) -> None:
        if self.positive_window < 1 or self.negative_gap <= self.positive_window:
            raise ValueError(f"need 1 <= positive_window < negative_gap, got positive_window={self.positive_window}, "
                             f"negative_gap={self.negative_gap}")
        if self.embedding_size < 1 or not self.channels:
            raise ValueError("embedding_size must be >= 1 and channels non-empty")


class ConvEncoder(nn.Module):
    """uint8 frames [..., H, W, 3] -> unit-norm embeddings [..., embedding_size]."""

    embedding_size: int = 32
    channels: tuple[int, ...] = (16, 32, 32)

    @nn.compact
    def __call__(self, frames: jax.Array) -> jax.Array:
        lead = frames.shape[:-3]
        x = frames.reshape((-1,) + frames.shape[-3:]).astype(jnp.float32) / 255.0 - 0.5
        for c in self.channels:
            x = nn.relu(nn.Conv(c, (3, 3), strides=(2, 2))(x))
        x = nn.relu(nn.Dense(64)(x.reshape((x.shape[0], -1))))
        x = nn.Dense(self.embedding_size)(x)
        x = x / (jnp.linalg.norm(x, axis=-1, keepdims=True) + 1e-6)
        return x.reshape(lead + (self.embedding_size,))


def sample_triplets(rng: jax.Array, lengths: jax.Array, batch: int, cfg: TCNConfig):
    """(demo, anchor, positive, negative) index arrays [batch] for demos of `lengths` [N]
    valid frames each (frames past a demo's length are never drawn)."""
    k_demo, k_anchor, k_pos, k_neg = jax.random.split(rng, 4)
    demo = jax.random.randint(k_demo, (batch,), 0, lengths.shape[0])
    n = lengths[demo]
    anchor = jax.random.randint(k_anchor, (batch,), 0, n)
    offset = jax.random.randint(k_pos, (batch,), 1, cfg.positive_window + 1) * jnp.where(
        jax.random.bernoulli(k_pos, 0.5, (batch,)), 1, -1)
    positive = jnp.clip(anchor + offset, 0, n - 1)
    positive = jnp.where(positive == anchor, anchor - offset, positive)  # reflect at the ends
    # Negatives uniformly among frames at least negative_gap away: draw a position among
    # them and map it past the excluded window around the anchor.
    low = jnp.maximum(anchor - cfg.negative_gap + 1, 0)
    high = jnp.minimum(anchor + cfg.negative_gap, n)
    allowed = n - (high - low)
    u = jax.random.randint(k_neg, (batch,), 0, jnp.maximum(allowed, 1))
    negative = jnp.where(u < low, u, u + (high - low))
    return demo, anchor, jnp.clip(positive, 0, n - 1), jnp.clip(negative, 0, n - 1), allowed > 0


def train_tcn(frames: np.ndarray, lengths: np.ndarray, rng: jax.Array, cfg: TCNConfig = TCNConfig()
              ) -> tuple[Encoder, np.ndarray]:
    """Fits the time-contrastive encoder on demonstration frames.

    Args:
      frames: uint8 [N, T, H, W, 3]; lengths: [N] frames of each demo to use (from 0).
    Returns:
      (the frozen encoder, [train_steps] triplet loss per step).
    """
    cfg.validate()
    if int(np.min(lengths)) <= cfg.negative_gap:
        raise ValueError(f"demos need more than negative_gap={cfg.negative_gap} frames, the shortest has {int(np.min(lengths))}")
    module = ConvEncoder(cfg.embedding_size, tuple(cfg.channels))
    k_init, k_train = jax.random.split(rng)
    params = module.init(k_init, jnp.zeros(frames.shape[2:], jnp.uint8))
    opt = optax.adam(cfg.learning_rate)
    frames = jnp.asarray(frames)
    lengths = jnp.asarray(lengths, jnp.int32)

    # Frames are arguments, not closure constants: the program then does not embed the
    # data, and the persistent compilation cache serves every demo set of the same shape.
    def loss_fn(p, key, frames, lengths):
        demo, a, pos, neg, valid = sample_triplets(key, lengths, cfg.batch_size, cfg)
        e = module.apply(p, jnp.stack([frames[demo, a], frames[demo, pos], frames[demo, neg]]))
        d_pos = jnp.sum((e[0] - e[1]) ** 2, -1)
        d_neg = jnp.sum((e[0] - e[2]) ** 2, -1)
        return jnp.sum(valid * jax.nn.relu(d_pos - d_neg + cfg.margin)) / jnp.maximum(jnp.sum(valid), 1)

    def train(p, o, key, frames, lengths):
        def step(carry, k):
            p, o = carry
            loss, grads = jax.value_and_grad(loss_fn)(p, k, frames, lengths)
            updates, o = opt.update(grads, o, p)
            return (optax.apply_updates(p, updates), o), loss

        return jax.lax.scan(step, (p, o), jax.random.split(key, cfg.train_steps))

    (params, _), losses = jax.jit(train)(params, opt.init(params), k_train, frames, lengths)
    return Encoder(module, params, cfg.embedding_size, "tcn"), np.asarray(losses)


def save_encoder(path: str, encoder: Encoder) -> None:
    """Writes the TCN's parameters and architecture to a .msgpack file."""
    meta = {"embedding_size": np.int64(encoder.module.embedding_size),
            "channels": np.asarray(encoder.module.channels, np.int64)}
    with open(path, "wb") as f:
        f.write(serialization.msgpack_serialize({"meta": meta, "params": jax.device_get(encoder.params)}))


def load_encoder(path: str) -> Encoder:
    """Reads an encoder written by `save_encoder`; a clear error for anything else."""
    try:
        with open(path, "rb") as f:
            blob = serialization.msgpack_restore(f.read())
        meta = blob["meta"]
        module = ConvEncoder(int(meta["embedding_size"]), tuple(int(c) for c in np.asarray(meta["channels"])))
        params = jax.tree.map(jnp.asarray, blob["params"])
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"TCN encoder file {path!r}: cannot read it ({type(e).__name__}: {e})") from None
    return Encoder(module, params, module.embedding_size, "tcn")
