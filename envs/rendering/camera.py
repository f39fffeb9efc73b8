"""Pinhole cameras in MuJoCo's convention, and the per-pixel rays the renderer casts.

A `Camera` is a pose and a vertical field of view. Its frame follows MuJoCo's `cam_xmat`:
columns are the camera's x (image right), y (image up) and z axes in world coordinates, and
the camera looks along −z. Three ways to get one:

- from the MJCF: `data.cam_xpos[i]`, `data.cam_xmat[i]`, `model.cam_fovy[i]` after
  `mjx.camlight` (fixed, tracking and target-body modes; see `envs/rendering/mjx_scene.py`);
- `look_at(eye, target)`;
- `orbit(lookat, distance, azimuth, elevation)`, the parametrisation of MuJoCo's free and
  tracking `MjvCamera` (angles in degrees), so a view set up for `mujoco.Renderer` can be
  reproduced exactly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class Camera:
    """pos: [3] world position; xmat: [3, 3] world-from-camera rotation (columns x, y, z);
    fovy: [] vertical field of view in degrees."""

    pos: jax.Array
    xmat: jax.Array
    fovy: jax.Array


def _normalize(v):
    return v / jnp.linalg.norm(v, axis=-1, keepdims=True)


def look_at(eye, target, up=(0.0, 0.0, 1.0), fovy: float = 45.0) -> Camera:
    """A camera at `eye` [3] looking at `target` [3], with `up` [3] as close to image-up as
    possible (it must not be parallel to the viewing direction)."""
    eye, target, up = (jnp.asarray(v, jnp.float32) for v in (eye, target, up))
    z = _normalize(eye - target)
    x = _normalize(jnp.cross(up, z))
    y = jnp.cross(z, x)
    return Camera(eye, jnp.stack([x, y, z], axis=1), jnp.asarray(fovy, jnp.float32))


def orbit(lookat, distance, azimuth, elevation, fovy: float = 45.0) -> Camera:
    """MuJoCo's `MjvCamera` view: looking at `lookat` [3] from `distance`, with `azimuth`
    and `elevation` in degrees (elevation < 0 looks down), as `mjv_updateCamera` places it."""
    lookat = jnp.asarray(lookat, jnp.float32)
    az, el = jnp.deg2rad(jnp.asarray(azimuth, jnp.float32)), jnp.deg2rad(jnp.asarray(elevation, jnp.float32))
    forward = jnp.stack([jnp.cos(el) * jnp.cos(az), jnp.cos(el) * jnp.sin(az), jnp.sin(el)])
    up = jnp.stack([-jnp.sin(el) * jnp.cos(az), -jnp.sin(el) * jnp.sin(az), jnp.cos(el)])
    x = jnp.cross(forward, up)
    xmat = jnp.stack([x, up, -forward], axis=1)
    return Camera(lookat - distance * forward, xmat, jnp.asarray(fovy, jnp.float32))


def ray_directions(camera: Camera, height: int, width: int) -> jax.Array:
    """[height * width, 3] world-space ray directions through pixel centres, row-major from
    the top-left pixel. Each has camera-space z = −1, so a hit's ray parameter is its depth."""
    half_h = jnp.tan(jnp.deg2rad(camera.fovy) / 2.0)
    half_w = half_h * width / height
    u = ((jnp.arange(width) + 0.5) / width * 2.0 - 1.0) * half_w
    v = (1.0 - (jnp.arange(height) + 0.5) / height * 2.0) * half_h
    uu, vv = jnp.meshgrid(u, v)  # [H, W] each
    local = jnp.stack([uu, vv, -jnp.ones_like(uu)], axis=-1).reshape(-1, 3)
    return local @ camera.xmat.T
