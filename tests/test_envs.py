"""Environment contract tests over every registered env, plus per-env probes with known answers.

Compiles are the cost on CPU (10–60 s for an MJX env on two cores), so every generic check
of an env reads one compiled program: `rollout(state, key, limit, fresh)`, CHUNK random steps
of `AutoReset(Vmap(TimeLimit(env)))` under `lax.scan`, with the episode length `limit` a
traced argument (so one compile serves the short-episode run, where resets and truncations
happen every few steps, and the 1000-step run at the env's own length, made of chunks) and
the batched reset drawn inside it when `fresh` is set. Unbatched reset/step shapes and dtypes
are checked with `jax.eval_shape`, which traces without compiling. Env-specific tests below
compile the unbatched step only for the envs they probe.

Adapter envs (`dmc/*`, `gymnax/*`) join the generic checks when their optional extra is
installed; Playground's MJX tasks compile slowly, so only `DMC_SAMPLE` of them do unless
JAXREWARD_TEST_ALL_ADAPTERS=1.
"""

from __future__ import annotations

import functools
import math
import os

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

import envs
from envs.wrappers import AutoReset, TimeLimit, Vmap, Wrapper

from conftest import env_jit

NUM_ENVS = 8
CHUNK = 50
SHORT_EPISODE = 5
LONG_STEPS = 1000
TERMINATED = "test/terminated"


def random_actions(env, key, batch=()):
    """Uniform random actions of the env's kind: int32 [*batch] or float32 [*batch, action_size]."""
    if env.discrete:
        return jax.random.randint(key, batch, 0, env.action_size, jnp.int32)
    return jax.random.uniform(key, batch + (env.action_size,), minval=-1.0, maxval=1.0)


class RecordTermination(Wrapper):
    """Copies the raw env's own `done` into a metric, before the time limit merges it in.

    AutoReset returns the metrics of the finished step, so the rollout can tell a
    termination at the time limit from a truncation.
    """

    def reset(self, rng):
        state = self.env.reset(rng)
        return state.replace(metrics={**state.metrics, TERMINATED: jnp.zeros(())})

    def step(self, state, action):
        # The env steps the state it would see without this wrapper (so its traced step is
        # shared with the other tests: see JitSteps).
        metrics = {k: v for k, v in state.metrics.items() if k != TERMINATED}
        state = self.env.step(state.replace(metrics=metrics), action)
        return state.replace(metrics={**state.metrics, TERMINATED: state.done})


def training_stack(env, limit) -> AutoReset:
    """`AutoReset(Vmap(TimeLimit(env)))` whose episode length may be a traced scalar.

    The TimeLimit is built with a placeholder length, then given `limit`: its `step` only
    compares the step counter with it, so a traced value keeps one compile for all lengths.
    """
    time_limit = TimeLimit(RecordTermination(env), 1)
    time_limit.episode_length = limit
    return AutoReset(Vmap(time_limit))


def compile_rollout(env):
    """jit of rollout(state, key, limit, fresh) -> (start, final state, records [CHUNK, B, ...]).

    `start` is the batched reset drawn from `key`; the scan begins from it when `fresh`, else
    from `state` (the final state of the previous chunk).
    """

    @env_jit
    def rollout(state, key, limit, fresh):
        stack = training_stack(env, limit)
        reset_key, scan_key = jax.random.split(key)
        start = stack.reset(jax.random.split(reset_key, NUM_ENVS))
        state = jax.tree.map(lambda a, b: jnp.where(fresh, a, b), start, state)

        def one_step(state, step_key):
            nxt = stack.step(state, random_actions(env, step_key, (NUM_ENVS,)))
            record = {
                "obs": nxt.obs,
                "reward": nxt.reward,
                "done": nxt.done,
                "truncation": nxt.info["truncation"],
                "steps": nxt.info["steps"],
                "episode_steps": state.info["steps"] + 1,
                "final_obs": nxt.info["final_obs"],
                "metrics": nxt.metrics,
            }
            return nxt, record

        final, records = jax.lax.scan(one_step, state, jax.random.split(scan_key, CHUNK))
        # Strongly typed like the zero template, so the next chunk hits the same compile.
        final = jax.tree.map(lambda x: jnp.asarray(x, x.dtype), final)
        return {"obs": start.obs, "metrics": start.metrics}, final, records

    return rollout


def _numpy(tree):
    return jax.tree.map(np.asarray, tree)


class Compiled:
    """One env's compiled rollout, its shared runs, and (lazily) its unbatched jitted step."""

    def __init__(self, name: str, raw):
        self.name = name
        #: The session's shared env (conftest.jitted_env): its traced reset and step serve
        #: every program here and in the other env test files.
        self.raw = raw
        self.env = TimeLimit(self.raw, self.raw.default_episode_length)
        self._rollout = compile_rollout(self.raw)
        key = jax.random.PRNGKey(0)
        template = jax.eval_shape(lambda k: training_stack(self.raw, 1).reset(jax.random.split(k, NUM_ENVS)), key)
        self._template = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), template)

    def rollout(self, key, limit, chunks=1, state=None):
        """chunks·CHUNK steps from a fresh batched reset (or from `state`, a `final_state`).

        Returns numpy records [T, B, ...], `start` (the fresh reset's obs and metrics) and
        `final_state` (the batched state after the last step, as jax arrays).
        """
        start, state, records = self._rollout(
            self._template if state is None else state, key, limit, state is None
        )
        parts = [_numpy(records)]
        for i in range(1, chunks):
            _, state, records = self._rollout(state, jax.random.fold_in(key, i), limit, False)
            parts.append(_numpy(records))
        out = jax.tree.map(lambda *xs: np.concatenate(xs), *parts)
        out["terminated"] = out["metrics"].pop(TERMINATED)
        start = _numpy(start)
        start["metrics"].pop(TERMINATED)
        return dict(out, start=start, final_state=state)

    @functools.cached_property
    def short_rollout(self):
        """CHUNK random steps with SHORT_EPISODE-step episodes, so auto-reset happens often."""
        return self.rollout(jax.random.PRNGKey(2), SHORT_EPISODE)

    @functools.cached_property
    def long_rollout(self):
        """LONG_STEPS random steps at the env's default episode length."""
        return self.rollout(jax.random.PRNGKey(1), self.env.default_episode_length, LONG_STEPS // CHUNK)

    @functools.cached_property
    def reset(self):
        return env_jit(self.env.reset)

    @functools.cached_property
    def step(self):
        return env_jit(self.env.step)

    def run(self, policy, key, num_steps):
        """Steps one env from reset(key) with `policy(obs) -> action` (numpy); returns the states."""
        state = self.reset(key)
        states = []
        for _ in range(num_steps):
            state = self.step(state, policy(np.asarray(state.obs)))
            states.append(state)
        return states


@pytest.fixture(scope="module")
def compiled(jitted_env):
    cache: dict[str, Compiled] = {}

    def get(name: str) -> Compiled:
        if name not in cache:
            cache[name] = Compiled(name, jitted_env(name))
        return cache[name]

    return get


def _factory_attr(name: str, attr: str, default):
    return getattr(envs.spec(name).factory, attr, default)


#: Playground DM Control tasks checked by default (each compiles for 30–100 s on 2 cores).
DMC_SAMPLE = ("dmc/cartpole_swingup",)
_ALL_ADAPTERS = os.environ.get("JAXREWARD_TEST_ALL_ADAPTERS", "") not in ("", "0")
GENERIC = [n for n in envs.names() if not n.startswith("dmc/") or _ALL_ADAPTERS or n in DMC_SAMPLE]
ALL = pytest.mark.parametrize("name", GENERIC)
#: Envs whose episodes can run to the time limit. Probe envs (family "probe", tested in
#: test_probes.py) terminate within two steps by design, so the auto-reset and truncation
#: checks do not apply to them.
EPISODIC = pytest.mark.parametrize("name", [n for n in GENERIC if _factory_attr(n, "family", None) != "probe"])
#: Of those, the envs whose initial state is drawn from a continuous distribution: distinct
#: keys must give distinct initial states. The others (`random_reset = False`: a fixed start
#: or a few possible ones) must restart from one of their initial states.
RANDOM_START = pytest.mark.parametrize(
    "name", [n for n in GENERIC if _factory_attr(n, "family", None) != "probe" and _factory_attr(n, "random_reset", True)]
)


def _assert_f32(x, shape, what):
    assert x.shape == shape and x.dtype == np.float32, f"{what}: shape {x.shape}, dtype {x.dtype}, expected {shape}"


# ---------------------------------------------------------------------------------------------
# The contract, for every registered env.


@ALL
def test_reset_and_step_shapes_and_dtypes(compiled, name):
    """Unbatched, traced without compiling: the shapes and dtypes of one reset and one step."""
    env = compiled(name).env
    key = jax.random.PRNGKey(0)
    state = jax.eval_shape(env.reset, key)
    stepped = jax.eval_shape(env.step, state, env.dummy_action())
    for s, what in ((state, "reset"), (stepped, "step")):
        _assert_f32(s.obs, (env.observation_size,), f"{what} obs")
        _assert_f32(s.reward, (), f"{what} reward")
        _assert_f32(s.done, (), f"{what} done")
        assert {"truncation", "steps"} <= set(s.info), f"{what} info lacks truncation/steps"
        _assert_f32(s.info["truncation"], (), f"{what} truncation")
        for k, v in s.metrics.items():
            _assert_f32(v, (), f"{what} metrics[{k!r}]")
    assert "success" in state.metrics
    assert any(k.startswith("reward/") for k in state.metrics), set(state.metrics)
    assert set(stepped.metrics) == set(state.metrics), "metrics keys differ between reset and step"


@ALL
def test_batched_steps_follow_the_contract(compiled, name):
    c = compiled(name)
    r = c.short_rollout
    size = c.env.observation_size
    assert r["obs"].shape == (CHUNK, NUM_ENVS, size) and r["obs"].dtype == np.float32
    assert r["start"]["obs"].shape == (NUM_ENVS, size)
    assert set(r["start"]["metrics"]) == set(r["metrics"]), "metrics keys differ between reset and step"
    for k, v in r["metrics"].items():
        assert v.shape == (CHUNK, NUM_ENVS) and v.dtype == np.float32, f"metrics[{k!r}]: {v.shape} {v.dtype}"
    assert np.isin(r["metrics"]["success"], (0.0, 1.0)).all()
    # The gold reward is the sum of its logged components, on every step.
    terms = sum(v for k, v in r["metrics"].items() if k.startswith("reward/"))
    np.testing.assert_allclose(terms, r["reward"], atol=1e-5, rtol=1e-5)


@ALL
def test_same_key_gives_the_same_trajectory(compiled, name):
    c = compiled(name)
    again = c.rollout(jax.random.PRNGKey(2), SHORT_EPISODE)
    np.testing.assert_array_equal(again["start"]["obs"], c.short_rollout["start"]["obs"])
    np.testing.assert_array_equal(again["obs"], c.short_rollout["obs"])
    np.testing.assert_array_equal(again["reward"], c.short_rollout["reward"])


@RANDOM_START
def test_different_keys_give_different_initial_states(compiled, name):
    first = compiled(name).short_rollout["start"]["obs"]  # [B, obs] from B distinct keys
    assert len(np.unique(first, axis=0)) == NUM_ENVS, "different reset keys gave the same initial obs"


@ALL
def test_long_random_rollout_stays_finite(compiled, name):
    c = compiled(name)
    r = c.long_rollout
    assert r["obs"].shape == (LONG_STEPS, NUM_ENVS, c.env.observation_size)
    assert np.isfinite(r["obs"]).all(), "non-finite observation"
    assert np.isfinite(r["reward"]).all(), "non-finite reward"
    for k, v in r["metrics"].items():
        assert np.isfinite(v).all(), f"non-finite metrics[{k!r}]"
    # Several episodes ended within the rollout, so auto-reset was exercised at full length too.
    assert r["done"].sum(axis=0).min() >= 1
    if _factory_attr(name, "family", None) != "probe":
        # No episode outlived the env's own time limit.
        assert r["episode_steps"].max() <= c.env.default_episode_length
        assert not r["truncation"][r["episode_steps"] < c.env.default_episode_length].any()


@EPISODIC
def test_auto_reset_draws_fresh_initial_states(compiled, name):
    c = compiled(name)
    r = c.short_rollout
    done = r["done"] > 0
    assert done.sum() >= NUM_ENVS * (CHUNK // SHORT_EPISODE - 1)
    reset_obs = r["obs"][done]  # [num_resets, obs]: the fresh observations after each end
    # After a reset the step counter restarts.
    assert (r["steps"][done] == 0).all()
    if _factory_attr(name, "random_reset", True):
        # All fresh resets differ from each other (across envs and across time: no cached state)...
        assert len(np.unique(reset_obs.round(7), axis=0)) == len(reset_obs)
        # ...and from the first reset of the same env.
        env_index = np.nonzero(done)[1]
        assert not np.any(np.all(reset_obs == r["start"]["obs"][env_index], axis=-1))
    else:
        # A fixed or finite start: every fresh observation is one the env starts from.
        starts = np.concatenate([c.rollout(jax.random.PRNGKey(k), SHORT_EPISODE)["start"]["obs"] for k in range(4)])
        starts = np.unique(np.concatenate([starts, r["start"]["obs"]]), axis=0)
        is_start = (reset_obs[:, None, :] == starts[None]).all(-1).any(-1)
        assert is_start.all(), "an auto-reset observation is not an initial observation"


@EPISODIC
def test_truncation_marks_time_limit_ends_only(compiled, name):
    r = compiled(name).short_rollout
    done, truncation, steps = r["done"] > 0, r["truncation"] > 0, r["episode_steps"]
    terminated = r["terminated"] > 0
    assert steps.max() == SHORT_EPISODE and steps.min() >= 1
    assert done[steps == SHORT_EPISODE].all(), "episode ran past its time limit"
    assert not truncation[steps < SHORT_EPISODE].any(), "truncated before the time limit"
    np.testing.assert_array_equal(done[steps < SHORT_EPISODE], terminated[steps < SHORT_EPISODE])
    assert not truncation[~done].any()
    # Every time-limit end is a truncation unless the env terminated at that very step.
    at_limit = steps == SHORT_EPISODE
    np.testing.assert_array_equal(truncation[at_limit], ~terminated[at_limit])
    assert truncation.any()
    # final_obs keeps the observation the episode ended on; elsewhere it is the obs itself.
    np.testing.assert_array_equal(r["final_obs"][~done], r["obs"][~done])
    differs = ~np.all(r["final_obs"][done] == r["obs"][done], axis=-1)
    if _factory_attr(name, "random_reset", True):
        assert differs.all()
    else:
        assert differs.any()


@pytest.mark.parametrize("name", envs.names())
def test_unknown_option_names_the_valid_ones(name):
    with pytest.raises(ValueError) as err:
        envs.make(name, no_such_option=1)
    for option in envs.options(name):
        assert option in str(err.value)
    assert "no_such_option" in str(err.value)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        envs.make("nope")
    for name in envs.names():
        assert name in str(err.value)
    with pytest.raises(ValueError, match="point_maze"):
        envs.make("point_maz")


# ---------------------------------------------------------------------------------------------
# CartPole: known values of the Gymnasium CartPole-v1 equations.


def test_cartpole_first_step_matches_hand_computed_dynamics(compiled):
    c = compiled("cartpole")
    state = c.reset(jax.random.PRNGKey(0))
    state = state.replace(pipeline_state=jnp.zeros(4), obs=jnp.zeros(4))
    # From rest, force +10: temp = 10/1.1, θ̈ = -temp / (0.5 (4/3 - 0.1/1.1)), ẍ = temp - 0.05 θ̈ / 1.1.
    temp = 10 / 1.1
    theta_acc = -temp / (0.5 * (4 / 3 - 0.1 / 1.1))
    x_acc = temp - 0.05 * theta_acc / 1.1
    out = c.step(state, jnp.int32(1))
    np.testing.assert_allclose(out.obs, [0.0, 0.02 * x_acc, 0.0, 0.02 * theta_acc], rtol=1e-5)
    assert float(out.reward) == 1.0 and float(out.done) == 0.0
    left = c.step(state, jnp.int32(0))
    np.testing.assert_allclose(left.obs, -np.asarray(out.obs), rtol=1e-5)


@pytest.mark.parametrize("action", [0, 1])
def test_cartpole_terminates_when_pushed_one_way(compiled, action):
    c = compiled("cartpole")
    states = c.run(lambda obs: jnp.int32(action), jax.random.PRNGKey(7), 100)
    done = np.array([float(s.done) for s in states])
    assert done.any(), "pole never fell under a constant push"
    end = int(np.argmax(done))
    assert end < 99
    last = states[end]
    assert abs(float(last.obs[2])) > math.radians(12) or abs(float(last.obs[0])) > 2.4
    assert float(last.info["truncation"]) == 0.0, "a termination was marked as truncation"
    assert float(last.metrics["success"]) == 0.0
    assert all(float(s.metrics["success"]) == 1.0 for s in states[:end])
    # The pole falls away from the push.
    assert np.sign(float(last.obs[2])) == (-1 if action == 1 else 1)


def test_cartpole_termination_at_the_time_limit_is_not_truncation(compiled):
    c = compiled("cartpole")
    states = c.run(lambda obs: jnp.int32(1), jax.random.PRNGKey(7), 100)
    end = int(np.argmax([float(s.done) for s in states])) + 1  # steps until the pole fell
    env = envs.make("cartpole", episode_length=end)
    state = env.reset(jax.random.PRNGKey(7))
    for _ in range(end):
        state = env.step(state, jnp.int32(1))
    assert float(state.done) == 1.0 and float(state.info["truncation"]) == 0.0


def test_cartpole_without_termination_runs_to_the_time_limit_and_pays_only_upright_steps():
    """`terminate=False` (Rocamonde et al. 2024): a constant push topples the pole, which
    then swings; nothing ends the episode before the limit, θ stays wrapped, the cart stays
    on the rail, and the gold reward (= success) is 1 exactly on the upright steps."""
    limit = 300
    free = envs.make("cartpole", episode_length=limit, terminate=False)
    gym = envs.make("cartpole", episode_length=limit)
    assert envs.options("cartpole")["terminate"] is True

    @jax.jit
    def push_right(key):
        def step(states, _):
            states = (free.step(states[0], jnp.int32(1)), gym.step(states[1], jnp.int32(1)))
            return states, (states[0].obs, states[0].reward, states[0].done, states[0].info["truncation"],
                            states[0].metrics["success"], states[1].obs, states[1].done)

        return jax.lax.scan(step, (free.reset(key), gym.reset(key)), None, length=limit)[1]

    obs, reward, done, truncation, success, gym_obs, gym_done = map(np.asarray, push_right(jax.random.PRNGKey(7)))
    fell = int(np.argmax(gym_done))  # the step Gymnasium's CartPole terminates on
    assert 0 < fell < 100
    # Same dynamics until the fall; then reward 0 while fallen, the pole swinging on.
    np.testing.assert_allclose(obs[: fell + 1], gym_obs[: fell + 1], rtol=1e-6)
    assert reward[:fell].min() == 1.0 and reward[fell] == 0.0
    np.testing.assert_array_equal(reward, success)
    upright = (np.abs(obs[:, 0]) < 2.4) & (np.abs(obs[:, 2]) <= math.radians(12))
    np.testing.assert_array_equal(reward[upright], 1.0)  # (on the rail ends it may be 0: pushed past)
    assert np.abs(obs[:, 2]).max() > 2.5, "the pole never swung below horizontal"
    assert np.abs(obs[:, 2]).max() <= math.pi and np.abs(obs[:, 0]).max() <= 2.4
    assert done[:-1].max() == 0.0 and done[-1] == 1.0 and truncation[-1] == 1.0


# ---------------------------------------------------------------------------------------------
# Pendulum: the upright rest state is an (unstable) equilibrium with zero cost.


def test_pendulum_upright_rest_is_an_unstable_equilibrium(compiled):
    c = compiled("pendulum")
    state = c.reset(jax.random.PRNGKey(0))

    def from_angle(theta):
        q = jnp.array([theta, 0.0])
        return state.replace(pipeline_state=q, obs=jnp.array([jnp.cos(theta), jnp.sin(theta), 0.0]))

    upright = from_angle(0.0)
    for _ in range(5):
        upright = c.step(upright, jnp.zeros(1))
        assert float(upright.obs[0]) == pytest.approx(1.0, abs=1e-6)
        assert float(upright.reward) == pytest.approx(0.0, abs=1e-6)
        assert float(upright.metrics["success"]) == 1.0
    tilted = from_angle(0.01)
    for _ in range(5):
        tilted = c.step(tilted, jnp.zeros(1))
    assert float(tilted.pipeline_state[0]) > 0.01, "gravity should tip the pendulum away from upright"


# ---------------------------------------------------------------------------------------------
# Reacher: rewards read the MJX data; physics matches CPU MuJoCo; a reaching controller succeeds.


def _site(model, name):
    return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, name)


def test_reacher_distance_term_reads_the_site_positions(compiled):
    c = compiled("reacher")
    model = c.env.mj_model
    state = c.reset(jax.random.PRNGKey(10))
    for key in jax.random.split(jax.random.PRNGKey(11), 5):
        state = c.step(state, random_actions(c.env, key))
        xpos = np.asarray(state.pipeline_state.site_xpos)
        gap = xpos[_site(model, "fingertip")] - xpos[_site(model, "target")]
        assert float(state.metrics["reward/distance"]) == pytest.approx(-np.linalg.norm(gap), abs=1e-6)
        np.testing.assert_allclose(state.obs[8:10], gap[:2], atol=1e-6)
    target = np.asarray(state.obs[4:6])
    assert np.linalg.norm(target) <= 0.2 + 1e-6


def test_reacher_matches_cpu_mujoco(compiled):
    c = compiled("reacher")
    model = c.env.mj_model
    state = c.reset(jax.random.PRNGKey(12))
    data = mujoco.MjData(model)
    data.qpos[:], data.qvel[:] = np.asarray(state.pipeline_state.qpos), np.asarray(state.pipeline_state.qvel)
    for key in jax.random.split(jax.random.PRNGKey(13), 5):
        action = random_actions(c.env, key)
        state = c.step(state, action)
        data.ctrl[:] = np.asarray(action)
        mujoco.mj_step(model, data, nstep=2)  # the env's frame skip
    mujoco.mj_kinematics(model, data)
    np.testing.assert_allclose(state.pipeline_state.qpos, data.qpos, atol=1e-4)
    np.testing.assert_allclose(state.pipeline_state.qvel, data.qvel, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(state.pipeline_state.site_xpos, data.site_xpos, atol=1e-4)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_reacher_torque_drives_the_joints(compiled, sign):
    c = compiled("reacher")
    states = c.run(lambda obs: jnp.full(2, sign, jnp.float32), jax.random.PRNGKey(14), 3)
    qvel = np.asarray(states[-1].pipeline_state.qvel[:2])
    assert (np.sign(qvel) == sign).all() and (np.abs(qvel) > 1.0).all()
    # The control cost is −Σ a² for a = ±1 on both joints.
    assert float(states[-1].metrics["reward/control"]) == pytest.approx(-2.0)


def reach_policy(obs):
    """Joint PD towards the analytic IK solution of the reacher's target (elbow side kept)."""
    upper, fore = 0.1, 0.11  # link lengths of assets/reacher.xml
    q, target = np.arctan2(obs[2:4], obs[0:2]), obs[4:6]
    cos_elbow = np.clip((target @ target - upper**2 - fore**2) / (2 * upper * fore), -1.0, 1.0)
    elbow = np.arccos(cos_elbow) * (1.0 if q[1] >= 0 else -1.0)
    shoulder = np.arctan2(target[1], target[0]) - np.arctan2(fore * np.sin(elbow), upper + fore * np.cos(elbow))
    error = (np.array([shoulder, elbow]) - q + np.pi) % (2 * np.pi) - np.pi
    # Armature 1 and gear 200 make each joint ≈ q̈ = 200 u − q̇; these gains damp it critically.
    return jnp.asarray(np.clip(2.0 * error - 0.2 * obs[6:8], -1.0, 1.0), jnp.float32)


def test_reacher_inverse_kinematics_controller_reaches_targets(compiled):
    c = compiled("reacher")
    for seed in range(3):
        states = c.run(reach_policy, jax.random.PRNGKey(100 + seed), c.env.default_episode_length)
        assert float(states[-1].metrics["success"]) == 1.0, f"seed {seed}: missed the target"
        assert float(states[0].metrics["reward/distance"]) < float(states[-1].metrics["reward/distance"])


def test_reacher_sparse_rewards_only_success(compiled):
    """Same physics as the dense reacher; the reward is the success indicator alone."""
    dense, sparse = compiled("reacher").short_rollout, compiled("reacher_sparse").short_rollout
    # Same keys, so the same resets and random actions: the dense terms are still logged, as
    # shaping diagnostics outside the reward.
    np.testing.assert_allclose(sparse["metrics"]["shaping/distance"], dense["metrics"]["reward/distance"], atol=1e-6)
    np.testing.assert_allclose(sparse["metrics"]["shaping/control"], dense["metrics"]["reward/control"], atol=1e-6)
    assert not any(k.startswith("reward/") and k != "reward/success" for k in sparse["metrics"])
    success = sparse["metrics"]["success"]
    np.testing.assert_array_equal(success, -sparse["metrics"]["shaping/distance"] < 0.02)
    np.testing.assert_array_equal(sparse["reward"], success)
    # Move every target under its resting fingertip: one random step later all are successes.
    c = compiled("reacher_sparse")
    state = sparse["final_state"]
    data = state.pipeline_state
    tip = data.site_xpos[:, _site(c.env.mj_model, "fingertip"), :2]
    data = data.replace(qpos=data.qpos.at[:, 2:].set(tip), qvel=jnp.zeros_like(data.qvel))
    steps = jnp.zeros_like(state.info["steps"])  # no time limit ends the first step
    state = state.replace(pipeline_state=data, info=dict(state.info, steps=steps))
    first = c.rollout(jax.random.PRNGKey(3), SHORT_EPISODE, state=state)
    np.testing.assert_array_equal(first["reward"][0], 1.0)
    np.testing.assert_array_equal(first["metrics"]["success"][0], 1.0)
    assert (first["metrics"]["shaping/distance"][0] > -0.02).all()
