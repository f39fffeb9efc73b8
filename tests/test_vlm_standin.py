"""The STAND-IN vision-language model (jaxreward/rewards/vlm_standin.py; not CLIP, not
zero-shot) through the whole VLM-RM pipeline: checkpoint folder -> tokenizer -> prompt
embeddings -> frames rendered by the env -> image tower -> goal-baseline reward.

States are drawn with a seed the training never used, and rendered here."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxreward.rewards.encoders import CLIP, load_clip
from jaxreward.rewards.vlm_reward import epic_distance, goal_baseline_reward, image_embeddings, prompt_embeddings
from jaxreward.rewards.vlm_standin import BASELINE_PROMPT, GOAL_PROMPT, render_states

FOLDER = Path(__file__).parent / "data" / "vlm_standin_cartpole"
PER_CLASS = 24


@pytest.fixture(scope="module")
def rewards():
    clip = load_clip(FOLDER)
    model = CLIP(clip.config)
    goal = prompt_embeddings(model, clip.params, clip.tokenizer, [GOAL_PROMPT])
    baseline = prompt_embeddings(model, clip.params, clip.tokenizer, [BASELINE_PROMPT])
    rng = np.random.default_rng(12345)
    q = np.zeros((2 * PER_CLASS, 4), np.float32)
    q[:, 0] = rng.uniform(-2.0, 2.0, 2 * PER_CLASS)
    q[:PER_CLASS, 2] = rng.uniform(-0.1, 0.1, PER_CLASS)  # upright
    q[PER_CLASS:, 2] = rng.choice([-1, 1], PER_CLASS) * rng.uniform(1.0, np.pi, PER_CLASS)  # fallen or hanging
    frames = render_states(q, chunk=2 * PER_CLASS)
    alphas = jnp.asarray([0.0, 0.5, 1.0])

    @jax.jit
    def score(params, frames, alphas):
        embeds = image_embeddings(model, params, frames)
        return jax.vmap(goal_baseline_reward, in_axes=(None, None, None, 0))(embeds, goal, baseline, alphas)

    labels = np.r_[np.ones(PER_CLASS), np.zeros(PER_CLASS)].astype(np.float32)
    return np.asarray(score(clip.params, jnp.asarray(frames), alphas)), labels


def test_checkpoint_is_labelled_a_stand_in():
    assert "STAND-IN MODEL - NOT CLIP, NOT ZERO-SHOT" in (FOLDER / "STANDIN.txt").read_text()


@pytest.mark.parametrize("alpha_index", [0, 1, 2])
def test_upright_poles_score_higher_than_fallen_ones(rewards, alpha_index):
    reward, labels = rewards
    r = reward[alpha_index]
    upright, fallen = r[labels == 1], r[labels == 0]
    # Fraction of (upright, fallen) pairs ranked the right way (the AUC).
    auc = np.mean(upright[:, None] > fallen[None, :])
    assert auc >= 0.9, (auc, upright.mean(), fallen.mean())
    assert float(epic_distance(jnp.asarray(r), jnp.asarray(labels))) < 0.5


def test_experiment_without_checkpoint_stops_with_instructions():
    from experiments import vlm_rm

    with pytest.raises(SystemExit) as stop:
        vlm_rm.main([])
    message = str(stop.value)
    assert "--clip-checkpoint FOLDER" in message and "--standin" in message and "openai/clip-vit-base-patch32" in message
