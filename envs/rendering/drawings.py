"""Scenes for the pure-JAX environments, built from a handful of MuJoCo-style primitives.

These environments have no MuJoCo model, so each draws itself: a pendulum is a capsule in
front of a checkered backdrop, a maze is boxes on a floor, a grid world is one box per cell.
Side views look along +y at the x–z plane (x right, z up); top views look down −z with +y
up in the image. Every function here is pure and jittable; the geom list is fixed per
environment (a hidden primitive gets size 0 and is never hit).
"""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp
import numpy as np

from envs.rendering import raycast
from envs.rendering.camera import Camera, look_at
from envs.rendering.scene import Scene

WHITE = (0.9, 0.9, 0.9)
GREY = (0.5, 0.5, 0.5)
DARK = (0.25, 0.25, 0.3)
RED = (0.85, 0.25, 0.2)
GREEN = (0.25, 0.75, 0.3)
BLUE = (0.2, 0.4, 0.85)
YELLOW = (0.9, 0.8, 0.2)
BROWN = (0.6, 0.45, 0.3)
#: distinct colours for object kinds in grid worlds (MinAtar has up to 10 channels)
PALETTE = np.array([BLUE, RED, YELLOW, GREEN, BROWN, (0.6, 0.3, 0.7), (0.2, 0.7, 0.7), (0.9, 0.5, 0.1),
                    (0.9, 0.4, 0.6), (0.5, 0.8, 0.2), (0.3, 0.3, 0.3)], np.float32)  # fmt: skip
LIGHT_DIR = (-0.3, 0.4, -0.87)  # from above, a little from the viewer's left and front
FAR = 100.0


def rotation_y(angle) -> jnp.ndarray:
    """[3, 3] rotation about the world y axis (the axis side views look along)."""
    c, s = jnp.cos(angle), jnp.sin(angle)
    zero, one = jnp.zeros_like(c), jnp.ones_like(c)
    return jnp.stack([jnp.stack([c, zero, s]), jnp.stack([zero, one, zero]), jnp.stack([-s, zero, c])])


def frame_z(axis) -> jnp.ndarray:
    """[3, 3] a rotation whose z column is the unit vector along `axis` [3] (axis ≠ ±y is
    assumed not to matter: the x column is chosen orthogonal to y when possible)."""
    z = axis / jnp.maximum(jnp.linalg.norm(axis), 1e-9)
    x = jnp.cross(jnp.array([0.0, 1.0, 0.0]), z)
    x = jnp.where(jnp.linalg.norm(x) < 1e-6, jnp.array([1.0, 0.0, 0.0]), x)
    x = x / jnp.linalg.norm(x)
    return jnp.stack([x, jnp.cross(z, x), z], axis=1)


def prim(kind: int, pos, xmat=None, size=(0.0, 0.0, 0.0), rgb=GREY, checker: float = 0.0) -> dict:
    """One primitive, as keyword arrays for `scene`."""
    return dict(kind=kind, pos=jnp.asarray(pos, jnp.float32),
                xmat=jnp.eye(3) if xmat is None else jnp.asarray(xmat, jnp.float32),
                size=jnp.asarray(size, jnp.float32), rgb=jnp.asarray(rgb, jnp.float32),
                checker=jnp.asarray(checker, jnp.float32))  # fmt: skip


def capsule_between(a, b, radius: float, rgb) -> dict:
    """A capsule from point `a` [3] to point `b` [3]."""
    a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
    half = jnp.linalg.norm(b - a) / 2.0
    return prim(raycast.CAPSULE, (a + b) / 2.0, frame_z(b - a), jnp.stack([jnp.asarray(radius, jnp.float32), half, 0.0]), rgb)


def backdrop(y: float = 1.0, rgb=WHITE, checker: float = 0.25) -> dict:
    """An infinite checkered wall at `y`, facing a side-view camera at negative y."""
    xmat = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # columns x, z, −y
    return prim(raycast.PLANE, (0.0, y, 0.0), xmat, (0.0, 0.0, 0.0), rgb, checker)


def floor(z: float = 0.0, half_extent: Sequence[float] = (0.0, 0.0), rgb=WHITE, checker: float = 0.25) -> dict:
    """A checkered floor at height `z` (infinite when half_extent is 0)."""
    return prim(raycast.PLANE, (0.0, 0.0, z), None, (half_extent[0], half_extent[1], 0.0), rgb, checker)


def scene(prims: Sequence[dict], light_dir=LIGHT_DIR, far: float = FAR) -> Scene:
    """Stacks primitives into a `Scene`."""
    light = np.asarray(light_dir, np.float32)
    return Scene(
        pos=jnp.stack([p["pos"] for p in prims]),
        xmat=jnp.stack([p["xmat"] for p in prims]),
        size=jnp.stack([p["size"] for p in prims]),
        rgb=jnp.stack([p["rgb"] for p in prims]),
        checker=jnp.stack([p["checker"] for p in prims]),
        light_dir=jnp.asarray(light / np.linalg.norm(light)),
        far=jnp.asarray(far, jnp.float32),
        kinds=tuple(int(p["kind"]) for p in prims),
    )


def side_camera(centre_x: float, centre_z: float, half_width: float, fovy: float = 45.0) -> Camera:
    """A camera on −y looking along +y, seeing ±half_width around (centre_x, centre_z)."""
    distance = half_width / np.tan(np.deg2rad(fovy) / 2.0)
    return look_at((centre_x, -distance, centre_z), (centre_x, 0.0, centre_z), fovy=fovy)


def top_camera(centre_x: float, centre_y: float, half_width: float, fovy: float = 45.0, tilt: float = 0.25) -> Camera:
    """A camera above (centre_x, centre_y) seeing about ±half_width, tilted by `tilt`
    (a fraction of the distance, toward −y) so that walls show their height."""
    distance = 1.15 * half_width / np.tan(np.deg2rad(fovy) / 2.0)
    eye = (centre_x, centre_y - tilt * distance, distance)
    return look_at(eye, (centre_x, centre_y, 0.0), up=(0.0, 1.0, 0.0), fovy=fovy)


def pendulum(theta) -> Scene:
    """A unit pole hinged at the origin; θ = 0 is upright, positive θ turns it counter-clockwise."""
    tip = jnp.stack([-jnp.sin(theta), 0.0, jnp.cos(theta)])
    hinge = prim(raycast.CYLINDER, (0.0, 0.0, 0.0), frame_z(jnp.array([0.0, 1.0, 0.0])), (0.1, 0.12, 0.0), DARK)
    return scene([backdrop(0.5), hinge, capsule_between(jnp.zeros(3), tip, 0.07, RED)])


def acrobot(theta1, theta2) -> Scene:
    """Two unit links hanging from the origin; θ1 = θ2 = 0 hangs straight down."""
    elbow = jnp.stack([jnp.sin(theta1), 0.0, -jnp.cos(theta1)])
    tip = elbow + jnp.stack([jnp.sin(theta1 + theta2), 0.0, -jnp.cos(theta1 + theta2)])
    return scene([
        backdrop(0.5),
        capsule_between((-2.2, 0.0, 1.0), (2.2, 0.0, 1.0), 0.02, DARK),  # the height to swing above
        capsule_between(jnp.zeros(3), elbow, 0.07, BLUE),
        capsule_between(elbow, tip, 0.07, RED),
    ])  # fmt: skip


def cartpole(x, theta, rail_limit: float, pole_length: float = 1.0) -> Scene:
    """A cart at `x` on a rail of ±rail_limit with a pole of `pole_length`; θ = 0 is
    upright, positive θ leans it toward +x."""
    cart = jnp.stack([x, 0.0, 0.0])
    tip = cart + pole_length * jnp.stack([jnp.sin(theta), 0.0, jnp.cos(theta)])
    return scene([
        backdrop(0.5),
        prim(raycast.BOX, (0.0, 0.1, -0.17), None, (rail_limit + 0.25, 0.03, 0.03), DARK),
        prim(raycast.BOX, cart, None, (0.25, 0.12, 0.14), BROWN),
        capsule_between(cart, tip, 0.05, YELLOW),
    ])  # fmt: skip


def mountain_car(position, x_range: tuple[float, float], goal: float, amplitude: float, frequency: float,
                 offset: float, segments: int = 24) -> Scene:
    """The car at `position` on the hill z = amplitude · sin(frequency · x) + offset, a flag
    at x = `goal`."""

    def hill_height(x):
        return amplitude * (np.sin(frequency * x) if isinstance(x, np.ndarray | float) else jnp.sin(frequency * x)) + offset

    xs = np.linspace(x_range[0], x_range[1], segments + 1)
    zs = hill_height(xs)
    hill = []
    for x0, x1, z0, z1 in zip(xs[:-1], xs[1:], zs[:-1], zs[1:]):
        angle = np.arctan2(z1 - z0, x1 - x0)
        half = np.hypot(x1 - x0, z1 - z0) / 2.0 + 0.01
        centre = ((x0 + x1) / 2.0 + 0.04 * np.sin(angle), 0.0, (z0 + z1) / 2.0 - 0.04 * np.cos(angle))
        hill.append(prim(raycast.BOX, centre, rotation_y(-angle), (half, 0.15, 0.04), GREEN))
    eps = 1e-3
    slope = (hill_height(position + eps) - hill_height(position - eps)) / (2 * eps)
    angle = jnp.arctan(slope)
    body = jnp.stack([position - 0.07 * jnp.sin(angle), 0.0, hill_height(position) + 0.07 * jnp.cos(angle)])
    goal_z = float(hill_height(float(goal)))
    return scene([
        backdrop(0.5), *hill,
        prim(raycast.BOX, body, rotation_y(-angle), (0.1, 0.06, 0.05), RED),
        capsule_between((goal, 0.0, goal_z), (goal, 0.0, goal_z + 0.25), 0.01, DARK),
        prim(raycast.BOX, (goal + 0.06, 0.0, goal_z + 0.21), None, (0.05, 0.01, 0.035), YELLOW),
    ])  # fmt: skip


def maze(pos, walls: np.ndarray, bounds: np.ndarray, goal: np.ndarray, goal_radius: float, wall_height: float = 0.3) -> Scene:
    """A point at `pos` [2] in a maze of axis-aligned `walls` [K, 4] (x_min, y_min, x_max,
    y_max) inside `bounds` [4], with the goal disc."""
    walls, bounds = np.asarray(walls, np.float32), np.asarray(bounds, np.float32)
    centre = (bounds[:2] + bounds[2:]) / 2.0
    half = (bounds[2:] - bounds[:2]) / 2.0
    rim = 0.05
    border = [  # the arena's edge, as four low walls
        (bounds[0] - rim, bounds[1] - rim, bounds[2] + rim, bounds[1]),
        (bounds[0] - rim, bounds[3], bounds[2] + rim, bounds[3] + rim),
        (bounds[0] - rim, bounds[1], bounds[0], bounds[3]),
        (bounds[2], bounds[1], bounds[2] + rim, bounds[3]),
    ]
    boxes = [prim(raycast.BOX, ((w[0] + w[2]) / 2, (w[1] + w[3]) / 2, wall_height / 2), None,
                  ((w[2] - w[0]) / 2, (w[3] - w[1]) / 2, wall_height / 2), BROWN)
             for w in [*walls, *border]]  # fmt: skip
    radius = 0.06 * float(max(half))
    return scene([
        prim(raycast.PLANE, (centre[0], centre[1], 0.0), None, (half[0], half[1], 0.0), WHITE, float(max(half)) / 8),
        prim(raycast.CYLINDER, (goal[0], goal[1], 0.005), None, (goal_radius, 0.005, 0.0), GREEN),
        *boxes,
        prim(raycast.SPHERE, jnp.stack([pos[0], pos[1], radius]), None, (radius, 0.0, 0.0), BLUE),
    ])  # fmt: skip


def cell_grid(values, palette: np.ndarray, cell: float = 1.0) -> Scene:
    """A grid image as a scene: one box per cell, coloured `palette[values]`, hidden where
    `values` is 0. values: [rows, columns] ints (row 0 at the top); palette: [K, 3]."""
    rows, columns = values.shape
    r, c = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
    centres = np.stack([(c - (columns - 1) / 2) * cell, ((rows - 1) / 2 - r) * cell, np.full(r.shape, cell / 4)], -1)
    on = (values > 0).reshape(-1)[:, None]
    n = rows * columns
    size = jnp.where(on, jnp.array([0.45, 0.45, 0.25]) * cell, 0.0)
    back = prim(raycast.PLANE, (0.0, 0.0, 0.0), None, (columns * cell / 2, rows * cell / 2, 0.0), DARK, 0.0)
    return Scene(
        pos=jnp.concatenate([back["pos"][None], jnp.asarray(centres.reshape(n, 3), jnp.float32)]),
        xmat=jnp.broadcast_to(jnp.eye(3), (n + 1, 3, 3)),
        size=jnp.concatenate([back["size"][None], size]),
        rgb=jnp.concatenate([back["rgb"][None], jnp.asarray(palette, jnp.float32)[values.reshape(-1)]]),
        checker=jnp.zeros(n + 1),
        light_dir=jnp.asarray(np.array(LIGHT_DIR) / np.linalg.norm(LIGHT_DIR), jnp.float32),
        far=jnp.asarray(FAR, jnp.float32),
        kinds=(raycast.PLANE,) + (raycast.BOX,) * n,
    )


def grid_camera(rows: int, columns: int, cell: float = 1.0) -> Camera:
    """A camera straight above a `cell_grid` that frames the whole grid."""
    half = max(rows, columns) * cell / 2.0
    distance = 1.05 * half / np.tan(np.deg2rad(20.0) / 2.0)
    return look_at((0.0, -1e-3, distance), (0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0), fovy=20.0)


def probe(value) -> Scene:
    """A probe's observation as a sphere's height above a floor (probes have no picture)."""
    z = 0.5 + 0.4 * jnp.tanh(value)
    return scene([floor(), prim(raycast.SPHERE, jnp.stack([0.0, 0.0, z]), None, (0.2, 0.0, 0.0), BLUE)])



def probe_camera() -> Camera:
    return look_at((0.0, -2.5, 0.8), (0.0, 0.0, 0.5))


def choose_camera(camera, default: Camera) -> Camera:
    """`camera` if it is a `Camera`, `default` for None; environments without named cameras
    reject anything else."""
    if camera is None:
        return default
    if isinstance(camera, Camera):
        return camera
    raise ValueError(f"this environment has no named cameras; pass None or an envs.rendering.Camera, not {camera!r}")
