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
    # Every upright pole scores above every fallen one (the AUC, the fraction of (upright,
    # fallen) pairs ranked the right way, is 1 at every α; the narrowest margin, at α = 0, is
    # 0.004 of a 0.93 reward range). Measured EPIC distance to the labels: 0.178, 0.179, 0.182
    # for α = 0, 0.5, 1.
    auc = np.mean(upright[:, None] > fallen[None, :])
    assert auc == 1.0, (auc, upright.min(), fallen.max())
    assert float(epic_distance(jnp.asarray(r), jnp.asarray(labels))) < 0.25


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


DATA = Path(__file__).parent / "data"


def test_experiment_task_and_encoder_sweep_write_one_line_per_encoder(tmp_path):
    """MountainCar with the paper's prompts, two (random-weight, test-only) checkpoints of both
    layouts: one EPIC-vs-α curve each, in [0, 1]."""
    import csv

    from experiments import vlm_rm

    rows = vlm_rm.main(["--task", "mountain_car", "--states", "48", "--clip-checkpoint", str(DATA / "clip_tiny_hf"),
                        "--clip-checkpoint", str(DATA / "clip_tiny_openclip"), "--out", str(tmp_path)])
    assert len(rows) == 2 * 11 and len({r["encoder"] for r in rows}) == 2
    assert all(0.0 <= r["epic_distance"] <= 1.0 for r in rows)
    text = (tmp_path / "epic_vs_alpha.csv").read_text()
    assert "a car at the peak of the mountain, next to the yellow flag" in text.splitlines()[0]
    table = list(csv.DictReader(text.splitlines()[1:]))
    assert len(table) == 22 and {t["task"] for t in table} == {"mountain_car"}
    assert (tmp_path / "epic_vs_alpha.png").stat().st_size > 0 and (tmp_path / "command.txt").exists()


def test_experiment_refuses_the_standin_off_cartpole():
    from experiments import vlm_rm

    with pytest.raises(SystemExit):
        vlm_rm.main(["--standin", "--task", "mountain_car"])


@pytest.mark.parametrize("pose", ["kneeling", "arms_raised"])
def test_humanoid_poses_stand_on_the_floor_with_both_labels(pose):
    """The humanoid tasks' states: both classes drawn, every pose lowered until its lowest
    leg point is 0.02 m above the floor, labels equal to the predicate on the returned pose."""
    import mujoco

    import envs
    from experiments import vlm_rm

    qpos, labels = vlm_rm.humanoid_states(40, 0, pose)
    assert 5 <= labels.sum() <= 35, labels.sum()
    model = envs.make("humanoid").unwrapped.mj_model
    data = mujoco.MjData(model)
    legs = [g for g in range(model.ngeom) if model.geom_bodyid[g] > 1 and model.geom_type[g] != mujoco.mjtGeom.mjGEOM_PLANE]
    body = lambda name: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
    geom = lambda name: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)
    for q, label in zip(qpos, labels):
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        assert abs(min(data.geom_xpos[g][2] - model.geom_rbound[g] for g in legs) - 0.02) < 1e-4
        if pose == "kneeling":
            knees = max(data.xpos[body("right_shin")][2], data.xpos[body("left_shin")][2])
            expected = knees < vlm_rm.KNEE_HEIGHT and data.xpos[body("torso")][2] > vlm_rm.TORSO_HEIGHT
        else:
            head = data.geom_xpos[geom("head")][2]
            hands = min(data.geom_xpos[geom("right_hand")][2], data.geom_xpos[geom("left_hand")][2])
            expected = hands > head > vlm_rm.STANDING_HEAD
        assert label == float(expected)
