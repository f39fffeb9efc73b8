"""STAND-IN vision-language model: a tiny CLIP trained here on CartPole frames.

NOT a zero-shot result and NOT CLIP. It exists so that the VLM-RM pipeline of Rocamonde et
al., "Vision-Language Models are Zero-Shot Reward Models for Reinforcement Learning" (ICLR
2024) — tokenizer, checkpoint loader, image tower on rendered frames, goal-baseline reward —
runs end to end offline, in CI and in demos, where no pretrained CLIP checkpoint exists.
Its captions are generated from the true pole angle by templates, so it has been *taught*
the very predicate the paper's prompt asks about; any reward it gives says nothing about
what a real CLIP would give.

Training (Radford et al. 2021's contrastive objective, deliberately changed in one way):
frames of CartPole states rendered by `env.render`, each paired with a caption drawn from
templates for its angle bucket (upright, leaning, fallen, hanging) or, sometimes, a generic
caption such as the paper's baseline prompt "pole and cart". Identical captions in a batch
are all positives (soft targets), since with a dozen templates a batch holds many
duplicates that the usual one-hot targets would call negatives.

    python -m jaxreward.rewards.vlm_standin --out tests/data/vlm_standin_cartpole

writes a Hugging Face-layout folder (`clip_checkpoint.save_clip`) that `load_clip` reads
like any real checkpoint, plus STANDIN.txt saying what it is.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxreward.rewards.encoders.clip_checkpoint import save_clip
from jaxreward.rewards.encoders.clip_model import CLIP, CLIPConfig, TextConfig, VisionConfig, init_params, unit
from jaxreward.rewards.encoders.preprocess import preprocess
from jaxreward.rewards.encoders.tokenizer import Tokenizer

ENV = "cartpole"
FRAME_SIZE = 64
#: The paper's CartPole prompts (Rocamonde et al. 2024, Sec. 4.2).
GOAL_PROMPT = "pole vertically upright on top of the cart"
BASELINE_PROMPT = "pole and cart"
CAPTIONS = {
    "upright": (GOAL_PROMPT, "the pole is balanced upright on the cart", "an upright pole standing on a cart"),
    "leaning": ("a pole leaning slightly on the cart", "the pole is tilted a little"),
    "fallen": ("pole fallen over to the side", "the pole has fallen down", "a fallen pole lying sideways on the cart"),
    "hanging": ("pole hanging down below the cart", "the pole points downwards"),
}
GENERIC = (BASELINE_PROMPT, "a cart with a pole", "a cart on a track")
#: Angle bucket edges (radians from vertical): upright below 0.15, hanging above 2.2.
EDGES = (0.15, 0.6, 2.2)
CONTEXT = 16
STANDIN_NOTE = (
    "STAND-IN MODEL - NOT CLIP, NOT ZERO-SHOT.\n"
    "A tiny CLIP-architecture model trained by jaxreward.rewards.vlm_standin on CartPole frames with captions\n"
    "generated from the true pole angle. It lets the VLM-RM pipeline run offline in tests and demos.\n"
    "Rewards computed with it must never be reported as zero-shot vision-language rewards.\n"
)


def standin_config(vocab_size: int, eos_token_id: int) -> CLIPConfig:
    return CLIPConfig(
        embed_dim=32,
        vision=VisionConfig(image_size=FRAME_SIZE, patch_size=16, width=48, layers=2, heads=4, mlp_dim=96),
        text=TextConfig(context_length=CONTEXT, vocab_size=vocab_size, width=32, layers=2, heads=4, mlp_dim=64, eos_token_id=eos_token_id),
        activation="quick_gelu",
    )


def angle_bucket(theta: np.ndarray) -> np.ndarray:
    """Pole angle(s) -> bucket index into ("upright", "leaning", "fallen", "hanging")."""
    wrapped = np.abs((np.asarray(theta) + np.pi) % (2 * np.pi) - np.pi)
    return np.searchsorted(np.asarray(EDGES), wrapped)


def sample_states(rng: np.random.Generator, n: int) -> np.ndarray:
    """CartPole pipeline states [n, 4] (x, ẋ, θ, θ̇): half near upright, half any angle."""
    theta = np.where(rng.uniform(size=n) < 0.5, rng.uniform(-0.4, 0.4, n), rng.uniform(-np.pi, np.pi, n))
    q = np.zeros((n, 4), np.float32)
    q[:, 0] = rng.uniform(-2.0, 2.0, n)
    q[:, 2] = theta
    return q


def render_states(q: np.ndarray, chunk: int = 256, size: int = FRAME_SIZE) -> np.ndarray:
    """Frames uint8 [n, size, size, 3] of CartPole pipeline states q [n, 4] (the env's renderer)."""
    import envs

    env = envs.make(ENV)
    template = env.reset(jax.random.PRNGKey(0))
    draw = jax.jit(jax.vmap(lambda s: env.render(template.replace(pipeline_state=s, obs=s), height=size, width=size)))
    pad = (-len(q)) % chunk
    qs = np.concatenate([q, np.zeros((pad, 4), q.dtype)]).reshape(-1, chunk, 4)
    return np.concatenate([np.asarray(draw(jnp.asarray(c))) for c in qs])[: len(q)]


def caption_choices(q: np.ndarray) -> list[tuple[str, ...]]:
    """Per state, the captions it may be paired with (its bucket's templates + generic ones)."""
    names = list(CAPTIONS)
    return [CAPTIONS[names[b]] + GENERIC for b in angle_bucket(q[:, 2])]


def train(seed: int = 0, num_states: int = 1024, steps: int = 1500, batch_size: int = 64, lr: float = 2e-4):
    """Trains the stand-in. Returns (config, params, tokenizer, log dict)."""
    rng = np.random.default_rng(seed)
    corpus = [c for group in CAPTIONS.values() for c in group] + list(GENERIC)
    tokenizer = Tokenizer.train(corpus, num_merges=64, context_length=CONTEXT)
    config = standin_config(len(tokenizer.encoder), tokenizer.eos_id)
    model = CLIP(config)

    q = sample_states(rng, num_states)
    t0 = time.time()
    frames = render_states(q)
    render_s = time.time() - t0
    # Captions: a bucket caption 4 times out of 5, a generic one otherwise (by weighting the choices).
    unique = sorted(set(corpus))
    caption_ids = {c: i for i, c in enumerate(unique)}
    tokens_of_caption = jnp.asarray(tokenizer(unique))
    choices = caption_choices(q)
    n_specific = [len(c) - len(GENERIC) for c in choices]
    weights = np.array([[0.8 / n] * n + [0.2 / len(GENERIC)] * len(GENERIC) + [0.0] * (8 - n - len(GENERIC)) for n in n_specific])
    choice_ids = np.array([[caption_ids[c] for c in cs] + [0] * (8 - len(cs)) for cs in choices])

    params = init_params(config, jax.random.PRNGKey(seed))
    # A small rate with warm-up: frames differ from each other in few pixels (std over the
    # batch ~0.02 of the normalised input), and at 1e-3 the tower never leaves the
    # predict-the-caption-prior plateau; at 1e-4..2e-4 it does after ~100 steps.
    schedule = optax.warmup_cosine_decay_schedule(0.0, lr, min(100, steps // 10), steps, lr / 10)
    optimiser = optax.adamw(schedule, weight_decay=1e-4)
    opt_state = optimiser.init(params)
    frames_j, choice_ids_j, log_w = jnp.asarray(frames), jnp.asarray(choice_ids), jnp.log(jnp.asarray(weights) + 1e-30)

    def loss_fn(params, images, caption):
        img = unit(model.apply({"params": params}, preprocess(images, FRAME_SIZE), method=model.encode_image))
        txt = unit(model.apply({"params": params}, tokens_of_caption[caption], method=model.encode_text))
        logits = jnp.exp(params["logit_scale"]) * img @ txt.T
        same = (caption[:, None] == caption[None, :]).astype(jnp.float32)
        targets = same / jnp.sum(same, axis=1, keepdims=True)
        loss = 0.5 * (optax.softmax_cross_entropy(logits, targets).mean() + optax.softmax_cross_entropy(logits.T, targets).mean())
        return loss

    @jax.jit
    def step(params, opt_state, key):
        k_idx, k_cap = jax.random.split(key)
        idx = jax.random.choice(k_idx, num_states, (batch_size,), replace=False)
        pick = jax.random.categorical(k_cap, log_w[idx])
        caption = choice_ids_j[idx, pick]
        loss, grads = jax.value_and_grad(loss_fn)(params, frames_j[idx], caption)
        updates, opt_state = optimiser.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        # CLIP clips its temperature at 100 for stability.
        params = dict(params, logit_scale=jnp.minimum(params["logit_scale"], math.log(100.0)))
        return params, opt_state, loss

    key = jax.random.PRNGKey(seed + 1)
    losses = []
    t0 = time.time()
    for i in range(steps):
        key, sub = jax.random.split(key)
        params, opt_state, loss = step(params, opt_state, sub)
        losses.append(float(loss))
    log = {
        "num_states": num_states, "steps": steps, "batch_size": batch_size, "seed": seed,
        "render_seconds": round(render_s, 1), "train_seconds": round(time.time() - t0, 1),
        "loss_first": round(float(np.mean(losses[:20])), 4), "loss_last": round(float(np.mean(losses[-20:])), 4),
    }
    return config, jax.tree.map(np.asarray, params), tokenizer, log


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Train the STAND-IN CartPole vision-language model (not CLIP, not zero-shot).")
    parser.add_argument("--out", type=Path, default=Path("tests/data/vlm_standin_cartpole"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--states", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args(argv)
    config, params, tokenizer, log = train(args.seed, args.states, args.steps)
    save_clip(args.out, config, params, tokenizer)
    (args.out / "STANDIN.txt").write_text(STANDIN_NOTE + "\ntraining: " + json.dumps(log) + "\n")
    print(json.dumps(log))


if __name__ == "__main__":
    main()
