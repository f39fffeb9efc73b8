"""Ray-cast rendering of a scene of MuJoCo-style geoms: `render(scene, camera, h, w) -> (rgb, depth)`.

A `Scene` is a pytree of G geoms (pose, size, colour) plus a light; the geom types are
static (they decide which intersection code runs). Every environment builds one from its
state — MJX environments from the model and `mjx.Data` (`mjx_scene.py`), pure-JAX ones from
a few boxes, capsules and spheres (`drawings.py`) — and this one function turns it into
pixels, so there is one renderer to test and to speed up.

Why ray casting and not rasterisation: our scenes have a few dozen analytic primitives and
small images. Casting every pixel's ray against every geom is a dense, branch-free [pixels
× geoms] computation that XLA fuses into a few loops and that `vmap` batches for free;
depth comes out exact (no tessellation), and matches MuJoCo's depth buffer to 1e-4
(benchmarks/results/render_parity.md). A rasteriser in JAX would tessellate capsules and
spheres into many triangles and resolve visibility with a scatter-min into a z-buffer,
which XLA runs serially on CPU (an argument, not a measurement: none was built). MJX's
`mjx.ray` casts one ray per call and returns depth and geom but no normal for shading; this
caster yields depth, geom index and normal in one pass. Warp's batch renderer
(`mjx.render`) fixes the batch in its context, so it cannot be vmapped, and has no TPU
backend. How this caster's speed compares with `mujoco.Renderer`, `mjx.ray` and Warp's
`mjx.render`: docs/rendering.md ("Why ray casting") and
benchmarks/results/render_throughput.md.

Shading: Lambert with one directional light (the model's first) and a headlight, plus
ambient; no shadows or reflections.
Planes get a checkered pattern so that the floor shows motion and perspective. Pixels that
hit nothing get a vertical sky gradient and depth `scene.far`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from envs.rendering import raycast
from envs.rendering.camera import Camera, ray_directions

AMBIENT = 0.25
DIFFUSE = 0.5
#: a light along the view direction, as MuJoCo's default headlight: without it, surfaces
#: the scene's light grazes (a standing body lit from above) show only ambient colour.
HEADLIGHT = 0.35
SKY_TOP = np.array([0.55, 0.70, 0.90], np.float32)
SKY_BOTTOM = np.array([0.85, 0.90, 0.95], np.float32)
#: brightness of the dark squares of a checkered plane, relative to the light ones
CHECKER_DARK = 0.6


@struct.dataclass
class Scene:
    """G geoms and one light, all in world coordinates.

    pos: [G, 3] centres; xmat: [G, 3, 3] world-from-geom rotations; size: [G, 3] MuJoCo
    `geom_size`; rgb: [G, 3] colours in [0, 1]; checker: [G] checker cell size (0 for a
    plain surface; used on planes); light_dir: [3] direction the light travels (unit);
    far: [] depth reported where a ray hits nothing; kinds: static tuple of G MuJoCo geom
    types (`raycast.PLANE`, ...); near: [] near clipping depth.
    """

    pos: jax.Array
    xmat: jax.Array
    size: jax.Array
    rgb: jax.Array
    checker: jax.Array
    light_dir: jax.Array
    far: jax.Array
    kinds: tuple[int, ...] = struct.field(pytree_node=False)
    #: surfaces closer than this (along the view axis) are clipped, as by MuJoCo's znear
    near: jax.Array | float = 0.0


def cast(scene: Scene, origin: jax.Array, directions: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Nearest hit of each ray: (t [P], geom index [P]); t = inf where nothing is hit.

    origin: [3]; directions: [P, 3].
    """
    kinds = np.asarray(scene.kinds)
    ts, order = [], []
    for kind in sorted(set(scene.kinds)):
        idx = np.flatnonzero(kinds == kind)
        xmat = scene.xmat[idx]
        # Rays into each geom's frame: x_local = R^T (x_world - pos).
        o_local = jnp.einsum("gji,gj->gi", xmat, origin[None, :] - scene.pos[idx])
        d_local = jnp.einsum("gji,pj->pgi", xmat, directions)
        ts.append(raycast.HIT[kind](o_local, d_local, scene.size[idx], scene.near))
        order.append(idx)
    t_all = jnp.concatenate(ts, axis=1)
    geom = jnp.asarray(np.concatenate(order))[jnp.argmin(t_all, axis=1)]
    return jnp.min(t_all, axis=1), geom


def render(scene: Scene, camera: Camera, height: int, width: int) -> tuple[jax.Array, jax.Array]:
    """The scene seen by `camera`: (rgb uint8 [height, width, 3], depth float32 [height, width]).

    Depth is the distance along the camera's viewing axis (MuJoCo's convention), `scene.far`
    where no geom is hit. Jittable and vmappable over scenes and cameras.
    """
    directions = ray_directions(camera, height, width)  # [P, 3]
    t, geom = cast(scene, camera.pos, directions)
    hit = jnp.isfinite(t)
    t_safe = jnp.where(hit, t, 0.0)
    point = camera.pos + t_safe[:, None] * directions

    xmat, pos, size = scene.xmat[geom], scene.pos[geom], scene.size[geom]
    local = jnp.einsum("pji,pj->pi", xmat, point - pos)
    kind = jnp.asarray(scene.kinds, jnp.int32)[geom]
    n = jnp.einsum("pij,pj->pi", xmat, raycast.normal(kind, local, size))
    n = n / jnp.maximum(jnp.linalg.norm(n, axis=-1, keepdims=True), 1e-9)
    # Face the camera: the inside of a thin or clipped surface is lit like its outside.
    n = jnp.where(jnp.sum(n * directions, axis=-1, keepdims=True) > 0.0, -n, n)
    lambert = jnp.maximum(jnp.sum(n * -scene.light_dir, axis=-1), 0.0)
    forward = -camera.xmat[:, 2]
    headlight = jnp.maximum(jnp.sum(n * -forward, axis=-1), 0.0)

    cell = scene.checker[geom]
    safe_cell = jnp.where(cell > 0.0, cell, 1.0)
    parity = (jnp.floor(local[:, 0] / safe_cell) + jnp.floor(local[:, 1] / safe_cell)) % 2.0
    checker = jnp.where((cell > 0.0) & (parity > 0.5), CHECKER_DARK, 1.0)
    colour = scene.rgb[geom] * checker[:, None] * (AMBIENT + DIFFUSE * lambert + HEADLIGHT * headlight)[:, None]

    rows = (jnp.arange(height, dtype=jnp.float32) / max(height - 1, 1))[:, None, None]
    sky = jnp.broadcast_to(SKY_TOP + rows * (SKY_BOTTOM - SKY_TOP), (height, width, 3)).reshape(-1, 3)
    rgb = jnp.where(hit[:, None], colour, sky)
    rgb = jnp.clip(jnp.round(rgb * 255.0), 0, 255).astype(jnp.uint8).reshape(height, width, 3)
    depth = jnp.where(hit, t, scene.far).astype(jnp.float32).reshape(height, width)
    return rgb, depth


def geom_index_image(scene: Scene, camera: Camera, height: int, width: int) -> jax.Array:
    """int32 [height, width]: the index of the geom each pixel sees, −1 where none (a
    segmentation image, for tests and masks)."""
    t, geom = cast(scene, camera.pos, ray_directions(camera, height, width))
    return jnp.where(jnp.isfinite(t), geom, -1).astype(jnp.int32).reshape(height, width)
