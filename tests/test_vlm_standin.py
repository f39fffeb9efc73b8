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


def test_ppo_experiment_without_checkpoint_stops_with_instructions():
    from experiments import vlm_rm_ppo

    with pytest.raises(SystemExit) as stop:
        vlm_rm_ppo.main([])
    assert "experiments.vlm_rm_ppo" in str(stop.value) and "--standin" in str(stop.value)


def test_ppo_experiment_fraction_of_gold_uses_each_runs_final_window():
    """fraction_of_gold = mean over seeds of the final-window gold return (last 10% of log
    points) of the VLM-trained runs over that of the gold-trained runs."""
    from experiments.vlm_rm_ppo import summarize

    def curve(reward, alpha, seed, returns):
        return [{"reward": reward, "alpha": alpha, "seed": seed, "env_steps": 1000 * (i + 1), "gold_return": g,
                 "proxy_return": 2.0 * g, "success": 0.0} for i, g in enumerate(returns)]

    rows = (curve("gold", None, 0, [20.0] * 9 + [200.0]) + curve("gold", None, 1, [20.0] * 9 + [100.0])
            + curve("vlm", 0.5, 0, [30.0] * 9 + [60.0]) + curve("vlm", 0.5, 1, [30.0] * 9 + [90.0]))
    timing = {"compile_s": 1.0, "train_s": 2.0, "env_steps_per_s": 3.0}
    out = {s["reward"]: s for s in summarize(rows, {"gold": timing, "vlm": timing})}
    assert out["gold"]["final_gold_return"] == 150.0 and out["gold"]["fraction_of_gold"] == 1.0
    assert out["vlm"]["fraction_of_gold"] == pytest.approx(75.0 / 150.0)
    assert out["vlm"]["first_log_gold_return"] == 30.0 and out["vlm"]["final_proxy_return"] == 150.0
