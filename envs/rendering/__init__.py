"""Rendering inside JAX: every environment's state as pixels, jittable and vmappable.

`env.render(state, camera=None, height=64, width=64, depth=False)` (defined on `envs.Env`)
builds a `Scene` of MuJoCo-style geoms from the state (`env.render_scene`) and ray-casts it
(`scene.render`). MJX environments take geometry, colours and cameras from their MuJoCo
model (`mjx_scene.py`); pure-JAX environments draw themselves with a few primitives
(`drawings.py`).
"""

from envs.rendering.camera import Camera, look_at, orbit
from envs.rendering.scene import Scene, render

__all__ = ["Camera", "Scene", "look_at", "orbit", "render"]
