"""Environment contract tests over every registered env, plus per-env probes with known answers.

Compiles are the cost on CPU, so each env is built and jitted once per module (`compiled`)
and its two batched rollouts are run once and shared by the tests that read them.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

import envs
from envs.wrappers import training_wrap

SHORT_EPISODE = 5
NUM_ENVS = 8
LONG_STEPS = 1000
SHORT_STEPS = 60


def random_actions(env, key, batch=()):
    """Uniform random actions of the env's kind: int32 [*batch] or float32 [*batch, action_size]."""
    if env.discrete:
        return jax.random.randint(key, batch, 0, env.action_size, jnp.int32)
    return jax.random.uniform(key, batch + (env.action_size,), minval=-1.0, maxval=1.0)


def batched_rollout(env, key, num_envs, num_steps):
    """Steps `training_wrap(env)` with random actions under one jitted `lax.scan`.

    Returns numpy arrays [T, B, ...]: the state after each step, plus `episode_steps`, the
    step count of the episode each transition belongs to (taken before auto-reset zeroes it),
    and `first_obs` [B, obs], the observation of the very first reset.
    """
    batched = training_wrap(env)

    @jax.jit
    def run(key):
        reset_key, scan_key = jax.random.split(key)
        state = batched.reset(jax.random.split(reset_key, num_envs))

        def one_step(state, step_key):
            nxt = batched.step(state, random_actions(env, step_key, (num_envs,)))
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

        _, records = jax.lax.scan(one_step, state, jax.random.split(scan_key, num_steps))
        return state.obs, records

    first_obs, records = run(key)
    return dict(jax.tree.map(np.asarray, records), first_obs=np.asarray(first_obs))


class Compiled:
    """One env's jitted reset/step and (lazily, once) its batched random rollouts."""

    def __init__(self, name: str):
        self.name = name
        self.env = envs.make(name)
        self.reset = jax.jit(self.env.reset)
        self.step = jax.jit(self.env.step)

    @functools.cached_property
    def long_rollout(self):
        """NUM_ENVS x LONG_STEPS random steps at the default episode length."""
        return batched_rollout(self.env, jax.random.PRNGKey(1), NUM_ENVS, LONG_STEPS)

    @functools.cached_property
    def short_rollout(self):
        """Random steps with SHORT_EPISODE-step episodes, so auto-reset happens often."""
        env = envs.make(self.name, episode_length=SHORT_EPISODE)
        return batched_rollout(env, jax.random.PRNGKey(2), NUM_ENVS, SHORT_STEPS)

    def run(self, policy, key, num_steps):
        """Steps one env from reset(key) with `policy(obs) -> action` (numpy); returns the states."""
        state = self.reset(key)
        states = []
        for _ in range(num_steps):
            state = self.step(state, policy(np.asarray(state.obs)))
            states.append(state)
        return states


@pytest.fixture(scope="module")
def compiled():
    cache: dict[str, Compiled] = {}

    def get(name: str) -> Compiled:
        if name not in cache:
            cache[name] = Compiled(name)
        return cache[name]

    return get


def _family(name: str) -> str | None:
    return getattr(envs.spec(name).factory, "family", None)


ALL = pytest.mark.parametrize("name", envs.names())
#: Envs whose initial state is drawn from a continuous distribution and whose episodes can
#: run to the time limit. Probe envs (family "probe", tested in test_probes.py) start from a
#: few fixed observations and terminate within two steps by design, so the reset-diversity
#: and truncation checks do not apply to them.
RANDOM_START = pytest.mark.parametrize("name", [n for n in envs.names() if _family(n) != "probe"])


def _assert_scalar_f32(x, what):
    assert x.shape == () and x.dtype == jnp.float32, f"{what}: shape {x.shape}, dtype {x.dtype}"


# ---------------------------------------------------------------------------------------------
# The contract, for every registered env.


@ALL
def test_reset_and_step_follow_the_contract(compiled, name):
    c = compiled(name)
    state = c.reset(jax.random.PRNGKey(0))
    reset_keys = set(state.metrics)
    assert "success" in reset_keys
    assert any(k.startswith("reward/") for k in reset_keys), reset_keys
    assert {"truncation", "steps"} <= set(state.info)

    keys = jax.random.split(jax.random.PRNGKey(3), 20)
    for key in keys:
        state = c.step(state, random_actions(c.env, key))
        assert state.obs.shape == (c.env.observation_size,) and state.obs.dtype == jnp.float32
        _assert_scalar_f32(state.reward, "reward")
        _assert_scalar_f32(state.done, "done")
        assert set(state.metrics) == reset_keys, "metrics keys differ between reset and step"
        for k, v in state.metrics.items():
            _assert_scalar_f32(v, f"metrics[{k!r}]")
        assert float(state.metrics["success"]) in (0.0, 1.0)
        terms = sum(float(v) for k, v in state.metrics.items() if k.startswith("reward/"))
        assert terms == pytest.approx(float(state.reward), abs=1e-5)


@ALL
def test_same_key_gives_the_same_trajectory(compiled, name):
    c = compiled(name)
    action_keys = jax.random.split(jax.random.PRNGKey(4), 10)

    def trajectory(key):
        state = c.reset(key)
        obs = [np.asarray(state.obs)]
        for k in action_keys:
            state = c.step(state, random_actions(c.env, k))
            obs.append(np.asarray(state.obs))
        return np.stack(obs)

    np.testing.assert_array_equal(trajectory(jax.random.PRNGKey(5)), trajectory(jax.random.PRNGKey(5)))


@RANDOM_START
def test_different_keys_give_different_initial_states(compiled, name):
    c = compiled(name)
    first, other = c.reset(jax.random.PRNGKey(5)).obs, c.reset(jax.random.PRNGKey(6)).obs
    assert not np.array_equal(first, other), "different reset keys gave the same initial obs"


@ALL
def test_long_random_rollout_stays_finite(compiled, name):
    r = compiled(name).long_rollout
    assert r["obs"].shape == (LONG_STEPS, NUM_ENVS, compiled(name).env.observation_size)
    assert np.isfinite(r["obs"]).all(), "non-finite observation"
    assert np.isfinite(r["reward"]).all(), "non-finite reward"
    for k, v in r["metrics"].items():
        assert np.isfinite(v).all(), f"non-finite metrics[{k!r}]"
    # Several episodes ended within the rollout, so auto-reset was exercised at full length too.
    assert r["done"].sum(axis=0).min() >= 1


@RANDOM_START
def test_auto_reset_draws_fresh_varied_initial_states(compiled, name):
    r = compiled(name).short_rollout
    done = r["done"] > 0
    assert done.sum() >= NUM_ENVS * (SHORT_STEPS // SHORT_EPISODE - 1)
    reset_obs = r["obs"][done]  # [num_resets, obs]: the fresh observations after each end
    # All fresh resets differ from each other (across envs and across time: no cached state)...
    assert len(np.unique(reset_obs.round(7), axis=0)) == len(reset_obs)
    # ...and from the first reset of the same env.
    env_index = np.nonzero(done)[1]
    assert not np.any(np.all(reset_obs == r["first_obs"][env_index], axis=-1))
    # After a reset the step counter restarts.
    assert (r["steps"][done] == 0).all()


@RANDOM_START
def test_truncation_marks_time_limit_ends_only(compiled, name):
    r = compiled(name).short_rollout
    done, truncation, steps = r["done"] > 0, r["truncation"] > 0, r["episode_steps"]
    assert steps.max() == SHORT_EPISODE and steps.min() >= 1
    assert done[steps == SHORT_EPISODE].all(), "episode ran past its time limit"
    assert not truncation[steps < SHORT_EPISODE].any(), "truncated before the time limit"
    assert not truncation[~done].any()
    # Every time-limit end is a truncation unless the env terminated at that very step; an
    # early end is a termination. (CartPole cannot leave its bounds within 5 steps.)
    assert truncation[steps == SHORT_EPISODE].all()
    # final_obs keeps the observation the episode ended on; elsewhere it is the obs itself.
    assert not np.any(np.all(r["final_obs"][done] == r["obs"][done], axis=-1))
    np.testing.assert_array_equal(r["final_obs"][~done], r["obs"][~done])


@ALL
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
# Point maze: the wall blocks the straight line; going round it succeeds.

MAZE_WAYPOINTS = np.array([[0.7, -0.6], [0.7, 0.6], [-0.6, 0.6]])


def waypoint_policy():
    """Velocity commands along start → right corridor → goal (a stateful numpy policy)."""
    index = [0]

    def policy(obs):
        to_waypoint = MAZE_WAYPOINTS[index[0]] - obs[:2]
        if np.linalg.norm(to_waypoint) < 0.1 and index[0] < len(MAZE_WAYPOINTS) - 1:
            index[0] += 1
        return jnp.asarray(np.clip(to_waypoint / 0.1, -1.0, 1.0), jnp.float32)

    return policy


def straight_to_goal(obs):
    return jnp.asarray(np.clip((obs[4:6] - obs[:2]) / 0.1, -1.0, 1.0), jnp.float32)


def test_point_maze_wall_blocks_the_straight_line(compiled):
    c = compiled("point_maze")
    states = c.run(straight_to_goal, jax.random.PRNGKey(8), c.env.default_episode_length)
    assert not any(float(s.metrics["success"]) for s in states)
    ys = np.array([float(s.obs[1]) for s in states])
    assert ys.max() <= -0.15, "the point went into the wall"
    # Stuck under the wall, it only improves −distance to about −0.75.
    assert float(states[-1].reward) < -0.7


def test_point_maze_scripted_route_reaches_the_goal(compiled):
    c = compiled("point_maze")
    states = c.run(waypoint_policy(), jax.random.PRNGKey(8), c.env.default_episode_length)
    success = np.array([float(s.metrics["success"]) for s in states])
    assert success.any(), "the scripted route never reached the goal"
    assert int(np.argmax(success)) < 0.5 * c.env.default_episode_length
    assert float(states[-1].reward) > -0.1  # it stays there; dense reward ≈ 0
    assert not any(float(s.done) for s in states[:-1]), "reaching the goal terminated by default"


def test_point_maze_sparse_reward_is_the_goal_indicator(compiled):
    c = compiled("point_maze_sparse")
    assert set(c.reset(jax.random.PRNGKey(0)).metrics) == {"reward/goal", "success"}
    states = c.run(waypoint_policy(), jax.random.PRNGKey(9), c.env.default_episode_length)
    rewards = np.array([float(s.reward) for s in states])
    success = np.array([float(s.metrics["success"]) for s in states])
    np.testing.assert_array_equal(rewards, success)
    assert rewards[0] == 0.0 and rewards[-1] == 1.0


def test_point_maze_terminate_at_goal_option():
    env = envs.make("point_maze", terminate_at_goal=True)
    step = jax.jit(env.step)
    state, policy = env.reset(jax.random.PRNGKey(8)), waypoint_policy()
    for _ in range(env.default_episode_length):
        state = step(state, policy(np.asarray(state.obs)))
        if float(state.done):
            break
    assert float(state.metrics["success"]) == 1.0 and float(state.done) == 1.0
    assert float(state.info["truncation"]) == 0.0


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


def test_reacher_inverse_kinematics_controller_reaches_targets(compiled):
    c = compiled("reacher")
    upper, fore = 0.1, 0.11  # link lengths of assets/reacher.xml

    def reach(obs):
        """Joint PD towards the analytic IK solution of the target (elbow side kept)."""
        q, target = np.arctan2(obs[2:4], obs[0:2]), obs[4:6]
        cos_elbow = np.clip((target @ target - upper**2 - fore**2) / (2 * upper * fore), -1.0, 1.0)
        elbow = np.arccos(cos_elbow) * (1.0 if q[1] >= 0 else -1.0)
        shoulder = np.arctan2(target[1], target[0]) - np.arctan2(fore * np.sin(elbow), upper + fore * np.cos(elbow))
        error = (np.array([shoulder, elbow]) - q + np.pi) % (2 * np.pi) - np.pi
        # Armature 1 and gear 200 make each joint ≈ q̈ = 200 u − q̇; these gains damp it critically.
        return jnp.asarray(np.clip(2.0 * error - 0.2 * obs[6:8], -1.0, 1.0), jnp.float32)

    for seed in range(3):
        states = c.run(reach, jax.random.PRNGKey(100 + seed), c.env.default_episode_length)
        assert float(states[-1].metrics["success"]) == 1.0, f"seed {seed}: missed the target"
        assert float(states[0].metrics["reward/distance"]) < float(states[-1].metrics["reward/distance"])
