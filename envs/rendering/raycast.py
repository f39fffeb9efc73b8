"""Analytic ray–primitive intersections in a geom's own frame, for MuJoCo's geom types.

Each `hit_<type>(origin, direction, size, near)` returns the ray parameter `t` of the first
hit beyond `near` (MuJoCo's near clipping plane; 0 for none), or +inf on a miss. Only
front faces count (where the ray enters the solid), as OpenGL with back-face culling draws
them: a camera inside a geom, or a geom cut by the near plane, shows what lies behind. Arrays broadcast: in the renderer `origin`
is [G, 3] (one camera position per geom frame) and `direction` [P, G, 3] (every pixel's
ray in every geom frame), so one call tests all pixels against all geoms of one type.
Directions need not be unit length: the renderer's rays have camera-space z = -1, so `t` is
directly the depth along the optical axis, the quantity MuJoCo's depth buffer holds.

Sizes follow MuJoCo's `geom_size` convention [3]: sphere (r), capsule and cylinder
(r, half-length along z), box (half-extents), ellipsoid (semi-axes), plane (half-extents
in x and y, 0 meaning infinite; only its +z side is visible, as in MuJoCo's `mj_ray`).

`normal(kind, point, size)` gives the outward surface normal at a hit point (all in the
geom frame, unnormalised) for a per-pixel array of geom kinds, so that the renderer can
compute normals once for the winning geom instead of for every pixel × geom pair.
"""

from __future__ import annotations

import jax.numpy as jnp
import mujoco

INF = jnp.inf

PLANE = int(mujoco.mjtGeom.mjGEOM_PLANE)
SPHERE = int(mujoco.mjtGeom.mjGEOM_SPHERE)
CAPSULE = int(mujoco.mjtGeom.mjGEOM_CAPSULE)
ELLIPSOID = int(mujoco.mjtGeom.mjGEOM_ELLIPSOID)
CYLINDER = int(mujoco.mjtGeom.mjGEOM_CYLINDER)
BOX = int(mujoco.mjtGeom.mjGEOM_BOX)


def _dot(a, b):
    return jnp.sum(a * b, axis=-1)


def _nearest_root(a, half_b, c, near):
    """The smaller root of a t² + 2 half_b t + c = 0 if it lies beyond `near` (inf if not:
    the larger root is where the ray leaves the surface, a back face), and both roots."""
    disc = half_b**2 - a * c
    ok = disc >= 0.0
    sq = jnp.sqrt(jnp.where(ok, disc, 0.0))
    safe_a = jnp.where(a > 0.0, a, 1.0)
    t_near = (-half_b - sq) / safe_a
    t_far = (-half_b + sq) / safe_a
    t = jnp.where(t_near > near, t_near, INF)
    return jnp.where(ok & (a > 0.0), t, INF), t_near, t_far


def hit_plane(origin, direction, size, near=0.0):
    dz = direction[..., 2]
    # Seen from above only: a ray from below (origin z < 0) passes through, as in mj_ray.
    t = -origin[..., 2] / jnp.where(dz < 0.0, dz, -1.0)
    valid = (dz < 0.0) & (origin[..., 2] > 0.0) & (t > near)
    p = origin + t[..., None] * direction
    inside_x = (size[..., 0] <= 0.0) | (jnp.abs(p[..., 0]) <= size[..., 0])
    inside_y = (size[..., 1] <= 0.0) | (jnp.abs(p[..., 1]) <= size[..., 1])
    return jnp.where(valid & inside_x & inside_y, t, INF)


def hit_sphere(origin, direction, size, near=0.0):
    r = size[..., 0]
    t, _, _ = _nearest_root(_dot(direction, direction), _dot(origin, direction), _dot(origin, origin) - r**2, near)
    return t


def hit_ellipsoid(origin, direction, size, near=0.0):
    # An ellipsoid is the unit sphere in coordinates scaled by its semi-axes; t is unchanged.
    o, d = origin / size, direction / size
    t, _, _ = _nearest_root(_dot(d, d), _dot(o, d), _dot(o, o) - 1.0, near)
    return t


def _hit_side(origin, direction, r, h, near):
    """The infinite cylinder x² + y² = r² cut to |z| <= h: first valid t."""
    oxy, dxy = origin[..., :2], direction[..., :2]
    _, t_near, t_far = _nearest_root(_dot(dxy, dxy), _dot(oxy, dxy), _dot(oxy, oxy) - r**2, near)
    a = _dot(dxy, dxy)
    disc_ok = (_dot(oxy, dxy) ** 2 - a * (_dot(oxy, oxy) - r**2) >= 0.0) & (a > 0.0)

    def valid(t):
        z = origin[..., 2] + t * direction[..., 2]
        return disc_ok & (t > near) & (jnp.abs(z) <= h)

    return jnp.where(valid(t_near), t_near, INF)


def hit_capsule(origin, direction, size, near=0.0):
    r, h = size[..., 0], size[..., 1]
    t = _hit_side(origin, direction, r, h, near)
    for sign in (-1.0, 1.0):
        centre = jnp.stack([jnp.zeros_like(h), jnp.zeros_like(h), sign * h], axis=-1)
        o = origin - centre
        t_cap, _, _ = _nearest_root(_dot(direction, direction), _dot(o, direction), _dot(o, o) - r**2, near)
        t = jnp.minimum(t, t_cap)
    return t


def hit_cylinder(origin, direction, size, near=0.0):
    r, h = size[..., 0], size[..., 1]
    t = _hit_side(origin, direction, r, h, near)
    dz = direction[..., 2]
    safe_dz = jnp.where(dz == 0.0, 1.0, dz)
    for sign in (-1.0, 1.0):
        t_cap = (sign * h - origin[..., 2]) / safe_dz
        p = origin + t_cap[..., None] * direction
        ok = (sign * dz < 0.0) & (t_cap > near) & (_dot(p[..., :2], p[..., :2]) <= r**2)
        t = jnp.minimum(t, jnp.where(ok, t_cap, INF))
    return t


def hit_box(origin, direction, size, near=0.0):
    # Slab method: the ray is inside the box between the latest entry and earliest exit.
    safe = jnp.where(direction == 0.0, 1e-30, direction)
    t1 = (-size - origin) / safe
    t2 = (size - origin) / safe
    t_enter = jnp.max(jnp.minimum(t1, t2), axis=-1)
    t_exit = jnp.min(jnp.maximum(t1, t2), axis=-1)
    return jnp.where((t_exit >= t_enter) & (t_enter > near), t_enter, INF)


HIT = {
    PLANE: hit_plane,
    SPHERE: hit_sphere,
    CAPSULE: hit_capsule,
    ELLIPSOID: hit_ellipsoid,
    CYLINDER: hit_cylinder,
    BOX: hit_box,
}


def normal(kind, point, size):
    """Outward normal (unnormalised) at `point` on a geom of type `kind`.

    kind: [P] int geom types; point: [P, 3] hit points and size: [P, 3], in the geom frame.
    """
    x, y, z = point[..., 0], point[..., 1], point[..., 2]
    r, h = size[..., 0], size[..., 1]
    up = jnp.stack([jnp.zeros_like(z), jnp.zeros_like(z), jnp.ones_like(z)], axis=-1)
    capsule = point - jnp.stack([jnp.zeros_like(z), jnp.zeros_like(z), jnp.clip(z, -h, h)], axis=-1)
    radial = jnp.sqrt(x**2 + y**2)
    on_cap = (h - jnp.abs(z)) < (r - radial)
    cylinder = jnp.where(on_cap[..., None], up * jnp.sign(z)[..., None], jnp.stack([x, y, jnp.zeros_like(z)], -1))
    scaled = jnp.abs(point) / jnp.maximum(size, 1e-9)
    face = jnp.argmax(scaled, axis=-1)
    box = jnp.where(jnp.arange(3) == face[..., None], jnp.sign(point), 0.0)
    ellipsoid = point / jnp.maximum(size, 1e-9) ** 2
    k = kind[..., None]
    return jnp.where(
        k == PLANE, up,
        jnp.where(k == SPHERE, point,
        jnp.where(k == CAPSULE, capsule,
        jnp.where(k == CYLINDER, cylinder,
        jnp.where(k == BOX, box, ellipsoid)))))  # fmt: skip
