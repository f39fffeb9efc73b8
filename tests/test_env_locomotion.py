"""Locomotion envs (MJX): reward signs, termination, reward terms, contact wrenches, models.

Compiles dominate on a CPU, so each env gets one jitted reset and one jitted step
(`compiled`, module-scoped) that every test here shares; states are edited by hand
(root velocity, root height) and stepped once or a few times. The generic contract
checks over every registered env live in test_envs.py.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

import envs
from envs.locomotion.base import brax_asset

from conftest import env_jit

ALL = ["hopper", "walker2d", "halfcheetah", "ant", "humanoid"]
#: Robots that can fall, with the index of the root height in qpos.
HEIGHT_INDEX = {"hopper": 1, "walker2d": 1, "ant": 2, "humanoid": 2}


class Compiled:
    """One env (no time limit) with its jitted reset and step: the session's shared env
    (conftest.jitted_env), whose traces test_envs.py has usually made already."""

    def __init__(self, env):
        self.env = env
        self.reset = env_jit(env.reset)
        self.step = env_jit(env.step)

    def edited(self, state, qpos=None, qvel=None):
        """`state` with some qpos/qvel entries replaced ({index: value})."""
        data = state.pipeline_state
        new_qpos, new_qvel = data.qpos, data.qvel
        for i, v in (qpos or {}).items():
            new_qpos = new_qpos.at[i].set(v)
        for i, v in (qvel or {}).items():
            new_qvel = new_qvel.at[i].set(v)
        return state.replace(pipeline_state=data.replace(qpos=new_qpos, qvel=new_qvel))

    def zero_action(self):
        return jnp.zeros(self.env.action_size)


@pytest.fixture(scope="module")
def compiled(jitted_env):
    cache: dict[str, Compiled] = {}

    def get(name: str) -> Compiled:
        if name not in cache:
            cache[name] = Compiled(jitted_env(name))
        return cache[name]

    return get


# ---------------------------------------------------------------------------------------------
# Forward reward: it follows the sign (and size) of the root's x motion.


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_forward_reward_follows_the_pushed_root(compiled, name, sign):
    c = compiled(name)
    env = c.env
    speed = 2.0 * env.success_speed
    before = c.edited(c.reset(jax.random.PRNGKey(0)), qvel={0: sign * speed})
    after = c.step(before, c.zero_action())
    m = {k: float(v) for k, v in after.metrics.items()}

    assert sign * m["reward/forward"] > 0
    assert m["reward/forward"] == pytest.approx(env.forward_reward_weight * m["x_velocity"], rel=1e-5)
    # x_velocity is the displacement of the reference point over the env step's duration.
    if name == "humanoid":
        position = lambda s: float(s.pipeline_state.subtree_com[1, 0])  # noqa: E731 (centre of mass)
        # As in Gymnasium, the centre of mass after a step is the one the last substep's
        # forward pass computed, one substep before the end: the first step after a reset
        # sees n_frames - 1 substeps of the push.
        expected = speed * (env.n_frames - 1) / env.n_frames
    else:
        position = lambda s: float(s.pipeline_state.qpos[0])  # noqa: E731
        expected = speed
    assert m["x_velocity"] == pytest.approx((position(after) - position(before)) / env.dt, rel=1e-3)
    # The push carries over the step: gravity does not act along x and ground friction can
    # take off only part of it within one step.
    assert sign * m["x_velocity"] == pytest.approx(expected, rel=0.1)
    # Fast enough forward (and healthy) is success; backward never is.
    assert m["success"] == (1.0 if sign > 0 else 0.0)
    assert float(after.done) == 0.0


# ---------------------------------------------------------------------------------------------
# Health: leaving the height range ends the episode and stops the healthy reward.


UPSIDE_DOWN = {3: 0.0, 4: 1.0, 5: 0.0, 6: 0.0}  # free-joint quaternion: half a turn about x
#: Root heights out of the healthy range, as qpos edits that stay out of range for a step.
#: Too low for a planar robot pushes its foot into the floor, which lifts it back only
#: partly within a step; the free-floating robots are turned upside down so that the
#: floor (which only touches their feet) leaves them falling.
UNHEALTHY_HEIGHTS = {
    "hopper": [{1: 0.6}],
    "walker2d": [{1: 0.7}, {1: 2.5}],
    "ant": [{2: 0.15, **UPSIDE_DOWN}, {2: 1.5}],
    "humanoid": [{2: 0.9, **UPSIDE_DOWN}, {2: 2.5}],
}


@pytest.mark.parametrize("name", sorted(HEIGHT_INDEX))
def test_leaving_the_healthy_height_range_terminates(compiled, name):
    c = compiled(name)
    env = c.env
    state = c.reset(jax.random.PRNGKey(1))

    healthy = c.step(state, c.zero_action())
    assert float(healthy.done) == 0.0
    assert float(healthy.metrics["reward/healthy"]) == env.healthy_reward

    low, high = env.healthy_z_range
    for edit in UNHEALTHY_HEIGHTS[name]:
        out = c.step(c.edited(state, qpos=edit), c.zero_action())
        z = float(out.pipeline_state.qpos[HEIGHT_INDEX[name]])
        assert not low < z < high, f"{edit}: height {z} back in range after a step"
        assert float(out.done) == 1.0, f"{edit}: height {z} did not terminate"
        assert float(out.metrics["reward/healthy"]) == 0.0
        assert float(out.metrics["success"]) == 0.0


@pytest.mark.parametrize("name", ["hopper", "walker2d"])
def test_leaving_the_healthy_pitch_range_terminates(compiled, name):
    c = compiled(name)
    state = c.reset(jax.random.PRNGKey(2))
    tilted = c.step(c.edited(state, qpos={2: c.env.healthy_angle_range[1] + 0.2}), c.zero_action())
    assert float(tilted.done) == 1.0 and float(tilted.metrics["reward/healthy"]) == 0.0


def test_without_termination_an_unhealthy_hopper_goes_on(jitted_env):
    c = Compiled(jitted_env("hopper", terminate_when_unhealthy=False))
    state = c.edited(c.reset(jax.random.PRNGKey(1)), qpos={2: 1.0})  # pitched over: it keeps falling
    for _ in range(3):
        state = c.step(state, c.zero_action())
        assert float(state.done) == 0.0
        assert float(state.metrics["reward/healthy"]) == 0.0  # v5: paid only while healthy
        terms = sum(float(v) for k, v in state.metrics.items() if k.startswith("reward/"))
        assert terms == pytest.approx(float(state.reward), abs=1e-5)


def test_halfcheetah_has_no_health_terms(compiled):
    c = compiled("halfcheetah")
    assert "healthy_reward" not in envs.options("halfcheetah")
    state = c.edited(c.reset(jax.random.PRNGKey(3)), qpos={1: -0.5, 2: 3.0})  # sunk and flipped
    out = c.step(state, c.zero_action())
    assert float(out.done) == 0.0
    assert set(out.metrics) == {"reward/forward", "reward/control", "success", "x_velocity"}


# ---------------------------------------------------------------------------------------------
# Reward terms: known values of the control and healthy terms; the terms sum to the reward.


@pytest.mark.parametrize("name", ALL)
def test_reward_terms_have_their_known_values_and_sum_to_the_reward(compiled, name):
    c = compiled(name)
    env = c.env
    action = jnp.full(env.action_size, 0.5, jnp.float32).at[0].set(3.0)  # out-of-range entries are clipped
    out = c.step(c.reset(jax.random.PRNGKey(4)), action)

    low, high = env.mj_model.actuator_ctrlrange.T
    ctrl = low + 0.5 * (np.clip(np.asarray(action), -1, 1) + 1) * (high - low)
    np.testing.assert_allclose(out.pipeline_state.ctrl, ctrl, rtol=1e-6)
    assert float(out.pipeline_state.ctrl[0]) == pytest.approx(high[0])
    m = {k: float(v) for k, v in out.metrics.items()}
    assert m["reward/control"] == pytest.approx(-env.ctrl_cost_weight * np.sum(ctrl**2), rel=1e-5)
    if env.healthy_reward is not None:
        assert m["reward/healthy"] == env.healthy_reward
    if "reward/contact" in m:
        assert -env.contact_cost_cap <= m["reward/contact"] <= 0.0
    terms = [v for k, v in m.items() if k.startswith("reward/")]
    assert sum(terms) == pytest.approx(float(out.reward), abs=1e-5)


# ---------------------------------------------------------------------------------------------
# Contact wrenches (ant, humanoid): they carry the robot's weight and enter obs and reward.


def test_ant_contact_wrenches_carry_its_weight(compiled):
    c = compiled("ant")
    env = c.env
    state = c.reset(jax.random.PRNGKey(5))
    vertical = []
    for _ in range(60):  # 3 s: the ant drops onto its feet, then settles slowly
        state = c.step(state, c.zero_action())
        cfrc_ext = np.asarray(state.pipeline_state._impl.cfrc_ext)  # [nbody, 6]: torque, force
        vertical.append(cfrc_ext[:, 5].sum())
    assert float(state.done) == 0.0
    # Nearly at rest, the floor's push on the feet balances gravity on average over time.
    weight = env.mj_model.body_mass.sum() * -env.mj_model.opt.gravity[2]
    assert np.mean(vertical[20:]) == pytest.approx(weight, rel=0.05)
    # The observation ends with the clipped wrenches of the 13 bodies; the cost squares them.
    clipped = np.clip(cfrc_ext, -1.0, 1.0)
    np.testing.assert_allclose(state.obs[-78:], clipped[1:].ravel(), atol=1e-6)
    cost = env.contact_cost_weight * np.sum(clipped**2)
    assert cost > 0
    assert float(state.metrics["reward/contact"]) == pytest.approx(-cost, rel=1e-5)


def test_humanoid_observation_layout(compiled):
    c = compiled("humanoid")
    state = c.step(c.reset(jax.random.PRNGKey(6)), jnp.full(17, 0.5, jnp.float32))
    data, obs = state.pipeline_state, np.asarray(state.obs)
    parts = [
        data.qpos[2:],
        data.qvel,
        data._impl.cinert[1:].ravel(),
        data.cvel[1:].ravel(),
        data.qfrc_actuator[6:],
        data._impl.cfrc_ext[1:].ravel(),
    ]
    np.testing.assert_allclose(obs, np.concatenate([np.asarray(p) for p in parts]), rtol=1e-6)
    # Half of the ±0.4 ctrlrange through the gears: the actuator forces are not zero.
    assert np.abs(obs[22 + 23 + 130 + 78 :][:17]).min() > 1.0


# ---------------------------------------------------------------------------------------------
# Physics: the first steps match CPU MuJoCo on the same model (same solver settings).


@pytest.mark.parametrize("name", ALL)
def test_first_steps_match_cpu_mujoco(compiled, name):
    c = compiled(name)
    model = c.env.mj_model
    state = c.reset(jax.random.PRNGKey(7))
    data = mujoco.MjData(model)
    data.qpos[:], data.qvel[:] = np.asarray(state.pipeline_state.qpos), np.asarray(state.pipeline_state.qvel)
    for key in jax.random.split(jax.random.PRNGKey(8), 3):
        action = jax.random.uniform(key, (c.env.action_size,), minval=-1.0, maxval=1.0)
        state = c.step(state, action)
        data.ctrl[:] = np.asarray(state.pipeline_state.ctrl)
        mujoco.mj_step(model, data, nstep=c.env.n_frames)
    np.testing.assert_allclose(state.pipeline_state.qpos, data.qpos, atol=2e-3)
    np.testing.assert_allclose(state.pipeline_state.qvel, data.qvel, atol=5e-2, rtol=5e-2)


# ---------------------------------------------------------------------------------------------
# Reset, observation options and model corrections.


@pytest.mark.parametrize("name", ALL)
def test_reset_perturbs_the_initial_pose_by_at_most_the_noise_scale(compiled, name):
    c = compiled(name)
    qpos0 = c.env.mj_model.qpos0
    seen = []
    for seed in range(3):
        qpos = np.asarray(c.reset(jax.random.PRNGKey(seed)).pipeline_state.qpos)
        assert np.abs(qpos - qpos0).max() <= c.env.reset_noise_scale + 1e-6
        seen.append(qpos)
    assert not np.allclose(seen[0], seen[1])


@pytest.mark.parametrize("name, excluded", [("hopper", 1), ("ant", 2)])
def test_x_position_is_left_out_of_the_observation_by_default(compiled, name, excluded):
    default = compiled(name).reset(jax.random.PRNGKey(9))
    nq = compiled(name).env.mj_model.nq
    np.testing.assert_array_equal(default.obs[: nq - excluded], default.pipeline_state.qpos[excluded:])
    full_env = envs.make(name, time_limit=False, exclude_current_positions_from_observation=False)
    full = full_env.reset(jax.random.PRNGKey(9))  # eager: these resets need no physics
    assert full_env.observation_size == compiled(name).env.observation_size + excluded
    np.testing.assert_array_equal(full.obs[:nq], full.pipeline_state.qpos)


@pytest.mark.parametrize("name", ["hopper", "walker2d"])
def test_planar_root_height_coordinate_is_the_torso_height(compiled, name):
    model = compiled(name).env.mj_model
    data = mujoco.MjData(model)
    torso = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "torso")
    for z in (1.25, 0.9):
        data.qpos[1] = z
        mujoco.mj_kinematics(model, data)
        assert data.xpos[torso, 2] == pytest.approx(z)


def test_walker_feet_have_the_same_friction(compiled):
    model = compiled("walker2d").env.mj_model
    right, left = (mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, g) for g in ("foot_geom", "foot_left_geom"))
    np.testing.assert_array_equal(model.geom_friction[right], model.geom_friction[left])
    assert model.geom_friction[right, 0] == pytest.approx(1.9)  # Walker2d-v5's feet


def test_halfcheetah_masses_match_the_deprecated_total_mass_attribute(compiled):
    model = compiled("halfcheetah").env.mj_model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = mujoco.MjModel.from_xml_path(brax_asset("half_cheetah.xml"))
    assert model.body_mass.sum() == pytest.approx(14.0)
    np.testing.assert_allclose(model.body_mass, reference.body_mass, rtol=1e-6)
    np.testing.assert_allclose(model.body_inertia, reference.body_inertia, rtol=1e-6)
