"""Intrinsic rewards and PPO's two value heads: answers known in closed form or by NumPy.

- the intrinsic advantage bootstraps from the intrinsic head (the peer bug: from the
  extrinsic one), and ignores episode ends unless asked;
- RND: a state seen many times earns less than an unseen one; its observation and return
  statistics match NumPy on the same stream;
- E3B: Sherman–Morrison equals the explicit inverse; a repeated embedding earns less and
  less within an episode and the full bonus again after `done`;
- episodic count and kNN: the same within-episode decay and reset;
- the training step: two value heads only when an intrinsic term is present, the RND
  warm-up fills its statistics, and the CLI exposes every reward model's config.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxreward import rewards
from jaxreward.agents.gae import gae
from jaxreward.agents.ppo import PPO, PPOBatch, PPOConfig, PPOHyper
from jaxreward.rewards.base import RewardSpec, TransitionBatch
from jaxreward.rewards.e3b import E3BConfig, sherman_morrison
from jaxreward.rewards.episodic_count import CountConfig
from jaxreward.rewards.knn_episodic import KNNConfig
from jaxreward.rewards.rnd import RNDConfig

OBS = 4


def spec(num_envs=2, unroll=6, obs=OBS, action=2, discrete=False):
    return RewardSpec(observation_size=obs, action_size=action, discrete=discrete, num_envs=num_envs, unroll_length=unroll)


def transitions(next_obs, done=None, obs=None, action_size=2, metrics=None):
    """A TransitionBatch around next_obs [T, B, D] (zero actions, no gold reward)."""
    T, B = next_obs.shape[:2]
    done = jnp.zeros((T, B)) if done is None else done
    return TransitionBatch(
        obs=next_obs if obs is None else obs, action=jnp.zeros((T, B, action_size)), next_obs=next_obs,
        gold_reward=jnp.zeros((T, B)), done=done, truncation=jnp.zeros((T, B)), metrics=metrics or {},
    )


# ---- PPO with two value heads ----------------------------------------------------------


def _two_head_batch(ppo, params, key, T=7, B=3):
    k_obs, k_next, k_r, k_ri, k_done = jax.random.split(key, 5)
    obs = jax.random.normal(k_obs, (T, B, OBS))
    next_obs = jax.random.normal(k_next, (T, B, OBS))
    done = (jax.random.uniform(k_done, (T, B)) < 0.3).astype(jnp.float32)
    return PPOBatch(
        obs=obs, next_obs=next_obs, raw_action=jnp.zeros((T, B, 2)), log_prob=jnp.zeros((T, B)),
        value=ppo.value(params, obs), reward=jax.random.normal(k_r, (T, B)),
        termination=done, done=done,
        reward_int=jax.random.uniform(k_ri, (T, B)), value_int=ppo.value_int(params, obs),
        bootstrap_obs=jax.random.normal(jax.random.fold_in(key, 7), (B, OBS)),
    )


def test_intrinsic_advantage_bootstraps_from_the_intrinsic_head():
    cfg = PPOConfig(policy_hidden=(8,), value_hidden=(8,), int_gamma=0.9, gamma=0.97, gae_lambda=0.8)
    ppo = PPO(cfg, OBS, 2, discrete=False, intrinsic=True)
    state = ppo.init(jax.random.PRNGKey(0))
    params = state.params
    # Make the heads (the two outputs of the value net's last layer) disagree wildly, so
    # bootstrapping from the wrong one cannot pass.
    layers = params["value"]["params"]["MLP_0"]
    last = max(layers, key=lambda name: int(name.split("_")[-1]))
    layers[last] = {"kernel": layers[last]["kernel"].at[:, 0].multiply(50.0), "bias": layers[last]["bias"].at[0].add(5.0)}
    batch = _two_head_batch(ppo, params, jax.random.PRNGKey(1))
    only_int = state.hyper.replace(ext_coef=jnp.float32(0.0), int_coef=jnp.float32(1.0))
    adv, (ret_ext, ret_int) = ppo.advantages(params, only_int, batch)

    zeros = jnp.zeros_like(batch.done)  # non-episodic: no termination, no trace cut
    v_int, v_int_next = ppo.value_int(params, batch.obs), ppo.value_int(params, batch.next_obs)
    # ... and at an episode end the trace goes on from the reset observation that follows
    # (obs[t + 1], or the rollout's bootstrap observation after the last step).
    following = jnp.concatenate([batch.obs[1:], batch.bootstrap_obs[None]])
    v_int_cont = jnp.where(batch.done > 0, ppo.value_int(params, following), v_int_next)
    want_adv, want_ret = gae(batch.reward_int, v_int, v_int_cont, zeros, zeros, 0.9, 0.8)
    np.testing.assert_allclose(adv, want_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ret_int, want_ret, rtol=1e-5, atol=1e-5)
    assert float(batch.done[-1].max()) == 1.0  # the bootstrap observation is exercised
    # The final observation of an episode (a terminal state the head never trains on) does
    # not reach the non-episodic intrinsic stream.
    moved = batch.replace(next_obs=jnp.where(batch.done[..., None] > 0, 100.0, batch.next_obs))
    np.testing.assert_allclose(ppo.advantages(params, only_int, moved)[0], adv, rtol=1e-6)
    # The peer bug: the same GAE with the extrinsic head's values gives something else.
    wrong, _ = gae(batch.reward_int, batch.value, ppo.value(params, batch.next_obs), zeros, zeros, 0.9, 0.8)
    assert np.max(np.abs(np.asarray(adv - wrong))) > 1.0

    # Extrinsic stream: its own head, discount and episode cuts; coefficients mix the two.
    want_ext, want_ret_ext = gae(batch.reward, batch.value, ppo.value(params, batch.next_obs), batch.done, batch.done, 0.97, 0.8)
    np.testing.assert_allclose(ret_ext, want_ret_ext, rtol=1e-5, atol=1e-4)
    mixed, _ = ppo.advantages(params, state.hyper, batch)  # defaults: 2 A_ext + 1 A_int
    np.testing.assert_allclose(mixed, 2.0 * want_ext + want_adv, rtol=1e-5, atol=1e-3)

    # An episodic intrinsic stream cuts at done, which changes the advantages.
    episodic = PPO(cfg.__class__(**{**cfg.__dict__, "int_episodic": True}), OBS, 2, False, intrinsic=True)
    adv_ep, _ = episodic.advantages(params, only_int, batch)
    want_ep, _ = gae(batch.reward_int, v_int, v_int_next, batch.done, batch.done, 0.9, 0.8)
    np.testing.assert_allclose(adv_ep, want_ep, rtol=1e-5, atol=1e-5)
    assert not np.allclose(adv_ep, adv)


def test_two_head_learning_fits_the_intrinsic_head_to_intrinsic_returns():
    """With only an intrinsic reward of 1 per step, the intrinsic head climbs towards
    1/(1 − γ_int) while the extrinsic head stays near its target of 0."""
    cfg = PPOConfig(policy_hidden=(8,), value_hidden=(16,), int_gamma=0.5, learning_rate=3e-3, update_epochs=8)
    ppo = PPO(cfg, OBS, 2, discrete=False, intrinsic=True)
    state = ppo.init(jax.random.PRNGKey(0))
    learn = jax.jit(ppo.learn)
    obs = jax.random.normal(jax.random.PRNGKey(3), (8, 4, OBS))
    for i in range(60):
        batch = PPOBatch(
            obs=obs, next_obs=obs, raw_action=jnp.zeros((8, 4, 2)), log_prob=jnp.zeros((8, 4)) - 2.0,
            value=ppo.value(state.params, obs), reward=jnp.zeros((8, 4)), termination=jnp.zeros((8, 4)),
            done=jnp.zeros((8, 4)), reward_int=jnp.ones((8, 4)), value_int=ppo.value_int(state.params, obs),
        )
        state, metrics = learn(state, batch, jax.random.PRNGKey(i))
    v_int = float(jnp.mean(ppo.value_int(state.params, obs)))
    v_ext = float(jnp.mean(ppo.value(state.params, obs)))
    assert 1.6 < v_int < 2.3, v_int  # 1 / (1 - 0.5) = 2
    assert abs(v_ext) < 0.3, v_ext
    assert "loss/value_int" in metrics


# ---- RND -------------------------------------------------------------------------------


def test_rnd_bonus_of_a_familiar_state_falls_below_an_unseen_one():
    s = spec(num_envs=8, unroll=16)
    model = rewards.make("rnd", s, rewards.RewardConfig(rnd=RNDConfig(learning_rate=1e-3, update_proportion=1.0)))
    state = model.init(jax.random.PRNGKey(0))
    state = model.observe(state, transitions(jax.random.normal(jax.random.PRNGKey(1), (16, 8, OBS))))
    familiar = jnp.array([0.5, -0.5, 0.5, -0.5])
    unseen = jnp.array([-2.0, 2.0, 1.5, 2.0])
    update = jax.jit(lambda s, b, k: model.update(s, b, model.score(s, b), k))
    for i in range(150):
        noise = 0.05 * jax.random.normal(jax.random.PRNGKey(100 + i), (16, 8, OBS))
        state, _ = update(state, transitions(familiar + noise), jax.random.PRNGKey(i))
    probe = jnp.stack([familiar, unseen])[None].repeat(16, 0)  # env 0 familiar, env 1 unseen
    model2 = rewards.make("rnd", spec(num_envs=2, unroll=16))
    bonus, info = model2.reward(state.replace(return_filter=jnp.zeros(2)), transitions(probe))
    assert float(info["error"][:, 0].mean()) < 0.1 * float(info["error"][:, 1].mean())
    assert float(bonus[:, 0].mean()) < float(bonus[:, 1].mean())


def test_rnd_statistics_match_numpy_on_the_same_stream():
    s = spec(num_envs=3, unroll=5)
    cfg = RNDConfig(return_gamma=0.9)
    model = rewards.make("rnd", s, rewards.RewardConfig(rnd=cfg))
    state = model.init(jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    warm = rng.normal(2.0, 3.0, (4, 3, OBS)).astype(np.float32)
    state = model.observe(state, transitions(jnp.asarray(warm)))
    seen, returns_np, filt = [warm], [], np.zeros(3)
    error_fn, reward_fn, update_fn = jax.jit(lambda st, x: model.error(st, st.predictor, x)), jax.jit(model.reward), jax.jit(
        lambda s, b, k: model.update(s, b, model.score(s, b), k))
    for i in range(6):
        obs = rng.normal(-1.0, 0.5, (5, 3, OBS)).astype(np.float32)
        batch = transitions(jnp.asarray(obs))
        error = np.asarray(error_fn(state, batch.next_obs))  # scored before the update
        for t in range(5):
            filt = 0.9 * filt + error[t]
            returns_np.append(filt.copy())
        bonus, _ = reward_fn(state, batch)
        # This batch's bonus is divided by the std of every discounted return so far, this batch's included.
        np.testing.assert_allclose(bonus, error / np.std(np.concatenate(returns_np)), rtol=2e-3)
        state, _ = update_fn(state, batch, jax.random.PRNGKey(i))
        seen.append(obs)
    allobs = np.concatenate([x.reshape(-1, OBS) for x in seen])
    np.testing.assert_allclose(state.obs_stats.mean, allobs.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(state.obs_stats.var, allobs.var(0), rtol=1e-3)
    np.testing.assert_allclose(state.return_filter, filt, rtol=1e-4)
    np.testing.assert_allclose(np.sqrt(state.return_stats.var[0]), np.std(np.concatenate(returns_np)), rtol=1e-3)
    # Observations enter the networks normalised and clipped to [-5, 5].
    far = jnp.full((1, OBS), 1e3)
    assert float(jnp.max(state.obs_stats(far, clip=cfg.obs_clip))) == 5.0


# ---- E3B -------------------------------------------------------------------------------


def test_sherman_morrison_matches_the_explicit_inverse():
    d, lam = 8, 0.1
    phis = jax.random.normal(jax.random.PRNGKey(0), (30, d))
    cov_inv, cov = jnp.eye(d) / lam, lam * jnp.eye(d)
    for phi in phis:
        bonus, cov_inv = sherman_morrison(cov_inv, phi)
        np.testing.assert_allclose(bonus, phi @ jnp.linalg.inv(cov) @ phi, rtol=1e-3)
        cov = cov + jnp.outer(phi, phi)
    np.testing.assert_allclose(cov_inv, jnp.linalg.inv(cov), rtol=1e-3, atol=1e-5)


def test_e3b_repeated_embedding_decays_within_an_episode_and_resets_after_done():
    cfg = E3BConfig(embedding_size=8, num_minibatches=1)
    model = rewards.make("e3b", spec(), rewards.RewardConfig(e3b=cfg))
    state = model.init(jax.random.PRNGKey(0))
    x = jax.random.normal(jax.random.PRNGKey(1), (2, OBS))
    next_obs = jnp.broadcast_to(x, (6, 2, OBS))  # each env sees one observation again and again
    done = jnp.zeros((6, 2)).at[2, 0].set(1.0)  # env 0's episode ends at step 2
    bonus, _ = model.reward(state, transitions(next_obs, done))
    b0, b1 = np.asarray(bonus[:, 0]), np.asarray(bonus[:, 1])
    assert np.all(np.diff(b1) < 0)
    assert b0[0] > b0[1] > b0[2]
    np.testing.assert_allclose(b0[3], b0[0], rtol=1e-5)  # fresh episode, full bonus again
    assert b0[4] < b0[3]

    # The memory carries over to the next rollout of the same episode (env 1), and the
    # stored inverse equals the explicit inverse of λI + Σ φφᵀ over the episode so far.
    phi = model.embedding.embed(state.embedding.params, state.embedding.normalizer, x)
    b = transitions(next_obs, done)
    new_state, _ = model.update(state, b, model.score(state, b), jax.random.PRNGKey(2))
    np.testing.assert_allclose(new_state.cov_inv[1], jnp.linalg.inv(cfg.ridge * jnp.eye(8) + 6 * jnp.outer(phi[1], phi[1])), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(new_state.cov_inv[0], jnp.linalg.inv(cfg.ridge * jnp.eye(8) + 3 * jnp.outer(phi[0], phi[0])), rtol=1e-3, atol=1e-4)
    later, _ = model.reward(new_state, transitions(next_obs[:1]))
    fresh, _ = model.reward(new_state.replace(cov_inv=state.cov_inv), transitions(next_obs[:1]))
    assert float(later[0, 1]) < float(fresh[0, 1])


# ---- episodic count, kNN, combinations -------------------------------------------------


def test_episodic_count_is_one_over_sqrt_visits_and_resets():
    model = rewards.make("count", spec(), rewards.RewardConfig(count=CountConfig(source="cell")))
    state = model.init(jax.random.PRNGKey(0))
    cells = jnp.array([[3, 3], [3, 4], [3, 3], [3, 4], [3, 3], [3, 3]], jnp.float32)
    done = jnp.zeros((6, 2)).at[2, 0].set(1.0)
    batch = transitions(jnp.zeros((6, 2, OBS)), done, metrics={"cell": cells})
    bonus, _ = model.reward(state, batch)
    np.testing.assert_allclose(bonus[:, 0], 1 / np.sqrt([1, 2, 3, 1, 2, 3]), rtol=1e-6)
    np.testing.assert_allclose(bonus[:, 1], 1 / np.sqrt([1, 1, 2, 2, 3, 4]), rtol=1e-6)

    # Grid cells: the same cell shares a count, cells apart (on either side of the mean) do not.
    grid = rewards.make("count", spec(num_envs=1, unroll=4), rewards.RewardConfig(count=CountConfig(table_size=4096)))
    obs = jnp.array([[-0.9, 0.1, 0, 0], [-3.0, 0.1, 0, 0], [-0.6, 0.05, 0, 0], [2.0, 0.1, 0, 0]])[:, None]
    keys = np.asarray(grid.keys(grid.init(jax.random.PRNGKey(0)), transitions(obs)))[:, 0]
    assert keys[0] == keys[2] and len({keys[0], keys[1], keys[3]}) == 3


def test_knn_bonus_lower_for_a_revisited_embedding_and_resets():
    model = rewards.make("knn", spec(), rewards.RewardConfig(knn=KNNConfig(capacity=16, num_neighbors=4, num_minibatches=1)))
    state = model.init(jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    novel = jnp.asarray(rng.normal(size=(6, 1, OBS)) * 3, jnp.float32)
    repeat = jnp.broadcast_to(novel[:1], (6, 1, OBS))
    done = jnp.zeros((6, 2)).at[3, 1].set(1.0)
    bonus, _ = model.reward(state, transitions(jnp.concatenate([novel, repeat], axis=1), done))
    b_novel, b_repeat = np.asarray(bonus[:, 0]), np.asarray(bonus[:, 1])
    assert np.all(b_repeat[1:3] < b_novel[1:3])
    assert np.all(np.diff(b_repeat[:4]) < 0)
    np.testing.assert_allclose(b_repeat[4], b_repeat[0], rtol=1e-5)  # emptied memory after done
    assert np.all((bonus >= 0) & (bonus <= 1.0))


@pytest.mark.parametrize("name, combine", [("global_x_episodic", np.multiply), ("global_plus_episodic", np.add)])
def test_global_episodic_combines_its_halves(name, combine):
    cfg = rewards.RewardConfig(global_episodic=rewards.registry.GlobalEpisodicConfig(episodic="count"))
    model = rewards.make(name, spec(), cfg)
    state = model.init(jax.random.PRNGKey(0))
    batch = transitions(jax.random.normal(jax.random.PRNGKey(1), (6, 2, OBS)))
    bonus, info = model.reward(state, batch)
    g, _ = model.global_model.reward(state.global_state, batch)
    e, _ = model.episodic_model.reward(state.episodic_state, batch)
    np.testing.assert_allclose(bonus, combine(np.asarray(g), np.asarray(e)), rtol=1e-6)
    assert model.intrinsic and model.warmup_steps == RNDConfig().warmup_steps


def test_composite_splits_extrinsic_and_intrinsic_streams():
    model = rewards.make_composite(spec(), rewards.RewardConfig(terms="gold:0.5,count:2"))
    state = model.init(jax.random.PRNGKey(0))
    batch = transitions(jax.random.normal(jax.random.PRNGKey(1), (6, 2, OBS))).replace(gold_reward=jnp.ones((6, 2)))
    ext, intr, info = model.split_reward(state, batch)
    np.testing.assert_allclose(ext, 0.5)
    np.testing.assert_allclose(intr, 2.0 * info["term/count"])
    total, _ = model.reward(state, batch)
    np.testing.assert_allclose(total, ext + intr)
    assert model.intrinsic and not rewards.make_composite(spec(), rewards.RewardConfig(terms="gold,regression")).intrinsic
    assert model.two_streams


def test_stream_option_routes_a_term_to_the_other_stream():
    batch = transitions(jax.random.normal(jax.random.PRNGKey(1), (6, 2, OBS))).replace(gold_reward=jnp.ones((6, 2)))
    model = rewards.make_composite(spec(), rewards.RewardConfig(terms="gold:0.5,count:2:stream=ext"))
    ext, intr, info = model.split_reward(model.init(jax.random.PRNGKey(0)), batch)
    np.testing.assert_allclose(ext, 0.5 + 2.0 * info["term/count"])
    np.testing.assert_allclose(intr, 0.0)
    # The count still keeps episodic memories (on-policy only), but one value head suffices.
    assert model.intrinsic and not model.two_streams
    model = rewards.make_composite(spec(), rewards.RewardConfig(terms="gold:0.5:stream=int"))
    ext, intr, _ = model.split_reward(model.init(jax.random.PRNGKey(0)), batch)
    np.testing.assert_allclose(ext, 0.0)
    np.testing.assert_allclose(intr, 0.5)
    assert model.two_streams and not model.intrinsic
    with pytest.raises(ValueError, match="stream must be one of auto, ext, int"):
        rewards.make_composite(spec(), rewards.RewardConfig(terms="gold:stream=both"))


# ---- the training step and the CLI ----------------------------------------------------


def test_trainer_two_heads_only_with_an_intrinsic_term_and_rnd_warm_up():
    from jaxreward.training import presets
    from jaxreward.training.trainer import Trainer

    tiny = dict(num_envs=4, ppo=dict(unroll_length=8, num_minibatches=2, update_epochs=1, policy_hidden=(8,), value_hidden=(8,)))
    plain = Trainer(presets.config_for("deep_sea", **tiny))
    assert not plain.two_heads and plain.learner.agent.value_net.num_outputs == 1
    cfg = presets.config_for("deep_sea", **tiny, reward={"terms": "gold,rnd", "rnd": {"warmup_steps": 3}})
    trainer = Trainer(cfg)
    assert trainer.two_heads
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    assert trainer.learner.agent.value_net.num_outputs == 2
    assert trainer.learner.agent.values(state.learner.params, jnp.zeros((3, trainer.env.observation_size))).shape == (3, 2)
    rnd_state = state.reward.terms[1]
    assert float(rnd_state.obs_stats.count) == 3 * 4  # warm-up steps x envs
    assert float(jnp.sum(rnd_state.obs_stats.mean)) > 0  # deep sea one-hot cells were seen
    with pytest.raises(ValueError, match="reward term 'rnd' is intrinsic.*learner 'sac' cannot optimise it"):
        Trainer(presets.config_for("pendulum", learner="sac", reward={"terms": "gold,rnd"}))
    routed = Trainer(presets.config_for("deep_sea", **tiny, reward={"terms": "gold,count:0.1:stream=ext"}))
    assert not routed.two_heads and routed.learner.agent.value_net.num_outputs == 1


def test_cli_has_options_for_every_reward_model_config(capsys):
    import dataclasses

    from jaxreward import cli

    sections = cli.reward_sections()
    assert {"regression", "rnd", "icm", "e3b", "count", "knn", "global_episodic", "coverage"} <= set(sections)
    text = cli.build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for name, section in sections.items():
        for f in dataclasses.fields(section):
            assert f"--{name}.{f.name}" in text
    args = cli.build_parser().parse_args(
        ["train", "--env", "deep_sea", "--reward", "gold,rnd", "--rnd.update_proportion", "0.5", "--e3b.ridge", "0.2",
         "--ppo.int_coef", "0.5"]
    )
    cfg = cli.config_from_args(args)
    assert cfg.reward.rnd.update_proportion == 0.5 and cfg.reward.e3b.ridge == 0.2 and cfg.ppo.int_coef == 0.5
    from jaxreward.training.config import TrainConfig

    assert TrainConfig.from_dict(cfg.to_dict()) == cfg  # every section survives config.json


# ---- the experiment scripts at smoke scale ---------------------------------------------


def _check_outputs(out, png, variants):
    import csv

    rows = list(csv.DictReader(open(out / "curves.csv")))
    assert {r["variant"] for r in rows} == set(variants)
    for variant in variants:
        for seed in {r["seed"] for r in rows}:
            cov = [float(r["coverage"]) for r in rows if r["variant"] == variant and r["seed"] == seed]
            assert len(cov) > 1 and cov[0] > 0 and all(b >= a for a, b in zip(cov, cov[1:]))  # cumulative
            assert all(0.0 <= c <= 1.0 for c in cov)
    assert all(r["success"] == "nan" or 0.0 <= float(r["success"]) <= 1.0 for r in rows)
    assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "final.csv").exists()
    return (out / "command.txt").read_text()


def test_exploration_sparse_smoke_writes_csv_png_and_command(tmp_path):
    from experiments import exploration_sparse

    argv = ["--scale", "smoke", "--envs", "deep_sea_8", "--methods", "PPO,PPO+count", "--out", str(tmp_path)]
    assert exploration_sparse.main(argv) == 0
    command = _check_outputs(tmp_path, "exploration_sparse.png", ["PPO", "PPO+count"])
    assert command.startswith("python -m experiments.exploration_sparse --scale smoke")


def test_global_vs_episodic_smoke_writes_csv_png_and_command(tmp_path):
    from experiments import global_vs_episodic

    argv = ["--scale", "smoke", "--contexts", "0", "--methods", "PPO+RND,PPO+E3B", "--weights", "0.01,0.1",
            "--observe-visited", "--out", str(tmp_path)]
    assert global_vs_episodic.main(argv) == 0
    variants = ["PPO+RND (global)", "PPO+E3B (episodic) w=0.01", "PPO+E3B (episodic) w=0.1"]
    command = _check_outputs(tmp_path, "global_vs_episodic.png", variants)
    assert "--contexts 0" in command and "--observe-visited" in command
    assert (tmp_path / "global_vs_episodic_curves.png").exists()
    assert (tmp_path / "global_vs_episodic_weights.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
