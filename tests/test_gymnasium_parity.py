"""Parity with the Gymnasium tasks our envs follow: same start, same actions, same outcome.

For each env that claims to follow a Gymnasium task, the same action sequence runs through
our env (one jitted step, shared with the other env-physics files through `jitted_env`) and
through the Gymnasium task, started from our reset state (`set_state(qpos, qvel)` for the
MuJoCo tasks, `.state` for the classic ones). Observations, rewards and termination are
compared step by step.

The MuJoCo tasks are compared twice, to keep two questions apart:

- *Task equations* — Gymnasium's task code stepping **our** compiled model (its `model` and
  `data` swapped for ours): observation layout, reward terms, action scaling, frame skip and
  termination must agree up to MJX-vs-CPU float32 noise. Differences in where a quantity is
  read (one physics substep apart) are asserted as such.
- *Physics* — Gymnasium's task on **its own** model (RK4, converged solver, every geom
  colliding): the models' masses, inertias, joints and actuators are asserted identical and
  the documented setting differences asserted present; trajectories then agree within
  tolerances measured here (worst error over the steps compared, with a margin).

docs/gymnasium-parity.md lists every intended difference and the tolerances.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from conftest import env_jit
from envs import _catalog

gymnasium = pytest.importorskip("gymnasium", reason="gymnasium is a test dependency (the `dev` extra)")

#: Compared here: every task the env catalog maps to Gymnasium except mountain car.
GYMNASIUM_IDS = {k: v for k, v in _catalog.GYMNASIUM_IDS.items() if k != "mountain_car"}
LOCOMOTION = ["hopper", "walker2d", "halfcheetah", "ant", "humanoid"]
MUJOCO_TASKS = LOCOMOTION + ["reacher"]
NUM_STEPS = 20


def gymnasium_task(name: str):
    """The unwrapped Gymnasium env for `name`, reset once (its own reset noise, overwritten later)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Gymnasium's half-cheetah model uses the deprecated settotalmass
        task = gymnasium.make(GYMNASIUM_IDS[name]).unwrapped
    task.reset(seed=0)
    return task


def base_env(env):
    """The innermost env under wrappers (the robot class with `mj_model`, `n_frames`, ...)."""
    while hasattr(env, "env"):
        env = env.env
    return env


class Trajectory:
    """Observations [T, obs_dim], rewards [T], termination flags [T] and the per-step extras."""

    def __init__(self):
        self.obs, self.reward, self.done, self.qpos, self.qvel, self.info = [], [], [], [], [], []
        self.fresh_obs = []  # Gymnasium only: the observation with body positions refreshed

    def arrays(self):
        keys = ("obs", "reward", "done", "qpos", "qvel") + (("fresh_obs",) if self.fresh_obs else ())
        return {k: np.asarray(getattr(self, k), np.float64) for k in keys}


@pytest.fixture(scope="module")
def ours(jitted_env):
    """name -> (start state, our Trajectory over the shared action sequence, ctrls [T, nu], jitted step); one compile per env."""
    cache = {}

    def get(name: str):
        if name not in cache:
            env = jitted_env(name)
            step = env_jit(env.step)
            state = env_jit(env.reset)(jax.random.PRNGKey(11))
            start = state
            actions = jax.random.uniform(jax.random.PRNGKey(12), (NUM_STEPS, env.action_size), minval=-1, maxval=1)
            traj, ctrls = Trajectory(), []
            for action in actions:
                state = step(state, action)
                data = state.pipeline_state
                traj.obs.append(np.asarray(state.obs))
                traj.reward.append(float(state.reward))
                traj.done.append(float(state.done))
                traj.qpos.append(np.asarray(data.qpos))
                traj.qvel.append(np.asarray(data.qvel))
                traj.info.append({k: float(v) for k, v in state.metrics.items()})
                ctrls.append(np.asarray(data.ctrl, np.float64))
            cache[name] = (start, traj, np.asarray(ctrls), step)
        return cache[name]

    return get


def run_gymnasium(task, start, ctrls, fresh_obs: bool = False) -> Trajectory:
    """Steps a Gymnasium MuJoCo task from our start state with our controls (its action space is the ctrlrange).

    fresh_obs: also record the observation with body positions recomputed from the final
    qpos (Reacher: Gymnasium's fingertip and target positions are one substep old). Only for
    tasks whose step reads no positions before simulating, as the refresh stays in `data`.
    """
    data = start.pipeline_state
    task.set_state(np.asarray(data.qpos, np.float64), np.asarray(data.qvel, np.float64))
    traj = Trajectory()
    for ctrl in ctrls:
        obs, reward, terminated, truncated, info = task.step(ctrl)
        assert not truncated  # the unwrapped tasks have no time limit
        traj.obs.append(obs)
        traj.reward.append(reward)
        traj.done.append(float(terminated))
        traj.qpos.append(task.data.qpos.copy())
        traj.qvel.append(task.data.qvel.copy())
        traj.info.append(info)
        if fresh_obs:
            mujoco.mj_kinematics(task.model, task.data)
            traj.fresh_obs.append(task._get_obs())
    return traj


def on_our_model(task, model: mujoco.MjModel):
    """`task` stepping `model` (ours) instead of its own: Gymnasium's task code, our physics."""
    task.model = model
    task.data = mujoco.MjData(model)
    return task


def worst(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


# ---------------------------------------------------------------------------------------------
# The models: identical bodies, joints and actuators; the documented setting differences.

#: Arrays that must agree between our model and Gymnasium's (the robot itself).
ROBOT_FIELDS = ["body_mass", "body_inertia", "body_pos", "body_quat", "body_ipos", "jnt_type", "jnt_range",
                "qpos0", "dof_damping", "dof_armature", "jnt_stiffness", "actuator_gear", "actuator_ctrlrange"]

#: Geoms that can touch the floor in our (Brax-derived) models; every geom can in Gymnasium's.
OUR_COLLIDING_GEOMS = {
    "hopper": {"foot_geom"},
    "walker2d": {"torso_geom", "foot_geom", "foot_left_geom"},
    "halfcheetah": {"head", "bthigh", "bfoot", "fthigh", "ffoot"},
    "ant": {"left_foot_geom", "right_foot_geom", "third_foot_geom", "fourth_foot_geom"},
    "humanoid": {"right_foot", "left_foot"},
}
#: (integrator, Newton iterations) of Gymnasium's models; ours are Euler with 1 (2 for ant, humanoid).
GYMNASIUM_INTEGRATOR = {"hopper": "RK4", "walker2d": "RK4", "halfcheetah": "EULER", "ant": "RK4", "humanoid": "RK4"}


def colliding_geoms(model: mujoco.MjModel) -> set[str]:
    floor = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
    names = set()
    for g in range(model.ngeom):
        if g != floor and (model.geom_contype[g] & model.geom_conaffinity[floor] or
                           model.geom_conaffinity[g] & model.geom_contype[floor]):
            names.add(mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g))
    return names


@pytest.mark.parametrize("name", LOCOMOTION)
def test_locomotion_model_is_gymnasiums_robot_with_documented_settings(jitted_env, name):
    ours_env = base_env(jitted_env(name))
    model, theirs = ours_env.mj_model, gymnasium_task(name).model
    for field in ROBOT_FIELDS:
        np.testing.assert_allclose(getattr(model, field), getattr(theirs, field), rtol=1e-5, atol=1e-7, err_msg=field)
    assert model.opt.timestep == theirs.opt.timestep
    assert ours_env.n_frames == gymnasium_task(name).frame_skip
    np.testing.assert_allclose(model.opt.gravity, theirs.opt.gravity)
    # Documented differences: integrator, solver effort, which geoms touch the floor.
    assert mujoco.mjtIntegrator(theirs.opt.integrator).name == "mjINT_" + GYMNASIUM_INTEGRATOR[name]
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER
    assert (model.opt.iterations, model.opt.ls_iterations) == (ours_env.solver_iterations, 4)
    assert theirs.opt.iterations >= 50
    assert colliding_geoms(model) == OUR_COLLIDING_GEOMS[name]
    floor = mujoco.mj_name2id(theirs, mujoco.mjtObj.mjOBJ_GEOM, "floor")
    assert colliding_geoms(theirs) == {mujoco.mj_id2name(theirs, mujoco.mjtObj.mjOBJ_GEOM, g)
                                       for g in range(theirs.ngeom) if g != floor} - {None}




# ---------------------------------------------------------------------------------------------
# Task equations: Gymnasium's task code stepping our model.

#: Our reward term -> Gymnasium's info key for it.
REWARD_TERMS = {"reward/forward": "reward_forward", "reward/healthy": "reward_survive",
                "reward/control": "reward_ctrl", "reward/contact": "reward_contact",
                "reward/distance": "reward_dist"}


def term_errors(ours_traj: Trajectory, theirs_traj: Trajectory) -> dict[str, float]:
    """{our reward term: worst |ours - Gymnasium's| over the steps}."""
    return {
        key: worst([m[key] for m in ours_traj.info], [i[their_key] for i in theirs_traj.info])
        for key, their_key in REWARD_TERMS.items()
        if key in ours_traj.info[0]
    }


#: Worst |ours - Gymnasium's| over NUM_STEPS steps of Gymnasium's task code on our model,
#: MJX (float32) against CPU MuJoCo (float64): (obs, reward, every reward term but the ones
#: in ALIGNED_TERM_TOL). Measured here at about half these values (humanoid: see below).
ALIGNED_TOL = {
    "hopper": (2e-3, 5e-4, 1e-6),
    "walker2d": (2e-2, 1e-3, 1e-6),
    "halfcheetah": (5e-2, 5e-3, 1e-6),
    "ant": (5e-3, 0.5, 1e-5),
    "reacher": (1e-5, 1e-5, 1e-5),
}
#: Terms read at a different instant: Ant-v5's forward term is the rate of change of the
#: torso body's `xpos`, one substep old after a step, ours of the root's `qpos[0]`.
ALIGNED_TERM_TOL = {("ant", "reward/forward"): 0.5}


@pytest.mark.parametrize("name", [n for n in MUJOCO_TASKS if n != "humanoid"])
def test_gymnasium_task_code_on_our_model(ours, jitted_env, name):
    start, traj, ctrls, _ = ours(name)
    model = base_env(jitted_env(name)).mj_model
    theirs = run_gymnasium(on_our_model(gymnasium_task(name), model), start, ctrls, fresh_obs=name == "reacher")
    a, b = traj.arrays(), theirs.arrays()
    obs_tol, reward_tol, term_tol = ALIGNED_TOL[name]
    np.testing.assert_array_equal(a["done"], b["done"])
    if name == "reacher":
        # Gymnasium's fingertip−target (obs[8:10]) and reward distance use the body positions
        # of the last substep's forward pass; ours are refreshed after the step. With fresh
        # positions Gymnasium's observation is ours.
        np.testing.assert_allclose(a["obs"], b["fresh_obs"], atol=obs_tol)
        np.testing.assert_allclose(a["obs"][:, :8], b["obs"][:, :8], atol=obs_tol)
        fresh_distance = -np.linalg.norm(b["fresh_obs"][:, 8:10], axis=1)
        np.testing.assert_allclose([m["reward/distance"] for m in traj.info], fresh_distance, atol=reward_tol)
        # The stale positions lag by one substep of fingertip motion (arm speed × 0.01 s).
        assert 1e-4 < worst(a["obs"][:, 8:10], b["obs"][:, 8:10]) < 0.05
    else:
        np.testing.assert_allclose(a["obs"], b["obs"], atol=obs_tol)
        np.testing.assert_allclose(a["reward"], b["reward"], atol=reward_tol)
    for key, error in term_errors(traj, theirs).items():
        if name == "reacher" and key == "reward/distance":
            assert error < 0.05, "one substep of fingertip motion"
        else:
            # The forward term carries the MJX-vs-CPU difference of the motion, the others none.
            default = reward_tol if key == "reward/forward" else term_tol
            assert error <= ALIGNED_TERM_TOL.get((name, key), default), key


def test_gymnasium_humanoid_code_on_our_model(ours, jitted_env):
    """The humanoid's 20 steps amplify float32 differences in the contact solve; its state
    parts are compared with tolerances, its force parts relative to their size."""
    start, traj, ctrls, _ = ours("humanoid")
    model = base_env(jitted_env("humanoid")).mj_model
    theirs = run_gymnasium(on_our_model(gymnasium_task("humanoid"), model), start, ctrls)
    a, b = traj.arrays(), theirs.arrays()
    blocks = {"qpos": (0, 22), "qvel": (22, 45), "cinert": (45, 175), "cvel": (175, 253),
              "qfrc_actuator": (253, 270), "cfrc_ext": (270, 348)}
    for block, (lo, hi) in blocks.items():
        scale = 1.0 + np.abs(b["obs"][:, lo:hi]).max()
        assert worst(a["obs"][:, lo:hi], b["obs"][:, lo:hi]) / scale < HUMANOID_ALIGNED_TOL[block], block
    np.testing.assert_array_equal(a["done"], b["done"])
    np.testing.assert_allclose(a["reward"], b["reward"], atol=0.1)
    for key, error in term_errors(traj, theirs).items():
        assert error < {"reward/forward": 0.02, "reward/contact": 0.1}.get(key, 1e-6), key


#: Worst |ours - Gymnasium's| of each humanoid observation block over NUM_STEPS steps,
#: relative to 1 + the block's largest entry (measured: about half of each).
HUMANOID_ALIGNED_TOL = {"qpos": 1e-2, "qvel": 0.1, "cinert": 1e-3, "cvel": 0.15, "qfrc_actuator": 1e-6,
                        "cfrc_ext": 0.2}

#: One-step starts out of the healthy range ({qpos index: value}), healthy start first.
UNHEALTHY_STARTS = {
    "hopper": [{}, {1: 0.6}, {2: 0.4}],
    "walker2d": [{}, {1: 0.7}, {1: 2.5}, {2: 1.2}],
    "ant": [{}, {2: 1.5}],
    "humanoid": [{}, {2: 2.5}],
}


@pytest.mark.parametrize("name", sorted(UNHEALTHY_STARTS))
def test_termination_and_healthy_reward_match_gymnasium(ours, jitted_env, name):
    start, _, ctrls, step = ours(name)
    task = on_our_model(gymnasium_task(name), base_env(jitted_env(name)).mj_model)
    dones = []
    for edit in UNHEALTHY_STARTS[name]:
        data = start.pipeline_state
        qpos = data.qpos
        for i, v in edit.items():
            qpos = qpos.at[i].set(v)
        state = start.replace(pipeline_state=data.replace(qpos=qpos))
        out = step(state, jnp.zeros(len(ctrls[0])))
        theirs = run_gymnasium(task, state, np.zeros((1, len(ctrls[0]))))
        assert float(out.done) == theirs.done[0], edit
        assert float(out.metrics["reward/healthy"]) == theirs.info[0]["reward_survive"], edit
        dones.append(float(out.done))
    assert dones == [0.0] + [1.0] * (len(dones) - 1)


# ---------------------------------------------------------------------------------------------
# Physics: Gymnasium's task on its own model.


@pytest.mark.parametrize("name", MUJOCO_TASKS)
def test_gymnasium_task_on_its_own_model(ours, name):
    start, traj, ctrls, _ = ours(name)
    theirs = run_gymnasium(gymnasium_task(name), start, ctrls)
    a, b = traj.arrays(), theirs.arrays()
    steps = NUM_STEPS
    if name == "reacher":
        # Gymnasium limits the elbow to ±3 rad, ours does not: compare up to the step where
        # Gymnasium's elbow reaches its limit, and check that the limit is what parts them.
        at_limit = np.flatnonzero(np.abs(b["qpos"][:, 1]) > 2.9)
        assert at_limit.size and np.abs(a["qvel"][at_limit[0] + 1, 1] - b["qvel"][at_limit[0] + 1, 1]) > 1.0
        steps = int(at_limit[0])
    qpos_tol, obs_tol, reward_tol = STOCK_TOL[name]
    obs_dims = 45 if name == "humanoid" else a["obs"].shape[1]  # humanoid: its qpos/qvel part
    np.testing.assert_array_equal(a["done"], b["done"])
    assert worst(a["qpos"][:steps], b["qpos"][:steps]) < qpos_tol
    assert worst(a["obs"][:steps, :obs_dims], b["obs"][:steps, :obs_dims]) < obs_tol
    assert worst(a["reward"][:steps], b["reward"][:steps]) < reward_tol


#: Worst |ours - Gymnasium's| over NUM_STEPS steps of the stock Gymnasium task from our
#: start with our controls: (qpos, observation, reward); measured here at about half these.
#: The observations' velocities part most (contacts of other geoms, RK4 vs Euler).
STOCK_TOL = {
    "hopper": (0.1, 4.0, 0.2),
    "walker2d": (0.5, 15.0, 0.8),
    "halfcheetah": (0.5, 15.0, 1.5),
    "ant": (0.8, 25.0, 1.5),
    "humanoid": (0.12, 8.0, 1.0),
    "reacher": (0.2, 0.2, 0.02),
}


# ---------------------------------------------------------------------------------------------
# Classic control: the same equations, so the same numbers (float32 against float64).


def test_pendulum_matches_gymnasium(jitted_env):
    env = jitted_env("pendulum")
    step = env_jit(env.step)
    state = env_jit(env.reset)(jax.random.PRNGKey(13))
    task = gymnasium_task("pendulum")
    task.state = np.asarray(state.pipeline_state, np.float64)
    actions = jax.random.uniform(jax.random.PRNGKey(14), (NUM_STEPS, 1), minval=-1.2, maxval=1.2)
    for action in actions:
        state = step(state, action)
        # Our action in [-1, 1] is Gymnasium's torque in [-2, 2] halved; both clip.
        obs, reward, terminated, truncated, _ = task.step(2.0 * np.asarray(action, np.float64))
        np.testing.assert_allclose(state.obs, obs, atol=1e-4)
        assert float(state.reward) == pytest.approx(reward, abs=1e-4)
        assert float(state.done) == float(terminated) == 0.0 and not truncated


def test_cartpole_matches_gymnasium_through_termination(jitted_env):
    env = jitted_env("cartpole")
    step = env_jit(env.step)
    state = env_jit(env.reset)(jax.random.PRNGKey(15))
    task = gymnasium_task("cartpole")
    task.state = np.asarray(state.pipeline_state, np.float64)
    # A few random pushes, then always right: the pole falls within the sequence.
    actions = list(np.random.default_rng(16).integers(0, 2, 5)) + [1] * 40
    for t, action in enumerate(actions):
        state = step(state, jnp.asarray(action, jnp.int32))
        obs, reward, terminated, truncated, _ = task.step(int(action))
        np.testing.assert_allclose(state.obs, obs, atol=1e-5)
        assert float(state.reward) == reward == 1.0  # paid on the terminating step too
        assert float(state.done) == float(terminated)
        if terminated:
            break
    assert terminated and t > 5
