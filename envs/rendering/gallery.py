"""Example frames of every registered environment into `docs/frames/`: `python -m envs.rendering.gallery`.

Each environment is rendered at 128×128 from its default camera, at a reset state (MJX
models other than the humanoid get a small random pose perturbation so that the picture is
not the model's rest pose). The humanoid is also shown standing and kneeling, the pose pair
a vision reward must tell apart. `gallery.png` tiles all frames with their names.

Options: `--out DIR` (default docs/frames), `--size N`, `--only NAME [NAME ...]`. Frames
already in `--out` are kept (delete them to redraw); environments on the same MuJoCo model
share one compiled renderer.
"""

from __future__ import annotations

import argparse
import os

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image, ImageDraw

import envs

#: humanoid joint targets (radians) for a kneel: hips flexed forward, knees bent back fully.
KNEEL = {"right_hip_y": -0.3, "left_hip_y": -0.3, "right_knee": -2.0, "left_knee": -2.0}


def humanoid_poses(env) -> dict[str, envs.State]:
    """The humanoid standing (its reset pose) and kneeling (knees on the floor)."""
    import mujoco
    from mujoco import mjx

    base = env.unwrapped
    model = base.mj_model
    standing = env.reset(jax.random.PRNGKey(0))
    qpos = np.asarray(standing.pipeline_state.qpos).copy()
    for joint, angle in KNEEL.items():
        qpos[model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, joint)]] = angle
    # Lower the root until the lowest point of the legs touches the floor.
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_kinematics(model, data)
    legs = [i for i in range(model.ngeom) if model.geom_bodyid[i] > 1 and model.geom_type[i] != 0]
    lowest = min(data.geom_xpos[i][2] - model.geom_rbound[i] for i in legs)
    qpos[2] -= lowest - 0.02
    kneeling = standing.replace(pipeline_state=mjx.kinematics(base.mjx_model, standing.pipeline_state.replace(qpos=jnp.asarray(qpos))))
    return {"humanoid_standing": standing, "humanoid_kneeling": kneeling}


def example_state(env, name: str) -> envs.State:
    state = env.reset(jax.random.PRNGKey(3))
    base = env.unwrapped
    if base.backend == "mjx" and hasattr(base, "mjx_model") and not name.startswith("humanoid"):
        data = base.render_data(state.pipeline_state)
        noise = 0.3 * jax.random.normal(jax.random.PRNGKey(4), data.qpos.shape)
        free = np.zeros(data.qpos.shape, bool)
        for j in range(base.mj_model.njnt):  # leave free and ball joints (quaternions) alone
            if base.mj_model.jnt_type[j] in (0, 1):
                adr = base.mj_model.jnt_qposadr[j]
                free[adr : adr + (7 if base.mj_model.jnt_type[j] == 0 else 4)] = True
        qpos = jnp.where(free, data.qpos, data.qpos + noise)
        if name.startswith("dmc/"):
            return state.replace(pipeline_state=state.pipeline_state.replace(data=data.replace(qpos=qpos)))
        return state.replace(pipeline_state=data.replace(qpos=qpos))
    return state


def model_key(base) -> bytes:
    """Identifies a MuJoCo model's look: environments that differ only in task or reward
    (sparse variants, dmc tasks on one model) share one compiled renderer."""
    m = base.mj_model
    return b"".join(np.ascontiguousarray(a).tobytes() for a in (m.geom_type, m.geom_size, m.geom_rgba, m.body_pos,
                                                                 m.cam_pos, m.site_size, m.qpos0))  # fmt: skip


def frames(names: list[str], size: int, out: str | None = None) -> dict[str, np.ndarray]:
    """{label: uint8 [size, size, 3]}; with `out`, each frame is saved as soon as it is drawn
    and environments whose frame already exists there are read back instead."""
    from envs.rendering.mjx_scene import forward_positions
    from envs.rendering.scene import render

    compiled = {}
    images = {}
    for name in names:
        labels = ["humanoid_standing", "humanoid_kneeling"] if name == "humanoid" else [name]
        paths = {label: os.path.join(out, label.replace("/", "_") + ".png") for label in labels} if out else {}
        if paths and all(os.path.exists(p) for p in paths.values()):
            images.update({label: np.asarray(Image.open(p).convert("RGB")) for label, p in paths.items()})
            continue
        env = envs.make(name)
        base = env.unwrapped
        states = humanoid_poses(env) if name == "humanoid" else {name: example_state(env, name)}
        for label, state in states.items():
            try:
                if hasattr(base, "model_view"):
                    key = model_key(base)
                    if key not in compiled:
                        view = base.model_view

                        def draw(data, base=base, view=view):
                            data = forward_positions(base.mjx_model, data, view.needs_com)
                            return render(view.scene(data), view.camera(data, None), size, size)[0]

                        compiled[key] = jax.jit(draw)
                    image = np.asarray(compiled[key](base.render_data(state.pipeline_state)))
                else:
                    image = np.asarray(jax.jit(lambda s: env.render(s, height=size, width=size))(state))
            except NotImplementedError as err:
                print(f"{label}: skipped ({err})")
                break
            images[label] = image
            if out:
                Image.fromarray(image).save(paths[label])
            print(label, flush=True)
    return images


def tile(images: dict[str, np.ndarray], columns: int = 8) -> Image.Image:
    """All frames in a grid, each with its name underneath."""
    size = next(iter(images.values())).shape[0]
    label = 14
    rows = -(-len(images) // columns)
    sheet = Image.new("RGB", (columns * size, rows * (size + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (name, image) in enumerate(images.items()):
        x, y = (k % columns) * size, (k // columns) * (size + label)
        sheet.paste(Image.fromarray(image), (x, y))
        draw.text((x + 2, y + size + 1), name[: size // 6], fill="black")
    return sheet


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("docs", "frames"))
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    images = frames(args.only or envs.names(), args.size, args.out)
    if not args.only:
        tile(images).save(os.path.join(args.out, "gallery.png"))


if __name__ == "__main__":
    main()
