"""Adapters of optional suites (MuJoCo Playground DM Control, gymnax): parity and contract.

The parity tests run the adapter and the suite's own environment side by side on the same
keys and actions and require identical rewards and observations; they are skipped when the
suite's extra is not installed. The missing-extra error is tested either way.
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.adapters import gymnax_suite, playground


def _hide_module(monkeypatch, module):
    """Makes `import module` fail as if it were not installed."""
    for name in list(sys.modules):
        if name == module or name.startswith(module + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)


def test_missing_playground_says_how_to_install(monkeypatch):
    _hide_module(monkeypatch, "mujoco_playground")
    with pytest.raises(ImportError, match=r"pip install 'jaxreward\[playground\]'"):
        playground.PlaygroundEnv("CartpoleSwingup")


def test_missing_gymnax_says_how_to_install(monkeypatch):
    _hide_module(monkeypatch, "gymnax")
    with pytest.raises(ImportError, match=r"pip install 'jaxreward\[gymnax\]'"):
        gymnax_suite.GymnaxEnv("CartPole-v1")


def test_adapter_names_are_registered_exactly_when_installed():
    registered = set(envs.names())
    assert (set(playground.TASKS) <= registered) == playground.available()
    assert (set(gymnax_suite.TASKS) <= registered) == gymnax_suite.available()
    assert not any(n.startswith("dmc/") for n in registered) or playground.available()


# ---------------------------------------------------------------------------------------------
# MuJoCo Playground DM Control suite.

PARITY_STEPS = 30


@pytest.fixture(scope="module")
def cartpole_side_by_side():
    """Our dmc/cartpole_swingup and Playground's own CartpoleSwingup, same keys and actions.

    One jitted program steps both (one compile), with an episode length of 20 so the time
    limit ends the first episode inside the run.
    """
    pytest.importorskip("mujoco_playground")
    ours = envs.make("dmc/cartpole_swingup", episode_length=20)
    theirs = playground.load("CartpoleSwingup", impl="jax")

    @jax.jit
    def run(key):
        reset_key, action_key = jax.random.split(key)
        actions = jax.random.uniform(action_key, (PARITY_STEPS, ours.action_size), minval=-1.0, maxval=1.0)

        def one(carry, action):
            a, b = carry
            a, b = ours.step(a, action), theirs.step(b, action)
            return (a, b), (a.obs, a.reward, a.done, a.info["truncation"], a.metrics, b.obs, b.reward)

        start = (ours.reset(reset_key), theirs.reset(reset_key))
        return start[0], jax.lax.scan(one, start, actions)[1]

    return ours, run(jax.random.PRNGKey(0))


def test_playground_rewards_and_observations_equal_playgrounds_own(cartpole_side_by_side):
    _, (start, (obs, reward, _, _, metrics, pg_obs, pg_reward)) = cartpole_side_by_side
    np.testing.assert_array_equal(reward, pg_reward)
    np.testing.assert_array_equal(obs, pg_obs)
    assert np.ptp(np.asarray(reward)) > 0, "a constant reward cannot show parity"
    np.testing.assert_array_equal(metrics["reward/task"], reward)
    np.testing.assert_array_equal(metrics["success"], np.asarray(reward) >= 0.9)
    # Playground's own per-factor metrics ride along under a non-reward prefix.
    assert "playground/reward/upright" in metrics
    assert set(start.metrics) == set(metrics)


def test_playground_state_fields_follow_the_contract(cartpole_side_by_side):
    env, (start, (obs, reward, done, truncation, metrics, _, _)) = cartpole_side_by_side
    assert env.unwrapped.default_episode_length == 1000
    assert env.observation_size == 5 and env.action_size == 1 and not env.discrete
    assert obs.dtype == jnp.float32 and obs.shape == (PARITY_STEPS, 5)
    assert reward.dtype == jnp.float32 and done.dtype == jnp.float32
    assert float(start.reward) == 0.0 and set(start.info) >= {"truncation", "steps"}
    # The episode length of 20 ends the 20th step by truncation, not termination.
    # (Without auto-reset the ended episode stays ended.)
    assert not np.asarray(done)[:19].any() and float(done[19]) == 1.0 and float(truncation[19]) == 1.0
    assert not np.asarray(truncation)[:19].any()
    # Rewards are DM Control's, in [0, 1]; the hanging start earns almost nothing.
    assert (np.asarray(reward) >= 0).all() and (np.asarray(reward) <= 1).all()
    assert float(np.asarray(reward)[0]) < 0.1


def test_playground_adapter_covers_the_dm_control_suite():
    pytest.importorskip("mujoco_playground")
    from mujoco_playground import dm_control_suite

    assert sorted(playground.TASKS.values()) == sorted(dm_control_suite.ALL_ENVS)
    # Loading takes ~1–3 s per task: build a few of different kinds (tests above use cartpole).
    for name in ("dmc/cheetah_run", "dmc/humanoid_walk", "dmc/ball_in_cup_catch"):
        env = envs.make(name, time_limit=False)
        assert env.task == playground.TASKS[name]
        assert env.observation_size > 0 and env.action_size > 0
        assert env.default_episode_length == 1000, name


def test_playground_impl_option_reaches_playground():
    pytest.importorskip("mujoco_playground")
    env = envs.make("dmc/pendulum_swingup", time_limit=False)
    assert env.playground_env.mjx_model.impl.value == "jax"
    with pytest.raises(ValueError, match="impl"):
        envs.make("dmc/pendulum_swingup", implementation="warp")


# ---------------------------------------------------------------------------------------------
# gymnax.


def _gymnax_side_by_side(name, actions):
    """Steps our gymnax/<name> and gymnax's own step_env with the same keys and actions.

    actions: ours, [T, ...]; gymnax receives `env._gymnax_action(action)`.
    """
    env = envs.make(name, time_limit=False)
    gym_env, params = env.gymnax_env, env.params

    @jax.jit
    def run(key, actions):
        state = env.reset(key)
        reset_key, step_key = jax.random.split(key)
        gym_obs, gym_state = gym_env.reset_env(reset_key, params)

        def one(carry, action):
            state, gym_state, key = carry
            key, sub = jax.random.split(key)
            state = env.step(state, action)
            gym_obs, gym_state, gym_reward, gym_done, _ = gym_env.step_env(
                sub, gym_state, env._gymnax_action(action), params
            )
            record = (state.obs, state.reward, state.done, jnp.ravel(gym_obs), gym_reward, gym_done)
            return (state, gym_state, key), record

        first = (state.obs, jnp.ravel(gym_obs))
        return first, jax.lax.scan(one, (state, gym_state, step_key), actions)[1]

    return env, run(jax.random.PRNGKey(0), actions)


@pytest.mark.parametrize("name", ["gymnax/cartpole", "gymnax/breakout"])
def test_gymnax_discrete_tasks_match_gymnax(name):
    pytest.importorskip("gymnax")
    actions = jax.random.randint(jax.random.PRNGKey(1), (40,), 0, envs.make(name).action_size, jnp.int32)
    env, ((obs0, gym_obs0), (obs, reward, done, gym_obs, gym_reward, gym_done)) = _gymnax_side_by_side(name, actions)
    assert env.discrete and obs.dtype == jnp.float32
    np.testing.assert_array_equal(obs0, gym_obs0)
    # Compare up to the first termination (after it gymnax's step_env is not meant to go on).
    end = int(np.argmax(np.asarray(gym_done))) + 1 if np.asarray(gym_done).any() else len(actions)
    np.testing.assert_array_equal(obs[:end], gym_obs[:end])
    np.testing.assert_array_equal(reward[:end], gym_reward[:end])
    np.testing.assert_array_equal(done[:end], np.asarray(gym_done[:end], np.float32))


def test_gymnax_continuous_actions_rescale_to_the_box():
    pytest.importorskip("gymnax")
    actions = jnp.array([[1.0], [-1.0], [0.0], [0.5], [3.0]])
    env, ((obs0, gym_obs0), (obs, reward, _, gym_obs, gym_reward, _)) = _gymnax_side_by_side("gymnax/pendulum", actions)
    # Pendulum's torque box is [-2, 2]: [-1, 1] maps onto it; out-of-range actions are clipped.
    np.testing.assert_allclose(np.asarray(jax.vmap(env._gymnax_action)(actions))[:, 0], [2.0, -2.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(obs, gym_obs)
    np.testing.assert_array_equal(reward, gym_reward)


def test_gymnax_time_limit_is_ours_and_truncates():
    pytest.importorskip("gymnax")
    env = envs.make("gymnax/catch")
    assert env.episode_length == 1000 and env.observation_size == 50
    # Catch ends when the ball reaches the paddle's row: a termination after 9 steps. With
    # action 1 the paddle stays, so the catch (+1) or miss (-1) is fixed by the reset: seed 3
    # drops the ball in the paddle's column 2, seed 0 drops it elsewhere.
    step = jax.jit(env.step)
    for seed, caught in ((3, True), (0, False)):
        state = env.reset(jax.random.PRNGKey(seed))
        start = state.pipeline_state["env_state"]
        assert bool(start.ball_x == start.paddle_x) == caught, (seed, start)
        for t in range(9):
            assert float(state.done) == 0.0, (seed, t)
            state = step(state, jnp.int32(1))
        assert float(state.done) == 1.0 and float(state.info["truncation"]) == 0.0
        assert float(state.reward) == (1.0 if caught else -1.0), (seed, float(state.reward))
        assert float(state.metrics["success"]) == float(caught)
    short = envs.make("gymnax/catch", episode_length=4)
    state = short.reset(jax.random.PRNGKey(3))
    for t in range(4):
        assert float(state.done) == 0.0, t
        state = short.step(state, jnp.int32(1))
    assert float(state.done) == 1.0 and float(state.info["truncation"]) == 1.0
    assert float(state.reward) == 0.0  # the ball is still falling when time runs out
