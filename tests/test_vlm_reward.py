"""VLM-RM rewards (Rocamonde et al., ICLR 2024) against a NumPy transcription of the paper,
and CLIP preprocessing against NumPy."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxreward.rewards.encoders import CLIP, load_clip, preprocess
from jaxreward.rewards.encoders.preprocess import CLIP_MEAN, CLIP_STD
from jaxreward.rewards.vlm_reward import (
    contrast_reward,
    cosine_reward,
    epic_distance,
    goal_baseline_reward,
    image_embeddings,
    prompt_embeddings,
)

E = 16


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _paper_reward(x, goal, baseline, alpha):
    """Eq. 3 of the paper, literally: P = α d dᵀ/‖d‖² + (1−α) I, R = 1 − ½‖(x − g)P‖²."""
    d = (goal - baseline)[None]
    P = alpha * (d.T @ d) / np.sum(d**2) + (1 - alpha) * np.eye(d.shape[1])
    return 1 - 0.5 * np.sum(((_unit(x) - goal) @ P) ** 2, axis=-1)


@pytest.fixture(scope="module")
def embeddings():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(32, E)).astype(np.float32) * 3.0  # any norm: the reward normalises
    goal = _unit(rng.normal(size=(3, E))).mean(0).astype(np.float32)  # three goal prompts
    baseline = _unit(rng.normal(size=(2, E))).mean(0).astype(np.float32)  # two baseline prompts
    return images, goal, baseline


def test_goal_baseline_matches_paper_formula_for_a_vmapped_alpha_sweep(embeddings):
    images, goal, baseline = embeddings
    alphas = np.linspace(0.0, 1.0, 5).astype(np.float32)
    sweep = jax.jit(jax.vmap(goal_baseline_reward, in_axes=(None, None, None, 0)))(images, goal, baseline, alphas)
    assert sweep.shape == (5, 32)
    for alpha, ours in zip(alphas, np.asarray(sweep)):
        np.testing.assert_allclose(ours, _paper_reward(images, goal, baseline, alpha), atol=1e-5)


def test_alpha_zero_is_the_cosine_reward(embeddings):
    images, goal, baseline = embeddings
    single_goal = _unit(goal)  # one goal prompt: g is a unit vector
    r0 = goal_baseline_reward(images, single_goal, baseline, 0.0)
    np.testing.assert_allclose(r0, cosine_reward(images, single_goal), atol=1e-6)
    # Several prompts: R = ½ + ‖g‖·cos(x, g) − ½‖g‖², an increasing affine map of the cosine.
    norm = np.linalg.norm(goal)
    expected = 0.5 + norm * np.asarray(cosine_reward(images, goal)) - 0.5 * norm**2
    np.testing.assert_allclose(goal_baseline_reward(images, goal, baseline, 0.0), expected, atol=1e-6)


def test_alpha_one_sees_only_the_goal_baseline_direction(embeddings):
    images, goal, baseline = embeddings
    d = goal - baseline
    # A reflection across a hyperplane containing d keeps the norm and the component along d
    # and changes everything else.
    w = np.random.default_rng(1).normal(size=E)
    w = _unit(w - (w @ d) / (d @ d) * d)
    x = _unit(images)
    reflected = x - 2 * (x @ w)[:, None] * w[None]
    np.testing.assert_allclose(goal_baseline_reward(x, goal, baseline, 1.0), goal_baseline_reward(reflected, goal, baseline, 1.0), atol=1e-5)
    assert np.max(np.abs(goal_baseline_reward(x, goal, baseline, 0.0) - goal_baseline_reward(reflected, goal, baseline, 0.0))) > 1e-2
    # And along d it is increasing: moving x towards the goal side raises the reward.
    np.testing.assert_allclose(
        goal_baseline_reward(x, goal, baseline, 1.0), 1 - 0.5 * ((x - goal) @ d) ** 2 / (d @ d), atol=1e-5
    )


def test_contrast_is_mean_goal_cosine_minus_mean_baseline_cosine():
    rng = np.random.default_rng(2)
    images, goals, baselines = rng.normal(size=(8, E)), rng.normal(size=(3, E)), rng.normal(size=(4, E))
    expected = (_unit(images) @ _unit(goals).T).mean(1) - (_unit(images) @ _unit(baselines).T).mean(1)
    ours = contrast_reward(images.astype(np.float32), _unit(goals).mean(0).astype(np.float32), _unit(baselines).mean(0).astype(np.float32))
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_epic_distance_matches_numpy_pearson():
    rng = np.random.default_rng(3)
    labels = (rng.uniform(size=64) > 0.5).astype(np.float32)
    rewards = labels + rng.normal(size=64).astype(np.float32)
    rho = np.corrcoef(rewards, labels)[0, 1]
    np.testing.assert_allclose(epic_distance(rewards, labels), np.sqrt((1 - rho) / 2), atol=1e-5)
    assert float(epic_distance(labels, labels)) < 1e-3 and abs(float(epic_distance(-labels, labels)) - 1.0) < 1e-3


def test_preprocess_crops_centre_and_normalises():
    rng = np.random.default_rng(4)
    frames = rng.integers(0, 256, size=(2, 32, 48, 3), dtype=np.uint8)  # shorter side already 32: no resize
    ours = np.asarray(preprocess(jnp.asarray(frames), 32))
    expected = (frames[:, :, 8:40].astype(np.float32) / 255 - np.array(CLIP_MEAN)) / np.array(CLIP_STD)
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    # Resizing keeps a constant image constant, and shrinks the shorter side to the target.
    grey = np.full((1, 64, 96, 3), 128, np.uint8)
    out = np.asarray(preprocess(jnp.asarray(grey), 32))
    assert out.shape == (1, 32, 32, 3)
    np.testing.assert_allclose(out, np.broadcast_to((128 / 255 - np.array(CLIP_MEAN)) / np.array(CLIP_STD), out.shape), atol=1e-4)


def test_frames_to_reward_with_a_loaded_checkpoint():
    clip = load_clip(Path(__file__).parent / "data" / "clip_tiny_hf")
    model = CLIP(clip.config)
    goal = prompt_embeddings(model, clip.params, clip.tokenizer, ["pole vertically upright on top of the cart"])
    baseline = prompt_embeddings(model, clip.params, clip.tokenizer, ["pole and cart"])
    frames = jnp.asarray(np.random.default_rng(5).integers(0, 256, size=(2, 3, 40, 40, 3), dtype=np.uint8))  # [T, B, H, W, 3]

    @jax.jit
    def embed(params, frames):
        chunked = image_embeddings(model, params, frames, batch_size=3)  # lax.map over chunks of 3
        direct = model.apply({"params": params}, preprocess(frames[1], 32), method=model.encode_image)
        return chunked, direct

    embeds, direct = embed(clip.params, frames)
    assert embeds.shape == (2, 3, clip.config.embed_dim)
    np.testing.assert_allclose(embeds[1], direct, atol=1e-5)
    reward = goal_baseline_reward(embeds, goal, baseline, 0.5)
    np.testing.assert_allclose(reward, _paper_reward(np.asarray(embeds).reshape(6, -1), goal, baseline, 0.5).reshape(2, 3), atol=1e-5)


def test_vlm_reward_term_scores_pixels_and_names_what_it_needs():
    from jaxreward.rewards.base import FrameSpec, RewardSpec, TransitionBatch
    from jaxreward.rewards.vlm_reward import VLMConfig, VLMReward

    spec = RewardSpec(observation_size=4, action_size=2, discrete=True, num_envs=3, unroll_length=2)
    with pytest.raises(ValueError, match="needs a local CLIP checkpoint folder"):
        VLMReward(spec, VLMConfig())
    folder = str(Path(__file__).parent / "data" / "clip_tiny_hf")
    model = VLMReward(spec, VLMConfig(checkpoint=folder, alpha=0.25))
    assert model.frames == FrameSpec(32, 32, None)  # the checkpoint's resolution
    state = model.init(jax.random.PRNGKey(0))
    zeros = jnp.zeros((2, 3))
    pixels = jnp.asarray(np.random.default_rng(6).integers(0, 256, size=(2, 3, 32, 32, 3), dtype=np.uint8))
    batch = TransitionBatch(jnp.zeros((2, 3, 4)), zeros, jnp.zeros((2, 3, 4)), zeros, zeros, zeros, {}, pixels)

    @jax.jit
    def score(state, batch):  # one compiled program: eager dispatch of the tower is slow
        direct = model.model.apply({"params": state["params"]}, preprocess(batch.pixels.reshape(6, 32, 32, 3), 32), method=model.model.encode_image)
        return model.reward(state, batch)[0], direct

    reward, embeds = score(state, batch)
    np.testing.assert_allclose(reward.reshape(6), _paper_reward(np.asarray(embeds), model.goal, model.baseline, 0.25), atol=1e-5)
    with pytest.raises(ValueError, match="has none"):
        model.reward(state, batch.replace(pixels=None))


def test_alpha_sweep_is_one_group_of_a_shared_static_config():
    from jaxreward.sweeps import spec as sweep_spec

    sweep = sweep_spec.parse({
        "base": {"env": "cartpole", "reward": {"terms": "vlm", "vlm": {"checkpoint": "tests/data/clip_tiny_hf"}}},
        "seeds": 2,
        "grid": {"reward.vlm.alpha": [0.0, 0.5, 1.0]},
    })
    groups = sweep_spec.groups(sweep)
    assert len(groups) == 1 and len(groups[0].runs) == 6
    assert sorted({run.config.reward.vlm.alpha for run in groups[0].runs}) == [0.0, 0.5, 1.0]


def test_rollout_renders_next_states_for_pixel_rewards():
    import envs
    from jaxreward.rewards.base import FrameSpec
    from jaxreward.training.rollout import rollout

    env = envs.training_wrap(envs.make("cartpole"))
    start = env.reset(jax.random.split(jax.random.PRNGKey(0), 2))

    def policy(obs, key):
        action = jax.random.randint(key, obs.shape[:1], 0, 2)
        return action, {}

    @jax.jit
    def run(state, key):
        last, roll = rollout(env, policy, state, key, 3, FrameSpec(16, 24))
        return roll.transitions.pixels, env.render(last, None, 16, 24)

    pixels, expected = run(start, jax.random.PRNGKey(1))
    assert pixels.shape == (3, 2, 16, 24, 3) and pixels.dtype == jnp.uint8
    np.testing.assert_array_equal(pixels[-1], expected)  # the frame of each transition's next state
    assert float(jnp.std(pixels.astype(jnp.float32))) > 0  # a picture, not a blank


def test_episode_end_frames_show_the_final_state_not_the_next_start():
    """With the trainer's wrapper built for frames, the frame of an episode's last
    transition is rendered before the auto-reset (cartpole episodes of 6 steps here)."""
    import envs
    from jaxreward.rewards.base import FrameSpec
    from jaxreward.training.rollout import rollout

    spec = FrameSpec(32, 48)
    env = envs.training_wrap(envs.make("cartpole"), episode_length=6, frames=spec)
    start = env.reset(jax.random.split(jax.random.PRNGKey(0), 2))

    def policy(obs, key):
        action = jnp.ones(obs.shape[:1], jnp.int32)  # push right: the pole leans left
        return action, {}

    @jax.jit
    def run(state, key):
        last, roll = rollout(env, policy, state, key, 6, spec)
        return roll.transitions, last

    batch, last = run(start, jax.random.PRNGKey(1))
    assert np.asarray(batch.truncation[-1]).all() and not np.asarray(batch.done[:-1]).any()
    # Reference: the same two steps on the wrapped env without auto-reset.
    inner = env.env  # Vmap(TimeLimit(cartpole))
    strip = lambda s: s.replace(info={k: v for k, v in s.info.items() if k not in env.OWN_INFO})
    ended = strip(start)
    for _ in range(6):
        ended = inner.step(ended, jnp.ones(2, jnp.int32))
    np.testing.assert_array_equal(batch.pixels[-1], inner.render(ended, None, 32, 48))
    np.testing.assert_allclose(batch.next_obs[-1], ended.obs, rtol=1e-5, atol=1e-6)
    # ...and not the fresh start the returned state holds.
    assert not np.array_equal(batch.pixels[-1], inner.render(strip(last), None, 32, 48))
