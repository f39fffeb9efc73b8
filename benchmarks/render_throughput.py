"""Frames per second of the JAX renderer vs `mujoco.Renderer`, on the same states.

For each environment, size (64², 128²) and batch size (1, 16, 64, 256): B poses of the
model (reset pose with N(0, 0.3²) hinge noise), rendered by

- ours: `jit(vmap(env.render))` on the batch (RGB, default camera; geom/camera kinematics
  included, as `env.render` recomputes them from qpos);
- MuJoCo: `mujoco.Renderer` (OpenGL through EGL here) rendering the same poses one by one
  from the same camera, shadows and reflections off (`mj_forward` done beforehand, not
  timed), RGB read back to host memory — the way a peer's worker process renders;
- MJX's own batch renderer (`mjx.create_render_context` / `mjx.render`, Warp kernels; on this
  machine they run on the CPU) where warp-lang is installed (the `playground` extra): RGB and
  depth of the same poses, `mjx.forward` done beforehand and not timed (ours is timed with
  its kinematics), so the comparison favours Warp. Warp's context fixes the batch size and
  is not vmappable, and Warp has no TPU backend — one reason ours is pure JAX;
- MJX `mjx.ray` (once, 64², batch 16): the per-pixel ray cast MJX ships, vmapped over the
  image's rays; depth only. This is the alternative our analytic caster was measured against.

Writes benchmarks/results/render_throughput.{json,md}. Usage:
`MUJOCO_GL=egl python benchmarks/render_throughput.py [--envs humanoid,push] [--batches 1,16,64,256] [--no-warp]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

import envs

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def poses(env, count: int, seed: int = 0) -> list[np.ndarray]:
    """`count` qpos vectors: the reset pose with hinge/slide joints perturbed."""
    base = env.unwrapped
    model = base.mj_model
    qpos0 = np.asarray(base.render_data(env.reset(jax.random.PRNGKey(seed)).pipeline_state).qpos)
    hinge = np.zeros(model.nq, bool)
    for j in range(model.njnt):
        if int(model.jnt_type[j]) in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
            hinge[model.jnt_qposadr[j]] = True
    rng = np.random.default_rng(seed)
    return [qpos0 + hinge * rng.normal(0.0, 0.3, model.nq) for _ in range(count)]


def batched_state(env, qpos: list[np.ndarray]):
    state = env.reset(jax.random.PRNGKey(0))
    base = env.unwrapped
    data = base.render_data(state.pipeline_state)
    states = []
    for q in qpos:
        new = data.replace(qpos=jnp.asarray(q, jnp.float32))
        pipeline = state.pipeline_state.replace(data=new) if hasattr(base, "playground_env") else new
        states.append(state.replace(pipeline_state=pipeline))
    return jax.tree.map(lambda *xs: jnp.stack(xs), *states)


def time_ours(env, qpos, size: int, repeats: int) -> dict:
    batch = batched_state(env, qpos)
    fn = jax.jit(jax.vmap(lambda s: env.render(s, height=size, width=size)))
    t0 = time.perf_counter()
    fn(batch).block_until_ready()
    compile_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(batch).block_until_ready()
        times.append(time.perf_counter() - t0)
    return {"fps": len(qpos) / statistics.median(times), "compile_s": compile_s}


def time_mujoco(env, qpos, size: int, repeats: int) -> dict:
    model = env.unwrapped.mj_model
    renderer = mujoco.Renderer(model, size, size)
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
    datas = []
    for q in qpos:
        data = mujoco.MjData(model)
        data.qpos[:] = q
        mujoco.mj_forward(model, data)
        datas.append(data)
    renderer.update_scene(datas[0], camera=0)
    renderer.render()  # warm up the GL context
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for data in datas:
            renderer.update_scene(data, camera=0)
            renderer.render()
        times.append(time.perf_counter() - t0)
    renderer.close()
    return {"fps": len(qpos) / statistics.median(times)}


def time_mjx_ray(env, qpos, size: int, repeats: int) -> dict:
    """Depth frames with `mjx.ray` vmapped over pixels and states (the MJX alternative)."""
    from mujoco import mjx

    from envs.rendering.camera import ray_directions
    from envs.rendering.mjx_scene import forward_positions

    base = env.unwrapped
    view = base.model_view
    batch = batched_state(env, qpos)

    def depth(state):
        data = forward_positions(base.mjx_model, base.render_data(state.pipeline_state), view.needs_com)
        camera = view.camera(data, None)
        dirs = ray_directions(camera, size, size)
        norms = jnp.linalg.norm(dirs, axis=-1, keepdims=True)
        dist, _ = jax.vmap(lambda v: mjx.ray(base.mjx_model, data, camera.pos, v))(dirs / norms)
        return dist / norms[:, 0]

    fn = jax.jit(jax.vmap(depth))
    fn(batch).block_until_ready()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(batch).block_until_ready()
        times.append(time.perf_counter() - t0)
    return {"fps": len(qpos) / statistics.median(times)}


def time_mjx_warp(env, qpos, size: int, repeats: int) -> dict | None:
    """RGB + depth frames from `mjx.render` (Warp) on the same poses; None without warp-lang."""
    import importlib.util

    if importlib.util.find_spec("warp") is None:
        return None
    from mujoco import mjx

    model = env.unwrapped.mj_model
    m = mjx.put_model(model, impl="warp")
    data = mjx.make_data(model, impl="warp")
    batch = jax.vmap(lambda q: data.replace(qpos=q))(jnp.asarray(np.stack(qpos), jnp.float32))
    batch = jax.jit(jax.vmap(mjx.forward, in_axes=(None, 0)))(m, batch)
    ctx = mjx.create_render_context(model, nworld=len(qpos), cam_res=(size, size), render_rgb=True,
                                    render_depth=True, cam_active=[0], use_shadows=False)  # fmt: skip
    handle = ctx.pytree()
    fn = jax.jit(lambda d: mjx.render(m, d, handle)[:2])
    jax.block_until_ready(fn(batch))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(batch))
        times.append(time.perf_counter() - t0)
    return {"fps": len(qpos) / statistics.median(times)}


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "jax": jax.__version__, "mujoco": mujoco.__version__,
            "backend": jax.default_backend(), "gl": os.environ.get("MUJOCO_GL"),
            "load_average_at_start": os.getloadavg()}  # fmt: skip


def markdown(results: dict) -> str:
    lines = [
        "# Render throughput: JAX ray caster vs mujoco.Renderer and mjx.render (Warp)",
        "",
        f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, JAX {results['machine']['jax']} "
        f"({results['machine']['backend']}), MuJoCo {results['machine']['mujoco']} (MUJOCO_GL={results['machine']['gl']}); "
        f"load average at start {', '.join(f'{x:.1f}' for x in results['machine']['load_average_at_start'])} "
        "(the machine is shared: absolute numbers are noisy, ratios less so).",
        "",
        "Frames per second (RGB, default camera, shadows and reflections off in MuJoCo):",
        "",
        "| env | size | batch | ours (fps) | mujoco.Renderer (fps) | ratio | mjx.render, Warp (fps) | ours / Warp |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in results["rows"]:
        warp = row.get("warp_fps")
        warp_cells = f"{warp:.0f} | {row['ours_fps'] / warp:.2f}" if warp else "– | –"
        lines.append(f"| {row['env']} | {row['size']}² | {row['batch']} | {row['ours_fps']:.0f} | "
                     f"{row['mujoco_fps']:.0f} | {row['ratio']:.2f} | {warp_cells} |")  # fmt: skip
    for env, ray in results.get("mjx_ray", {}).items():
        lines += ["", f"`mjx.ray` depth-only frames on {env}, 64², batch 16: {ray['fps']:.1f} fps."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default="humanoid,push")
    parser.add_argument("--sizes", default="64,128")
    parser.add_argument("--batches", default="1,16,64,256")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-mjx-ray", action="store_true")
    parser.add_argument("--no-warp", action="store_true", help="skip mjx.render (Warp) even where warp-lang is installed")
    args = parser.parse_args()
    os.makedirs(RESULTS, exist_ok=True)
    results = {"machine": machine(), "rows": [], "mjx_ray": {}}
    for name in args.envs.split(","):
        env = envs.make(name)
        for size in map(int, args.sizes.split(",")):
            for batch in map(int, args.batches.split(",")):
                qpos = poses(env, batch)
                ours = time_ours(env, qpos, size, args.repeats)
                ref = time_mujoco(env, qpos, size, args.repeats)
                row = {"env": name, "size": size, "batch": batch, "ours_fps": ours["fps"], "ours_compile_s": ours["compile_s"],
                       "mujoco_fps": ref["fps"], "ratio": ours["fps"] / ref["fps"]}  # fmt: skip
                if not args.no_warp:
                    warp = time_mjx_warp(env, qpos, size, args.repeats)
                    row["warp_fps"] = warp["fps"] if warp else None
                results["rows"].append(row)
                print(json.dumps(row), flush=True)
                with open(os.path.join(RESULTS, "render_throughput.json"), "w") as f:
                    json.dump(results, f, indent=2)
        if not args.no_mjx_ray:
            results["mjx_ray"][name] = time_mjx_ray(env, poses(env, 16), 64, args.repeats)
            print(name, "mjx.ray", results["mjx_ray"][name], flush=True)
    with open(os.path.join(RESULTS, "render_throughput.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(RESULTS, "render_throughput.md"), "w") as f:
        f.write(markdown(results))


if __name__ == "__main__":
    main()
