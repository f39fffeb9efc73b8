"""The JAX renderer against `mujoco.Renderer` on every MJX environment: its acceptance test.

Targets: foreground IoU >= 0.9 and median relative depth error < 5%.

For each MJX environment: the reset state and three random poses around it (`poses`);
each rendered at 64×64 from the env's default camera (MJCF camera 0) by both.
Foreground = pixels that see a geom other than a plane, or a site (MuJoCo's segmentation
image for the reference, `geom_index_image` for ours). Reported: foreground-mask IoU (min
and mean over the states), and the median relative depth error on pixels both call
foreground (max over the states). MuJoCo's sphere/capsule tessellation is raised to 64
slices so that its silhouettes approximate the true surfaces our analytic casts hit.

Writes benchmarks/results/render_parity.{json,md}. `tests/test_render.py` runs the same
comparison on a subset per commit. Usage:
`MUJOCO_GL=egl python benchmarks/render_parity.py [NAME ...]`.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("MUJOCO_GL", "egl")

import jax
import mujoco
import numpy as np

import envs
from envs.rendering import raycast
from envs.rendering.scene import geom_index_image

SIZE = 64
#: the MJX environments outside dmc/* (listed so that the report can name unmeasured ones cheaply)
MJX_NAMES = ("ant", "ant_maze", "drawer_open", "halfcheetah", "hopper", "humanoid", "pick_place", "push", "reach",
             "reacher", "reacher_sparse", "walker2d")  # fmt: skip
RESULTS = os.path.join(os.path.dirname(__file__), "results")


def reference(model, renderer, data_jax):
    """MuJoCo's (foreground mask, depth) for the pose in `data_jax`."""
    data = mujoco.MjData(model)
    data.qpos[:] = np.asarray(data_jax.qpos)
    if model.nmocap:
        data.mocap_pos[:], data.mocap_quat[:] = np.asarray(data_jax.mocap_pos), np.asarray(data_jax.mocap_quat)
    mujoco.mj_forward(model, data)
    renderer.update_scene(data, camera=0)
    renderer.enable_segmentation_rendering()
    seg = renderer.render().copy()
    renderer.disable_segmentation_rendering()
    renderer.enable_depth_rendering()
    depth = renderer.render().copy()
    renderer.disable_depth_rendering()
    ids, types = seg[..., 0], seg[..., 1]
    geom = (types == mujoco.mjtObj.mjOBJ_GEOM) & (ids >= 0)
    solid = geom & (model.geom_type[np.maximum(ids, 0)] != mujoco.mjtGeom.mjGEOM_PLANE)
    return solid | ((types == mujoco.mjtObj.mjOBJ_SITE) & (ids >= 0)), depth


def poses(env, count: int, seed: int = 1) -> list:
    """The reset state, and `count - 1` states with every hinge and slide joint moved by
    N(0, 0.4²) from it (no physics step: compiling MJX steps for every model costs minutes)."""
    base = env.unwrapped
    model = base.mj_model
    state = env.reset(jax.random.PRNGKey(seed))
    data = base.render_data(state.pipeline_state)
    hinge = np.zeros(model.nq, bool)
    for j in range(model.njnt):
        if int(model.jnt_type[j]) in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
            hinge[model.jnt_qposadr[j]] = True
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        new = data.replace(qpos=jax.numpy.asarray(np.asarray(data.qpos) + (k > 0) * hinge * rng.normal(0, 0.4, model.nq), jax.numpy.float32))
        out.append(state.replace(pipeline_state=state.pipeline_state.replace(data=new) if hasattr(base, "playground_env") else new))
    return out


def compare(name: str) -> dict:
    env = envs.make(name)
    base = env.unwrapped
    model = base.mj_model
    model.vis.quality.numslices, model.vis.quality.numstacks = 64, 64
    kinds = np.asarray(base.model_view.kinds)
    renderer = mujoco.Renderer(model, SIZE, SIZE)

    @jax.jit
    def ours(state):
        scene, camera = base.render_scene(state, None)
        return geom_index_image(scene, camera, SIZE, SIZE), env.render(state, None, SIZE, SIZE, depth=True)[1]

    ious, errors, pixels = [], [], []
    for state in poses(env, 4):
        mask, depth = reference(model, renderer, base.render_data(state.pipeline_state))
        index, our_depth = (np.asarray(a) for a in ours(state))
        our_mask = (index >= 0) & (kinds[np.maximum(index, 0)] != raycast.PLANE)
        ious.append(float((mask & our_mask).sum() / max((mask | our_mask).sum(), 1)))
        agreed = mask & our_mask
        errors.append(float(np.median(np.abs(our_depth[agreed] - depth[agreed]) / depth[agreed])) if agreed.any() else float("nan"))
        pixels.append(int(mask.sum()))
    renderer.close()
    return {"env": name, "iou_min": min(ious), "iou_mean": float(np.mean(ious)),
            "depth_error_max": float(np.nanmax(errors)), "foreground_pixels": pixels}  # fmt: skip


def main() -> None:
    names = sys.argv[1:] or [n for n in envs.names() if n.startswith("dmc/") or envs.make(n).backend == "mjx"]
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, "render_parity.json")
    # Runs merge by env, so that a subset can be re-measured.
    rows = {r["env"]: r for r in json.load(open(path))} if os.path.exists(path) else {}
    for name in names:
        rows[name] = compare(name)
        print(json.dumps(rows[name]), flush=True)
        with open(path, "w") as f:
            json.dump(list(rows.values()), f, indent=2)
    write_markdown(sorted(rows.values(), key=lambda r: r["env"]))


def write_markdown(rows: list[dict]) -> None:
    lines = ["| env | IoU min | IoU mean | median rel. depth error (max) | foreground px |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {r['env']} | {r['iou_min']:.3f} | {r['iou_mean']:.3f} | {r['depth_error_max']:.2e} | "
              f"{min(r['foreground_pixels'])}–{max(r['foreground_pixels'])} |" for r in rows]  # fmt: skip
    with open(os.path.join(RESULTS, "render_parity.md"), "w") as f:
        f.write("# JAX renderer vs mujoco.Renderer, every MJX environment (64×64, default camera)\n\n")
        f.write("\n".join(lines) + "\n")
        measured = {r["env"] for r in rows}
        missing = [n for n in envs.names() if (n.startswith("dmc/") or n in MJX_NAMES) and n not in measured]
        if missing:
            f.write(f"\nNot measured yet (time ran out on a shared machine): {', '.join(missing)}.\n")


if __name__ == "__main__":
    main()
