"""The JAX renderer (envs/rendering): parity with MuJoCo's renderer, batching, determinism,
locality of changes, and a frame for every pure-JAX environment.

Parity uses `mujoco.Renderer` through EGL (Mesa; `.ci/run` installs it). Per commit it runs
on a representative subset of the MJX environments, at several random poses: a fixed top
camera and MuJoCo's free camera (reacher), a fixed camera with sites, boxes and cylinders
(push), a centre-of-mass tracking camera (hopper). With JAXREWARD_TEST_ALL_RENDER=1 it runs on
every MJX environment; `benchmarks/render_parity.py` runs the same comparison over every MJX
environment, the `dmc/*` adapters included (results in benchmarks/results/render_parity.md).
"""

import functools
import os

os.environ.setdefault("MUJOCO_GL", "egl")

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

import envs
from envs.rendering import drawings, raycast
from envs.rendering.camera import look_at
from envs.rendering.scene import geom_index_image, render

from conftest import env_jit

#: JAXREWARD_TEST_ALL_RENDER=1 runs the parity test on every MJX environment (about 20 s of
#: compiling each on two cores, so per commit it runs on the subset).
if os.environ.get("JAXREWARD_TEST_ALL_RENDER", "") not in ("", "0"):
    PARITY_ENVS = [n for n in envs.names() if not n.startswith(("dmc/", "gymnax/"))
                   and hasattr(envs.make(n, time_limit=False).unwrapped, "mj_model")]
else:
    PARITY_ENVS = ["reacher", "push", "hopper"]
SIZE = 48
POSES = 3


def random_poses(env, count: int, seed: int = 0) -> list:
    """`count` states: the reset state with hinge and slide joints moved by N(0, 0.4²)."""
    base = env.unwrapped
    model = base.mj_model
    state = env_jit(env.reset)(jax.random.PRNGKey(seed))
    data = base.render_data(state.pipeline_state)
    hinge = np.zeros(model.nq, bool)
    for j in range(model.njnt):
        if int(model.jnt_type[j]) in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
            hinge[model.jnt_qposadr[j]] = True
    rng = np.random.default_rng(seed)
    states = []
    for k in range(count):
        qpos = np.asarray(data.qpos) + (k > 0) * hinge * rng.normal(0.0, 0.4, model.nq)
        new = data.replace(qpos=jnp.asarray(qpos, jnp.float32))
        pipeline = state.pipeline_state.replace(data=new) if name_is_playground(env) else new
        states.append(state.replace(pipeline_state=pipeline))
    return states


def name_is_playground(env) -> bool:
    return hasattr(env.unwrapped, "playground_env")


def reference(model, renderer, data_jax, camera) -> tuple[np.ndarray, np.ndarray]:
    """MuJoCo's (foreground mask, depth) for the pose in `data_jax`."""
    data = mujoco.MjData(model)
    data.qpos[:] = np.asarray(data_jax.qpos)
    if model.nmocap:
        data.mocap_pos[:], data.mocap_quat[:] = np.asarray(data_jax.mocap_pos), np.asarray(data_jax.mocap_quat)
    mujoco.mj_forward(model, data)
    renderer.update_scene(data, camera=camera)
    renderer.enable_segmentation_rendering()
    seg = renderer.render().copy()
    renderer.disable_segmentation_rendering()
    renderer.enable_depth_rendering()
    depth = renderer.render().copy()
    renderer.disable_depth_rendering()
    ids, types = seg[..., 0], seg[..., 1]
    geom = (types == mujoco.mjtObj.mjOBJ_GEOM) & (ids >= 0)
    solid = geom & (model.geom_type[np.maximum(ids, 0)] != mujoco.mjtGeom.mjGEOM_PLANE)
    site = (types == mujoco.mjtObj.mjOBJ_SITE) & (ids >= 0)
    return solid | site, depth


@pytest.fixture(scope="module")
def gl():
    try:
        renderer = mujoco.Renderer(envs.make("reacher").unwrapped.mj_model, 8, 8)
    except Exception as err:  # no OpenGL on this machine: parity cannot be checked here
        pytest.skip(f"mujoco.Renderer unavailable (MUJOCO_GL={os.environ['MUJOCO_GL']}): {err}")
    renderer.close()


@pytest.fixture(scope="module")
def parity_results(gl, jitted_env):
    """{(env, camera): [(IoU, median relative depth error), ...]} over POSES poses."""
    results = {}
    for name in PARITY_ENVS:
        env = jitted_env(name)  # random_poses jits its reset (MJX run op by op took 10 s on reacher)
        base = env.unwrapped
        kinds = np.asarray(base.model_view.kinds)

        @env_jit(static_argnames="camera")
        def ours(state, camera=None):
            scene, view = base.render_scene(state, camera)
            _, depth = render(scene, view, SIZE, SIZE)
            return geom_index_image(scene, view, SIZE, SIZE), depth

        renderer = mujoco.Renderer(base.mj_model, SIZE, SIZE)
        cameras = [0, -1] if name == "reacher" else [0]
        for camera in cameras:
            rows = []
            for state in random_poses(env, POSES):
                mask, depth = reference(base.mj_model, renderer, base.render_data(state.pipeline_state), camera)
                index, our_depth = (np.asarray(a) for a in ours(state, camera if camera != 0 else None))
                our_mask = (index >= 0) & (kinds[np.maximum(index, 0)] != raycast.PLANE)
                iou = (mask & our_mask).sum() / max((mask | our_mask).sum(), 1)
                agreed = mask & our_mask
                error = np.median(np.abs(our_depth[agreed] - depth[agreed]) / depth[agreed])
                rows.append((iou, error, mask.sum()))
            results[(name, camera)] = rows
        renderer.close()
    return results


@pytest.mark.parametrize("name", PARITY_ENVS)
def test_matches_mujoco_renderer(parity_results, name):
    for (env_name, camera), rows in parity_results.items():
        if env_name != name:
            continue
        for iou, error, foreground in rows:
            assert foreground > 10, f"{name} camera {camera}: the reference view shows almost nothing"
            assert iou >= 0.9, f"{name} camera {camera}: foreground IoU {iou:.3f}"
            assert error < 0.05, f"{name} camera {camera}: median relative depth error {error:.4f}"


@pytest.fixture(scope="module")
def reacher(jitted_env):
    env = jitted_env("reacher")
    render_one = env_jit(lambda s: env.render(s, height=24, width=32, depth=True))
    return env, render_one, random_poses(env, 3, seed=5)


def test_batch_equals_one_by_one(reacher):
    env, render_one, states = reacher
    batch = jax.tree.map(lambda *xs: jnp.stack(xs), *states)
    rgb, depth = env_jit(jax.vmap(lambda s: env.render(s, height=24, width=32, depth=True)))(batch)
    assert rgb.shape == (3, 24, 32, 3) and rgb.dtype == jnp.uint8 and depth.dtype == jnp.float32
    for k, state in enumerate(states):
        one_rgb, one_depth = render_one(state)
        np.testing.assert_array_equal(np.asarray(rgb[k]), np.asarray(one_rgb))
        np.testing.assert_allclose(np.asarray(depth[k]), np.asarray(one_depth), rtol=1e-6)
    # The poses differ, so equal frames would mean the state is ignored.
    assert not np.array_equal(np.asarray(rgb[0]), np.asarray(rgb[1]))


def test_deterministic_and_finite(reacher):
    env, render_one, states = reacher
    first, second = render_one(states[1]), render_one(states[1])
    for a, b in zip(first, second):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert np.all(np.isfinite(np.asarray(first[1])))


def test_vmap_wrapper_renders_each_state_as_alone(reacher):
    env, render_one, _ = reacher
    batched = envs.Vmap(env)
    state = env_jit(batched.reset)(jax.random.split(jax.random.PRNGKey(0), 2))
    rgb, depth = env_jit(lambda s: batched.render(s, height=24, width=32, depth=True))(state)
    assert rgb.shape == (2, 24, 32, 3)
    for k in range(2):
        one_rgb, one_depth = render_one(jax.tree.map(lambda x: x[k], state))
        np.testing.assert_array_equal(np.asarray(rgb[k]), np.asarray(one_rgb))
        np.testing.assert_allclose(np.asarray(depth[k]), np.asarray(one_depth), rtol=1e-6)
    # The two resets draw different targets and poses, so their frames must differ.
    assert not np.array_equal(np.asarray(rgb[0]), np.asarray(rgb[1]))


def sphere_scene(x):
    sphere = drawings.prim(raycast.SPHERE, jnp.stack([x, 0.0, 0.0]), None, (0.3, 0.0, 0.0), drawings.RED)
    box = drawings.prim(raycast.BOX, (0.0, 0.0, -1.0), None, (2.0, 0.5, 0.2), drawings.GREEN)
    return drawings.scene([sphere, box])


def test_moving_an_object_changes_only_where_it_was_and_is():
    camera = look_at((0.0, -5.0, 0.0), (0.0, 0.0, -0.3))
    draw = jax.jit(lambda x: render(sphere_scene(x), camera, 40, 40))
    segment = jax.jit(lambda x: geom_index_image(sphere_scene(x), camera, 40, 40))
    before, after = np.asarray(draw(-0.8)[0]), np.asarray(draw(0.8)[0])
    was, now = np.asarray(segment(-0.8)) == 0, np.asarray(segment(0.8)) == 0
    changed = np.any(before != after, axis=-1)
    assert was.sum() > 20 and now.sum() > 20 and not np.any(was & now)
    assert not np.any(changed & ~(was | now)), "pixels changed away from the object's old and new place"
    assert changed[was].all() and changed[now].all()


def test_depth_of_a_sphere_is_analytic():
    # A sphere of radius 1 at distance 5 on the optical axis: the centre pixel's depth is 4.
    camera = look_at((0.0, -5.0, 0.0), (0.0, 0.0, 0.0))
    scene = drawings.scene([drawings.prim(raycast.SPHERE, (0.0, 0.0, 0.0), None, (1.0, 0.0, 0.0), drawings.RED)])
    _, depth = jax.jit(render, static_argnums=(2, 3))(scene, camera, 9, 9)
    assert abs(float(depth[4, 4]) - 4.0) < 0.01
    assert float(depth[0, 0]) == pytest.approx(float(scene.far))


#: one environment per drawing of envs/rendering/drawings.py (variants share their drawing;
#: `python -m envs.rendering.gallery` renders every registered environment)
PURE_JAX_ENVS = ["pendulum", "cartpole", "cartpole_swingup", "mountain_car", "point_maze_large", "deep_sea",
                 "probe/constant", "gymnax/acrobot", "gymnax/breakout", "gymnax/catch"]  # fmt: skip


@pytest.mark.parametrize("name", PURE_JAX_ENVS)
def test_pure_jax_env_renders(name):
    if name not in envs.names():  # gymnax/* only exist with the optional gymnax extra
        pytest.skip(f"{name} needs an optional extra that is not installed")
    env = envs.make(name)
    state = env.reset(jax.random.PRNGKey(0))
    rgb, depth = jax.jit(lambda s: env.render(s, height=16, width=16, depth=True))(state)
    rgb = np.asarray(rgb)
    assert rgb.shape == (16, 16, 3) and rgb.dtype == np.uint8
    assert np.all(np.isfinite(np.asarray(depth)))
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) >= 2, "a blank frame"


def test_cartpole_frame_shows_a_fallen_or_hanging_pole_where_it_is():
    """Without termination (VLM-RM's CartPole) the pole falls and swings; at the stand-in
    VLM's 64 px the yellow pole must still show, on the side of the brown cart it points to."""
    env = envs.make("cartpole", terminate=False)
    state = env.reset(jax.random.PRNGKey(0))
    thetas = np.array([0.0, np.pi / 2, np.pi, -2.0])
    q = jnp.asarray([[0.3, 0.0, t, 0.0] for t in thetas], jnp.float32)
    frames = np.asarray(jax.jit(jax.vmap(lambda p: env.render(state.replace(pipeline_state=p, obs=p), height=64, width=64)))(q))
    for theta, frame in zip(thetas, frames.astype(float)):
        r, g, b = frame[..., 0], frame[..., 1], frame[..., 2]
        pole = (r > 60) & (b < 0.4 * r) & (g > 0.7 * r)
        cart = (r > 60) & (np.abs(b / np.maximum(r, 1) - 0.5) < 0.1) & (np.abs(g / np.maximum(r, 1) - 0.75) < 0.1)
        assert pole.sum() >= 6 and cart.sum() >= 6, (theta, pole.sum(), cart.sum())
        (pole_y, pole_x), (cart_y, cart_x) = np.argwhere(pole).mean(0), np.argwhere(cart).mean(0)
        # Image rows grow downward; θ = 0 is up, θ = π/2 points to +x (right).
        if abs(np.sin(theta)) > 0.5:
            assert np.sign(pole_x - cart_x) == np.sign(np.sin(theta)), (theta, pole_x, cart_x)
        if abs(np.cos(theta)) > 0.3:
            assert np.sign(cart_y - pole_y) == np.sign(np.cos(theta)), (theta, pole_y, cart_y)


def test_point_maze_frame_follows_the_point():
    env = envs.make("point_maze")
    render_maze = jax.jit(lambda s: env.render(s, height=32, width=32))
    state = env.reset(jax.random.PRNGKey(0))
    moved = state.replace(pipeline_state=state.pipeline_state.at[:2].set(jnp.array([0.7, 0.6])))
    changed = np.any(np.asarray(render_maze(state)) != np.asarray(render_maze(moved)), axis=-1)
    assert 0 < changed.sum() < 40


def test_camera_errors_name_the_choices():
    env = envs.make("reacher")
    with pytest.raises(ValueError, match="top"):
        env.unwrapped.model_view.camera_index("nope")
    with pytest.raises(ValueError, match="Camera"):
        drawings.choose_camera("side", look_at((0, -1, 0), (0, 0, 0)))
