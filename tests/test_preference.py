"""Preference-based rewards: the Bradley–Terry loss against NumPy, each teacher against its
definition on hand-built segments, buffers and schedules, recovery of a known reward's
ranking, the labels file and PEBBLE relabelling. PPO on a learned pendulum reward (>= 80%
of gold) is in tests/test_learning.py, beside the gold run it is compared with."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import spearmanr

from jaxreward import rewards
from jaxreward.rewards.base import RewardSpec, TransitionBatch
from jaxreward.rewards.preference import PreferenceConfig, PreferenceReward, queries, teachers
from jaxreward.rewards.preference.labels_file import LabelsFileError, load_pairs, save_segments
from jaxreward.rewards.preference.model import aggregate, bradley_terry_loss
from jaxreward.rewards.preference.segments import PairBuffer, SegmentWindow

KEY = jax.random.PRNGKey(0)


# ---- Bradley–Terry ----------------------------------------------------------------------
def _bt_numpy(ra, rb, y):
    p = 1.0 / (1.0 + np.exp(-(ra - rb)))
    return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))


def test_bradley_terry_loss_and_gradient_match_numpy_with_ties():
    rng = np.random.default_rng(0)
    ra, rb = rng.normal(size=8) * 3, rng.normal(size=8) * 3
    y = np.array([1, 0, 0.5, 1, 0.5, 0, 1, 0.5])
    loss = bradley_terry_loss(jnp.asarray(ra), jnp.asarray(rb), jnp.asarray(y))
    np.testing.assert_allclose(float(loss), _bt_numpy(ra, rb, y), rtol=1e-5)
    # d/dra of the mean CE is (σ(ra − rb) − y) / N; a tie pulls the two returns together.
    grad_a = jax.grad(lambda a: bradley_terry_loss(a, jnp.asarray(rb), jnp.asarray(y)))(jnp.asarray(ra))
    expected = (1.0 / (1.0 + np.exp(-(ra - rb))) - y) / len(y)
    np.testing.assert_allclose(np.asarray(grad_a), expected, rtol=1e-5, atol=1e-7)
    tie = np.asarray(jax.grad(lambda a: bradley_terry_loss(a, jnp.zeros(1), jnp.full(1, 0.5)))(jnp.array([2.0])))
    assert tie[0] > 0  # a tied pair with ra > rb pushes ra down
    # Huge gaps stay finite (softplus form).
    assert np.isfinite(float(bradley_terry_loss(jnp.array([1e4]), jnp.array([-1e4]), jnp.array([0.0]))))


def test_aggregations():
    members = jnp.array([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]])
    np.testing.assert_allclose(aggregate(members, "mean"), [3.0, 2.0])
    np.testing.assert_allclose(aggregate(members, "min"), [1.0, 2.0])
    np.testing.assert_allclose(aggregate(members, "mean_minus_std", 2.0), [3.0 - 2 * np.std([1, 3, 5]), 2.0], rtol=1e-6)


# ---- teachers on hand-built segments ------------------------------------------------------
# Pair i: segment a has return RA[i], b has RB[i]; H = 4 steps, reward spread evenly.
RA = np.array([4.0, 1.0, 10.0, 2.0, 6.0])
RB = np.array([2.0, 3.0, 9.9, 2.5, 0.5])
UA, UB = jnp.asarray(np.repeat(RA[:, None] / 4, 4, 1)), jnp.asarray(np.repeat(RB[:, None] / 4, 4, 1))
ORACLE_Y = (RA > RB).astype(float)


def _label(name_or_params, mean_return=4.0, ua=UA, ub=UB, key=KEY):
    params = teachers.preset(name_or_params) if isinstance(name_or_params, str) else name_or_params
    y, keep = teachers.label(params, key, ua, ub, jnp.asarray(mean_return))
    return np.asarray(y), np.asarray(keep)


def test_oracle_prefers_the_higher_return():
    y, keep = _label("oracle")
    np.testing.assert_array_equal(y, ORACLE_Y)
    assert keep.all()


def test_mistake_at_one_flips_every_label_and_at_point_one_about_ten_percent():
    y, _ = _label(teachers.TeacherParams.create(eps_mistake=1.0))
    np.testing.assert_array_equal(y, 1 - ORACLE_Y)
    ua, ub = jnp.ones((20_000, 4)), jnp.zeros((20_000, 4))
    y, _ = _label("mistake", ua=ua, ub=ub)
    assert abs((y == 0).mean() - 0.1) < 0.01


def test_skip_drops_exactly_the_pairs_below_threshold():
    # threshold = ε_skip · R̄ = 0.5 · 8 = 4: skip where max(RA, RB) <= 4 -> pairs 0 (4 vs 2), 1, 3.
    y, keep = _label(teachers.TeacherParams.create(eps_skip=0.5), mean_return=8.0)
    np.testing.assert_array_equal(keep, [False, False, True, False, True])
    np.testing.assert_array_equal(y, ORACLE_Y)  # kept pairs are labelled as the oracle would
    # B-Pref only skips with a positive threshold: a negative average return disables it.
    _, keep = _label(teachers.TeacherParams.create(eps_skip=0.5), mean_return=-8.0)
    assert keep.all()


def test_equal_marks_ties_within_the_margin():
    # margin = 0.1 · |R̄| = 0.6: |ΔR| = 2, 2, 0.1, 0.5, 5.5 -> pairs 2 and 3 are ties.
    y, keep = _label("equal", mean_return=-6.0)
    np.testing.assert_array_equal(y, [1.0, 0.0, 0.5, 0.5, 1.0])
    assert keep.all()


def test_myopic_weights_late_steps_more():
    np.testing.assert_allclose(teachers.myopic_weights(jnp.asarray(0.9), 3), [0.81, 0.9, 1.0], rtol=1e-6)
    # Same total return; a earns it early, b late. Oracle: an exact tie -> 0.5; myopic prefers b.
    ua = jnp.array([[3.0, 0.0, 0.0, 0.0]])
    ub = jnp.array([[0.0, 0.0, 0.0, 3.0]])
    assert _label("oracle", ua=ua, ub=ub)[0][0] == 0.5
    assert _label("myopic", ua=ua, ub=ub)[0][0] == 0.0
    assert _label("myopic", ua=ub, ub=ua)[0][0] == 1.0


def test_boltzmann_prefers_with_the_logistic_probability():
    # ΔR = 1 with β = 1: P(a ≻ b) = σ(1) = 0.731.
    ua, ub = jnp.ones((20_000, 4)) * 0.25, jnp.zeros((20_000, 4))
    y, _ = _label("noisy", ua=ua, ub=ub)
    assert abs(y.mean() - 1 / (1 + np.exp(-1))) < 0.01


def test_regret_teacher_uses_advantages_not_partial_return():
    # a collects more reward but takes a suboptimal action (A* = −2); b is optimal throughout.
    adv_a, adv_b = jnp.array([[0.0, -2.0, 0.0]]), jnp.zeros((1, 3))
    y, _ = teachers.regret_label(teachers.preset("oracle"), KEY, adv_a, adv_b)
    assert y[0] == 0.0


def test_mixture_of_users_answers_with_the_drawn_user():
    n = 4000
    ua = jnp.stack([jnp.ones((n, 2)), jnp.zeros((n, 2))])  # user 0 likes a
    ub = jnp.stack([jnp.zeros((n, 2)), jnp.ones((n, 2))])  # user 1 likes b
    params = teachers.stack([teachers.preset("oracle")] * 2)
    y, keep, user = teachers.mixture_label(params, jnp.array([0.25, 0.75]), KEY, ua, ub, jnp.zeros(2))
    y, user = np.asarray(y), np.asarray(user)
    np.testing.assert_array_equal(y, (user == 0).astype(float))
    assert abs((user == 1).mean() - 0.75) < 0.03


def test_teacher_sweep_is_one_vmap():
    """One vmapped call over the stacked presets gives each teacher's own labels and skips."""
    names = list(teachers.PRESETS)
    stacked = teachers.stack([teachers.preset(n) for n in names])
    ys, keeps = jax.vmap(lambda p: teachers.label(p, KEY, UA, UB, jnp.asarray(4.0)))(stacked)
    assert ys.shape == (len(names), len(RA))
    for i, name in enumerate(names):
        y, keep = _label(name)
        np.testing.assert_array_equal(np.asarray(ys[i]), y, err_msg=name)
        np.testing.assert_array_equal(np.asarray(keeps[i]), keep, err_msg=name)
    np.testing.assert_array_equal(np.asarray(ys[names.index("oracle")]), ORACLE_Y)


# ---- buffers and schedules ------------------------------------------------------------------
def test_pair_buffer_packs_kept_pairs_and_wraps():
    buf = PairBuffer.create(capacity=4, segment_length=2, input_size=1)
    seg = jnp.arange(5.0)[:, None, None] * jnp.ones((5, 2, 1))
    buf = buf.insert(seg[:3], seg[:3], jnp.arange(3.0), keep=jnp.array([True, False, True]))
    assert int(buf.size) == 2 and np.asarray(buf.y[:2]).tolist() == [0.0, 2.0]
    buf = buf.insert(seg[:3], seg[:3], jnp.array([10.0, 11.0, 12.0]))
    assert int(buf.size) == 4 and int(buf.position) == 1
    assert np.asarray(buf.y).tolist() == [12.0, 2.0, 10.0, 11.0]  # the oldest (0.0) overwritten


def test_window_keeps_the_newest_steps_and_samples_only_filled_ones():
    win = SegmentWindow.create(length=6, num_envs=2, input_size=1)
    steps = jnp.arange(1.0, 5.0)[:, None] * jnp.ones((4, 2))
    no_end = jnp.zeros((4, 2), bool)
    win = win.push(steps[..., None], steps, no_end)
    assert int(win.filled) == 4 and not bool(win.ready(5)) and bool(win.ready(3))
    a, b = win.sample_pairs(KEY, 200, 3)
    assert float(jnp.minimum(a.utility.min(), b.utility.min())) >= 1.0  # never the unwritten (zero) steps
    # Filled starts are 2 and 3 of the window's 4 (L − H + 1) in either env.
    assert set(np.asarray(jnp.concatenate([a.start, b.start])).tolist()) == {2, 3}
    win = win.push(steps[..., None] + 4, steps + 4, no_end.at[1, 0].set(True))
    np.testing.assert_array_equal(np.asarray(win.utility[:, 0]), [3, 4, 5, 6, 7, 8])
    np.testing.assert_array_equal(np.asarray(win.done[:, 0]), [False] * 3 + [True, False, False])
    # ready: two different segments exist (two starts in one env, or one start in each of two envs).
    one_env = SegmentWindow.create(length=6, num_envs=1, input_size=1)
    assert not bool(one_env.push(steps[:3, :1, None], steps[:3, :1], no_end[:3, :1]).ready(3))
    assert bool(one_env.push(steps[:, :1, None], steps[:, :1], no_end[:, :1]).ready(3))


def _episodes_window(length, num_envs, episode_lengths, segment_length=None, seed=0):
    """A full window whose env b ends an episode every episode_lengths[b] steps (offset by b)."""
    del segment_length
    t = np.arange(length)[:, None]
    ep = np.asarray(episode_lengths)[None, :]
    done = (t + np.arange(num_envs)[None, :]) % ep == ep - 1
    inputs = np.random.default_rng(seed).normal(size=(length, num_envs, 2)).astype(np.float32)
    win = SegmentWindow.create(length, num_envs, 2)
    return win.push(jnp.asarray(inputs), jnp.asarray(inputs[..., 0]), jnp.asarray(done)), done


def _steps_of(win_done, seg, H):
    """[N, H] done flags of each segment's steps, looked up from its (env, start)."""
    t = np.asarray(seg.start)[:, None] + np.arange(H)
    return win_done[t, np.asarray(seg.env)[:, None]]


def test_segments_lie_within_one_episode_and_may_end_with_it():
    H = 10
    win, done = _episodes_window(60, 6, [12, 25, 40, 7, 60, 15])
    a, b = jax.jit(lambda w: w.sample_pairs(KEY, 2000, H))(win)
    for seg in (a, b):
        flags = _steps_of(done, seg, H)
        assert not flags[:, :-1].any()  # no episode end before a segment's last step
        assert not bool(seg.crosses.any())
        np.testing.assert_array_equal(np.asarray(seg.inputs[..., 0]), np.asarray(seg.utility))
    ends_with_episode = _steps_of(done, a, H)[:, -1]
    assert ends_with_episode.any()  # a segment may end exactly where its episode ends
    # env 3's episodes (7 steps) are shorter than a segment: it is never drawn.
    assert 3 not in set(np.asarray(a.env).tolist()) | set(np.asarray(b.env).tolist())
    # Starts are uniform over the valid (env, start) positions: every env with room is drawn.
    assert set(np.asarray(a.env).tolist()) == {0, 1, 2, 4, 5}


def test_episodes_shorter_than_a_segment_fall_back_to_crossing_segments_and_count_them():
    H = 10
    win, done = _episodes_window(40, 4, [6, 6, 6, 6])
    a, b = win.sample_pairs(KEY, 300, H)
    assert bool(a.crosses.all() and b.crosses.all())
    assert not bool(((a.env == b.env) & (a.start == b.start)).any())
    spec = RewardSpec(observation_size=2, action_size=1, discrete=False, num_envs=4, unroll_length=40)
    cfg = PreferenceConfig(segment_length=H, budget=40, queries_per_session=10, initial_fraction=0.25, hidden=(8,),
                           grad_steps=2, batch_size=8, use_action=False)

    def batch(episode_length):
        _, d = _episodes_window(40, 4, [episode_length] * 4)
        obs = jax.random.normal(KEY, (40, 4, 2))
        z = jnp.zeros((40, 4))
        return TransitionBatch(obs, z[..., None], obs, obs[..., 0], jnp.asarray(d), z, {})

    model = PreferenceReward(spec, cfg)
    update = jax.jit(lambda s, b, k: model.update(s, b, model.score(s, b), k))
    state, metrics = update(model.init(KEY), batch(6), KEY)
    assert int(state.queries_asked) == 10
    assert float(metrics["segments_across_episodes"]) == 20  # both segments of all 10 queries
    state, metrics = update(model.init(KEY), batch(35), KEY)
    assert int(state.queries_asked) == 10 and float(metrics["segments_across_episodes"]) == 0


@pytest.mark.parametrize("learner, unroll", [("ppo", None), ("ppo", 32), ("sac", 1)])
@pytest.mark.parametrize("selection", ["uniform", "disagreement"])
def test_default_settings_draw_distinct_segments_and_never_a_segment_against_itself(learner, unroll, selection):
    """`jaxreward train --env pendulum --reward preference` (PPO preset: 64 envs x 64 steps;
    TrainConfig's 32-step unroll; SAC's 1-step unroll): a session's candidates are distinct
    (env, start) positions, not copies of the last steps of each env, and no pair is a
    segment with itself."""
    from jaxreward.training import presets

    overrides = {} if unroll is None else {learner: {"unroll_length": unroll}}
    cfg = presets.config_for("pendulum", learner=learner, num_envs=64, **overrides,
                             reward={"terms": "preference", "preference": {"selection": selection}})
    pref = cfg.reward.preference
    spec = RewardSpec(3, 1, False, cfg.num_envs, cfg.unroll_length)
    model = PreferenceReward(spec, pref)
    H = pref.segment_length
    assert model.window_length >= 4 * H
    state = model.init(KEY)
    # Fill the window as rollouts would: 200-step episodes (pendulum's time limit), staggered.
    L = model.window_length
    obs = jax.random.normal(KEY, (L, spec.num_envs, 3))
    done = (jnp.arange(L)[:, None] + 37 * jnp.arange(spec.num_envs)) % 200 == 199
    state = state.replace(window=state.window.push(jnp.concatenate([obs, obs[..., :1]], -1), obs[..., 0], done))
    a, b = jax.jit(model.candidates)(state, KEY)
    n = a.env.shape[0]
    assert n == pref.session_capacity * (1 if selection == "uniform" else pref.oversample)
    self_pairs = int(jnp.sum((a.env == b.env) & (a.start == b.start)))
    assert self_pairs == 0
    positions = set(zip(np.asarray(jnp.concatenate([a.env, b.env])).tolist(), np.asarray(jnp.concatenate([a.start, b.start])).tolist()))
    # Uniform draws over 64 envs x (L − H + 1) starts: birthday repeats only.
    expected = 64 * (L - H + 1) * (1 - (1 - 1 / (64 * (L - H + 1))) ** (2 * n))
    assert len(positions) >= 0.95 * expected, (len(positions), expected, 2 * n)
    assert not bool(a.crosses.any() or b.crosses.any())


def test_window_that_cannot_hold_two_disjoint_segments_is_a_config_error():
    with pytest.raises(ValueError, match=r"preference.window_length \(99\) must hold two disjoint segments: >= 2 \* "
                                         r"preference.segment_length = 100"):
        PreferenceConfig(segment_length=50, window_length=99).validate()
    PreferenceConfig(segment_length=50, window_length=100).validate()
    from jaxreward.training import presets

    # The training config is validated when built, before the trainer compiles anything.
    with pytest.raises(ValueError, match="preference.window_length"):
        presets.config_for("pendulum", num_envs=4, reward={"terms": "preference", "preference": {"window_length": 60}})


def test_default_feedback_interval_is_five_thousand_env_steps():
    def interval(num_envs, unroll, **kw):
        return PreferenceReward(RewardSpec(3, 1, False, num_envs, unroll), PreferenceConfig(**kw)).feedback_every

    assert interval(64, 32) == 3  # 6144 env steps
    assert interval(128, 32) == 2  # reacher's preset: 8192
    assert interval(64, 1) == 79  # SAC: 5056
    assert interval(8192, 32) == 1
    assert interval(64, 32, feedback_every=5) == 5
    # Sessions fall on updates 0, 3, 6, ... (the window is ready after the first push).
    spec = RewardSpec(observation_size=3, action_size=1, discrete=False, num_envs=64, unroll_length=32)
    model = PreferenceReward(spec, PreferenceConfig(segment_length=10, budget=100, initial_fraction=0.1,
                                                    queries_per_session=10, hidden=(8,), grad_steps=1, batch_size=8))
    state, sessions = model.init(KEY), []
    update = jax.jit(lambda s, b, k: model.update(s, b, model.score(s, b), k))
    for i in range(7):
        state, _ = update(state, _linear_batch(jax.random.PRNGKey(i), T=32, B=64), KEY)
        sessions.append(int(state.sessions))
    assert sessions == [1, 1, 1, 2, 2, 2, 3]


@pytest.mark.parametrize("schedule", ["constant", "decaying"])
def test_schedule_spends_the_budget_with_the_fraction_up_front(schedule):
    kw = dict(budget=100, initial_fraction=0.3, queries_per_session=10, schedule=schedule)
    sizes, used = [], 0
    for k in range(200):
        n = int(queries.session_size(jnp.asarray(k), jnp.asarray(used), **kw))
        sizes.append(n)
        used += n
    assert sizes[0] == 30 and used == 100
    assert max(sizes) <= queries.session_capacity(100, 0.3, 10)
    if schedule == "constant":
        assert sizes[1:8] == [10] * 7
    else:
        assert sizes[1:4] == [10, 5, 3]  # 10 / (1 + (k − 1))


def test_disagreement_selects_the_pairs_members_disagree_on():
    # Members agree on pairs 0, 2; disagree most on pair 3, then 1.
    ra = jnp.array([[5.0, 1.0, 0.0, 4.0], [5.0, -1.0, 0.0, -4.0], [5.0, 0.0, 0.0, 0.0]])
    rb = jnp.zeros_like(ra)
    assert np.asarray(queries.select("disagreement", ra, rb, 2)).tolist() == [3, 1]
    # Entropy: the members' mean P is exactly 0.5 on pairs 1, 2 and 3 (σ(x) + σ(−x) = 1), so
    # they are the top three whatever their order, and pair 0 (mean P = σ(5)) is last.
    assert sorted(np.asarray(queries.select("entropy", ra, rb, 3)).tolist()) == [1, 2, 3]
    assert int(queries.select("entropy", ra, rb, 4)[3]) == 0


def test_entropy_selects_the_pairs_whose_mean_preference_is_nearest_one_half():
    # Identical members (no disagreement); mean P = σ(0.1), σ(2), σ(5), σ(−0.5) = 0.52, 0.88, 0.99, 0.38.
    ra = jnp.tile(jnp.array([[0.1, 2.0, 5.0, -0.5]]), (3, 1))
    rb = jnp.zeros_like(ra)
    assert np.asarray(queries.select("entropy", ra, rb, 2)).tolist() == [0, 3]
    assert np.asarray(queries.select("entropy", ra, rb, 4)).tolist() == [0, 3, 1, 2]
    np.testing.assert_allclose(np.asarray(queries.disagreement(ra, rb)), 0.0, atol=1e-7)


# ---- the reward model recovers a known reward ------------------------------------------------
SPEC = RewardSpec(observation_size=3, action_size=1, discrete=False, num_envs=16, unroll_length=40)
W = jnp.array([1.0, -2.0, 0.5, 1.5])


def _linear_batch(key, T=40, B=16):
    k1, k2 = jax.random.split(key)
    obs = jax.random.normal(k1, (T, B, 3))
    act = jax.random.uniform(k2, (T, B, 1), minval=-1, maxval=1)
    gold = jnp.concatenate([obs, act], -1) @ W
    z = jnp.zeros((T, B))
    return TransitionBatch(obs, act, obs, gold, z, z, {})


def test_ensemble_on_oracle_labels_ranks_held_out_segments():
    cfg = PreferenceConfig(segment_length=20, budget=300, queries_per_session=30, initial_fraction=0.1,
                           selection="disagreement", hidden=(32, 32), grad_steps=32, learning_rate=1e-3,
                           feedback_every=1)
    model = PreferenceReward(SPEC, cfg)
    state = model.init(KEY)
    update = jax.jit(lambda s, b, k: model.update(s, b, model.score(s, b), k))
    for i in range(10):
        state, metrics = update(state, _linear_batch(jax.random.PRNGKey(i)), jax.random.PRNGKey(100 + i))
    assert int(state.queries_asked) == 300 and int(state.pairs.size) == 300
    held = _linear_batch(jax.random.PRNGKey(999), T=20, B=64)  # 64 unseen segments of 20 steps
    pred, _ = model.reward(state, held)
    rho = spearmanr(np.asarray(pred.sum(0)), np.asarray(held.gold_reward.sum(0))).statistic
    assert rho >= 0.9, rho
    assert float(metrics["accuracy_heldout"]) > 0.85


def test_registered_with_validation_naming_the_field():
    assert "preference" in rewards.names()
    with pytest.raises(ValueError, match="preference.selection must be one of uniform, disagreement, entropy"):
        PreferenceConfig(selection="random").validate()
    with pytest.raises(ValueError, match="preference.teacher must be one of oracle, noisy"):
        PreferenceConfig(teacher="perfect").validate()
    with pytest.raises(ValueError, match="window_length"):
        PreferenceConfig(segment_length=50, window_length=10).validate()
    p = PreferenceConfig(teacher="mistake", teacher_eps_mistake=0.3).teacher_params()
    assert float(p.eps_mistake) == pytest.approx(0.3) and float(p.beta) <= 0


# ---- labels file ----------------------------------------------------------------------------
def _segments(tmp_path, n=4, H=3):
    obs = np.arange(n * H * 3, dtype=np.float32).reshape(n, H, 3)
    save_segments(str(tmp_path / "seg.npz"), [f"s{i}" for i in range(n)], obs, np.ones((n, H, 1)))
    return str(tmp_path / "seg.npz"), obs


def _write(tmp_path, lines):
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_labels_file_fills_the_pair_buffer(tmp_path):
    seg_path, obs = _segments(tmp_path)
    labels = _write(tmp_path, [
        "# written by a person", json.dumps({"a": "s0", "b": "s1", "preference": "a"}),
        json.dumps({"a": "s2", "b": "s3", "preference": "equal", "labeller": "x"}), "",
        json.dumps({"a": "s1", "b": "s3", "preference": "skip"}), json.dumps({"a": "s3", "b": "s0", "preference": 0}),
    ])
    spec = RewardSpec(3, 1, False, 2, 3)
    model = PreferenceReward(spec, PreferenceConfig(segment_length=3, labels_file=labels, segments_file=seg_path))
    state = model.init(KEY)
    assert int(state.pairs.size) == 3
    np.testing.assert_array_equal(np.asarray(state.pairs.y[:3]), [1.0, 0.5, 0.0])
    np.testing.assert_array_equal(np.asarray(state.pairs.seg_a[2, :, :3]), obs[3])
    np.testing.assert_array_equal(np.asarray(state.pairs.seg_b[0, :, 3]), np.ones(3))  # action column


@pytest.mark.parametrize("line, message", [
    ('{"a": "s0", "b": "s1", "preference": "a"', "line 2: not valid JSON"),
    ('{"a": "s0", "preference": "a"}', "line 2: missing key\\(s\\) b"),
    ('{"a": "s0", "b": "s9", "preference": "a"}', "line 2: segment id 's9' \\(key 'b'\\) is not in the segments file"),
    ('{"a": "s0", "b": "s1", "preference": "left"}', "line 2: preference must be"),
    ('{"a": "s0", "b": "s1", "preference": 1.5}', "line 2: preference must be"),
    ('{"a": "s1", "b": "s1", "preference": "a"}', "line 2: a segment compared with itself"),
])
def test_malformed_labels_file_names_the_line(tmp_path, line, message):
    seg_path, _ = _segments(tmp_path)
    labels = _write(tmp_path, [json.dumps({"a": "s0", "b": "s1", "preference": "b"}), line])
    with pytest.raises(LabelsFileError, match=message):
        load_pairs(labels, seg_path, 3, 3, 1, False, True)


def test_mismatched_segments_are_named(tmp_path):
    seg_path, _ = _segments(tmp_path)
    labels = _write(tmp_path, [json.dumps({"a": "s0", "b": "s1", "preference": "b"})])
    with pytest.raises(LabelsFileError, match="segments are 3 steps long, the reward model uses 5"):
        load_pairs(labels, seg_path, 5, 3, 1, False, True)
    with pytest.raises(LabelsFileError, match="observation size is 4"):
        load_pairs(labels, seg_path, 3, 4, 1, False, True)


# ---- mixture of users in the training step ----------------------------------------------------
TERM_SPEC = RewardSpec(observation_size=3, action_size=1, discrete=False, num_envs=8, unroll_length=20,
                       reward_terms=("a", "b", "c"))


def _term_batch(seed=0, T=20, B=8):
    """A batch whose gold reward is the sum of three logged terms (as every env's is)."""
    rng = np.random.default_rng(seed)
    obs, act = jnp.asarray(rng.normal(size=(T, B, 3)), jnp.float32), jnp.asarray(rng.uniform(-1, 1, (T, B, 1)), jnp.float32)
    terms = rng.normal(size=(3, T, B)).astype(np.float32)
    z = jnp.zeros((T, B))
    return TransitionBatch(obs, act, obs, jnp.asarray(terms.sum(0)), z, z, {f"reward/{n}": jnp.asarray(r) for n, r in zip("abc", terms)})


def _users_model(users="", probs=()):
    cfg = PreferenceConfig(segment_length=5, budget=40, queries_per_session=10, initial_fraction=0.5, hidden=(8,),
                           ensemble_size=2, grad_steps=2, batch_size=8, heldout_pairs=32,
                           teacher_users=users, teacher_user_probs=probs)
    return PreferenceReward(TERM_SPEC, cfg)


def test_user_utilities_from_term_rewards_match_numpy():
    model = _users_model("c=0.5, a=1,b=-2; b=3")
    assert model.user_terms == ("a", "b", "c")  # the env's order, not the config's
    batch = _term_batch()
    terms = model.term_rewards(batch)  # [T, B, M]
    utility = np.asarray(teachers.user_utilities(model.user_weights, terms))
    m = {n: np.asarray(batch.metrics[f"reward/{n}"]) for n in "abc"}
    np.testing.assert_allclose(utility[0], m["a"] - 2 * m["b"] + 0.5 * m["c"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(utility[1], 3 * m["b"], rtol=1e-5, atol=1e-5)
    # Sampled segments carry the terms of the same steps as their gold reward (= the terms' sum).
    window = lambda: SegmentWindow.create(20, 8, 4, num_terms=3).push(model.inputs(batch), batch.gold_reward, batch.done, terms)
    for seg in jax.jit(lambda: window().sample_pairs(KEY, 50, 5))():
        np.testing.assert_allclose(np.asarray(seg.terms.sum(-1)), np.asarray(seg.utility), rtol=1e-5, atol=1e-5)


def test_default_teacher_keeps_no_user_arrays():
    state = jax.eval_shape(_users_model().init, KEY)
    assert state.users is None and state.term_step_mean is None and state.window.terms is None


def test_a_user_with_the_gold_weights_labels_as_the_oracle():
    gold, user = _users_model(), _users_model("a=1,b=1,c=1")
    terms_a, terms_b = jnp.asarray(np.random.default_rng(0).normal(size=(2, 200, 5, 3)), jnp.float32)
    # Only the teacher's leaves of a fresh state are used, so the rest of init compiles away.
    labels = lambda model, a, b: jax.jit(lambda k: model.teacher_labels(model.init(k), k, a, b))(KEY)
    y_gold, keep_gold = labels(gold, terms_a.sum(-1), terms_b.sum(-1))
    y_user, keep_user = labels(user, terms_a, terms_b)
    np.testing.assert_array_equal(np.asarray(y_user), np.asarray(y_gold))
    assert bool(keep_user.all() and keep_gold.all()) and 0.3 < float(y_gold.mean()) < 0.7


def test_opposed_users_flip_the_labels_with_who_is_asked():
    """Through the compiled update: the window keeps the terms, a session asks the user."""
    model = _users_model("a=1,b=0.5; a=-1,b=-0.5", probs=(1.0, 0.0))
    state = model.init(KEY)
    only_second = state.replace(users=state.users.replace(probs=jnp.array([0.0, 1.0])))  # a leaf: no recompile
    update = jax.jit(lambda s, b, k: model.update(s, b, model.score(s, b), k))
    batch = _term_batch(1)
    first, metrics = update(state, batch, KEY)
    second, _ = update(only_second, batch, KEY)
    n = int(first.pairs.size)
    y1, y2 = np.asarray(first.pairs.y[:n]), np.asarray(second.pairs.y[:n])
    assert n == 20 and 0 < y1.mean() < 1
    np.testing.assert_array_equal(np.asarray(second.pairs.seg_a), np.asarray(first.pairs.seg_a))
    np.testing.assert_array_equal(y2, 1.0 - y1)
    # User 0's utility per step, from the batch: the labels are its ranking of the stored pairs.
    u0 = (batch.metrics["reward/a"] + 0.5 * batch.metrics["reward/b"])
    np.testing.assert_allclose(np.asarray(first.term_step_mean), [float(batch.metrics[f"reward/{t}"].mean()) for t in "ab"],
                               rtol=1e-5, atol=1e-6)
    assert abs(float(first.users.weights[0] @ first.term_step_mean) - float(u0.mean())) < 1e-5
    # The users rank every held-out pair oppositely: the model agrees with one exactly as often as it disagrees with the other.
    acc0, acc1 = float(metrics["accuracy_heldout_user0"]), float(metrics["accuracy_heldout_user1"])
    assert acc0 + acc1 == pytest.approx(1.0)


@pytest.mark.parametrize("users, probs, message", [
    ("a=1; b=1", (0.5, 0.6), "teacher_user_probs must sum to 1"),
    ("a=1; b=1", (1.5, -0.5), "teacher_user_probs must be non-negative"),
    ("a=1; b=1", (1.0,), "teacher_user_probs has 1 probabilities for 2 users"),
    ("", (1.0,), "teacher_user_probs needs preference.teacher_users"),
    ("a=1; ", (), "teacher_users: user 1 weights no reward term"),
    ("a=1, b", (), "teacher_users: user 0 has 'b'; write term=weight"),
    ("a=1, a=2", (), "weights the term 'a' twice"),
])
def test_user_config_errors_name_the_field(users, probs, message):
    with pytest.raises(ValueError, match=message):
        PreferenceConfig(teacher_users=users, teacher_user_probs=probs).validate()


def test_unknown_user_term_lists_the_envs_terms_before_compiling():
    with pytest.raises(ValueError, match=r"unknown reward term\(s\) 'forward'; the env's reward terms are: a, b, c"):
        _users_model("a=1; forward=1")
    from jaxreward.training import presets
    from jaxreward.training.trainer import Trainer

    cfg = presets.config_for("pendulum", num_envs=4, reward={"terms": "preference",
                                                             "preference": {"teacher_users": "angle=1; speed=1"}})
    with pytest.raises(ValueError, match="user 1 .* 'speed'; the env's reward terms are: angle, control, velocity"):
        Trainer(cfg)


# ---- in the training step -------------------------------------------------------------------
def test_relabel_all_gives_stored_rewards_the_updated_models_values():
    from jaxreward.training import presets
    from jaxreward.training.trainer import Trainer

    pref = dict(segment_length=10, budget=60, queries_per_session=10, initial_fraction=0.2, feedback_every=5,
                hidden=(16,), grad_steps=4, batch_size=16)
    cfg = presets.config_for("pendulum", learner="sac", num_envs=4, total_steps=4 * 60, num_log_points=1,
                             reward={"terms": "preference", "preference": pref},
                             sac=dict(relabel="all", buffer_size=1000, learning_starts=10_000, batch_size=16,
                                      actor_hidden=(16,), critic_hidden=(16,)))
    trainer = Trainer(cfg)
    state, metrics = trainer.chunk_fn(cfg.num_iterations)(trainer.init_seeds(trainer.seed_keys()))
    state = jax.tree.map(lambda x: x[0], state)
    pref_state = state.reward.terms[0]
    assert int(pref_state.sessions) >= 5  # the model was refitted several times while the buffer filled
    size = int(state.learner.buffer.size)
    stored = np.asarray(state.learner.buffer.data["reward"][:size])
    rescored = np.asarray(trainer._score(state.reward, state.learner.buffer.data["transition"]))[:size]
    np.testing.assert_allclose(stored, rescored, rtol=1e-5, atol=1e-6)
    initial = jax.tree.map(lambda x: x[0], trainer.init_seeds(trainer.seed_keys()).reward)  # compiled, not op by op
    assert not np.allclose(np.asarray(trainer._score(initial, state.learner.buffer.data["transition"]))[:size], stored, atol=1e-3)
    assert np.asarray(metrics["reward_model/preference/queries"])[0, -1] == 60
    # The buffer is re-scored only after the updates that refitted the model.
    relabelled = np.asarray(metrics["sac/relabelled"])[0]
    assert relabelled.sum() == int(pref_state.sessions) < cfg.num_iterations


# ---- tabular values and the regret-model experiment -------------------------------------------
def test_value_iteration_is_exact_on_a_two_by_two_grid():
    from jaxreward import tabular

    nxt = tabular.gridworld_transitions(2)
    reward = (nxt == 3).astype(jnp.float32)  # +1 for entering (or staying in) the corner cell 3
    mdp = tabular.TabularMDP(nxt, reward, jnp.asarray(0.9))
    v = np.asarray(tabular.q_values(mdp, iterations=300).max(-1))
    np.testing.assert_allclose(v, [0.9 / 0.1, 10.0, 10.0, 10.0], rtol=1e-4)
    adv = np.asarray(tabular.optimal_advantages(mdp, iterations=300))
    # From cell 0, down and right lead towards cell 3 (A* = 0); up, left and stay waste a step: 0.9·9 − 9.
    np.testing.assert_allclose(adv[0], [-0.9, 0.0, -0.9, 0.0, -0.9], atol=1e-3)
    policy = jnp.asarray(adv.argmax(-1))
    np.testing.assert_allclose(np.asarray(tabular.policy_value(mdp, policy, iterations=300)), v, rtol=1e-4)


def test_preference_models_smoke_matched_models_learn_near_optimal_policies(tmp_path):
    from experiments import preference_models

    summary = preference_models.main(["--scale", "smoke", "--out", str(tmp_path)])
    frac = {(r["teacher"], r["learner"], r["num_preferences"]): r["fraction_near_optimal"] for r in summary}
    # Knox et al.'s finding in miniature: with regret preferences the regret learner does at
    # least as well as the partial-return learner, and enough preferences give near-optimal policies.
    assert frac[("regret", "regret", 300)] >= 0.8
    assert frac[("regret", "regret", 300)] >= frac[("regret", "partial_return", 300)]
    assert frac[("partial_return", "partial_return", 300)] >= 0.8
    for name in ("preference_models.png", "results.csv", "summary.csv", "command.txt"):
        assert (tmp_path / name).exists()


def test_pebble_critic_reset_restarts_the_critic_and_keeps_the_actor():
    from jaxreward.training import presets
    from jaxreward.training.trainer import Trainer

    cfg = presets.config_for("pendulum", learner="sac", num_envs=4, total_steps=4 * 20, num_log_points=1,
                             sac=dict(learning_starts=0, batch_size=16, actor_hidden=(16,), critic_hidden=(16,),
                                      reset_critic_at=4 * 20))
    trainer = Trainer(cfg)
    state, _ = trainer.chunk_fn(cfg.num_iterations)(trainer.init_seeds(trainer.seed_keys()))
    agent = jax.tree.map(lambda x: x[0], state.learner.agent)
    # The reset fell on the last iteration: the critic is fresh (target = critic, no Adam
    # steps), while the actor kept all its updates.
    jax.tree.map(np.testing.assert_array_equal, agent.critic, agent.target_critic)
    counts = lambda opt: {int(x) for x in jax.tree.leaves(opt) if np.ndim(x) == 0 and np.issubdtype(np.asarray(x).dtype, np.integer)}
    assert counts(agent.critic_opt) == {0}
    assert counts(agent.actor_opt) == {cfg.num_iterations * cfg.unroll_length * cfg.sac.grad_updates_per_step}


# ---- PEBBLE unsupervised pre-training ---------------------------------------------------------
def _pretrain_model(pretrain_iterations=2):
    cfg = PreferenceConfig(segment_length=10, budget=40, queries_per_session=10, initial_fraction=0.25, hidden=(8,),
                           grad_steps=2, batch_size=8, pretrain_iterations=pretrain_iterations, entropy_k=3)
    return PreferenceReward(SPEC, cfg)


def test_entropy_bonus_is_scored_and_normalised_on_the_window_before_the_push():
    model = _pretrain_model()
    update = jax.jit(lambda s, b, k: model.update(s, b, model.score(s, b), k))
    reward = jax.jit(model.reward)
    state, _ = update(model.init(KEY), _linear_batch(jax.random.PRNGKey(1)), KEY)
    assert int(state.sessions) == 0  # still pre-training
    batch = _linear_batch(jax.random.PRNGKey(2))
    raw = model._entropy_bonus(state.window, batch.obs)  # [T, B] against the window the agent acted under
    r, _ = reward(state, batch)
    np.testing.assert_allclose(np.asarray(r), np.asarray(raw / jnp.sqrt(state.entropy_stats.var[0] + 1e-8)), rtol=1e-5)
    new, _ = update(state, batch, KEY)
    expected = state.entropy_stats.update(raw.reshape(-1, 1))
    np.testing.assert_allclose(np.asarray(new.entropy_stats.mean), np.asarray(expected.mean), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(new.entropy_stats.var), np.asarray(expected.var), rtol=1e-5)
    assert float(new.entropy_stats.count) == 2 * batch.obs.shape[0] * batch.obs.shape[1]
    # The first session (update 2) ends pre-training: the reward is the ensemble's, and the
    # bonus statistics stop moving.
    after, _ = update(new, batch, KEY)
    assert int(after.sessions) == 1
    r, _ = reward(after, batch)
    np.testing.assert_allclose(np.asarray(r), np.asarray(model.predict(after, model.inputs(batch))), rtol=1e-6)
    later, _ = update(after, batch, KEY)
    np.testing.assert_array_equal(np.asarray(later.entropy_stats.var), np.asarray(after.entropy_stats.var))


def _top_level_primitives(jaxpr) -> set[str]:
    return {eqn.primitive.name for eqn in jaxpr.eqns}


def _all_primitives(jaxpr) -> set[str]:
    names = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        for sub in jax.core.jaxprs_in_params(eqn.params):
            names |= _all_primitives(getattr(sub, "jaxpr", sub))
    return names


def test_entropy_bonus_is_computed_only_inside_a_branch_under_the_runs_vmap():
    """Under the trainer's vmap over runs, the kNN bonus (top_k) sits in a `cond` branch of
    `reward`, so it costs nothing once every run has had feedback (a `where` would compute it
    always), and `update` does not compute it again: it fits the normaliser on the scored bonus."""
    from jaxreward.runs import RUNS_AXIS

    model = _pretrain_model()
    states = jax.vmap(model.init)(jax.random.split(KEY, 2))
    batches = jax.vmap(lambda k: _linear_batch(k))(jax.random.split(KEY, 2))
    jaxpr = jax.make_jaxpr(jax.vmap(model.reward, axis_name=RUNS_AXIS))(states, batches).jaxpr
    assert "top_k" in _all_primitives(jaxpr)
    assert "top_k" not in _top_level_primitives(jaxpr)
    assert "cond" in _top_level_primitives(jaxpr)
    scored = jax.vmap(model.score, axis_name=RUNS_AXIS)(states, batches)
    update = jax.make_jaxpr(jax.vmap(lambda s, b, sc: model.update(s, b, sc, KEY), axis_name=RUNS_AXIS))(states, batches, scored)
    assert "top_k" not in _all_primitives(update.jaxpr)
    # Without pre-training there is no bonus at all.
    plain = _pretrain_model(0)
    jaxpr = jax.make_jaxpr(jax.vmap(plain.reward, axis_name=RUNS_AXIS))(jax.vmap(plain.init)(jax.random.split(KEY, 2)),
                                                                           batches).jaxpr
    assert "top_k" not in _all_primitives(jaxpr)
