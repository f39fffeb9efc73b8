"""Scenes and cameras of MuJoCo models, from `mjx.Data`: what MJX environments render.

`ModelView` reads once, on the host, what a model shows: its visible geoms and sites
(groups 0–2, MuJoCo's default visual groups, with non-zero alpha), their types, sizes and colours (the
material's colour where the geom keeps the default grey, as MuJoCo does), the first
light's direction, its cameras and the far plane. Per frame only the poses change:
`scene(data)` takes `geom_xpos` / `geom_xmat` and `camera(data, camera)` the MJCF camera
poses, both after `forward_positions`.
Textures are not reproduced: planes get a checker pattern instead. Surfaces nearer than
MuJoCo's near clipping plane (`vis.map.znear` × extent) are clipped as MuJoCo clips them.

`MjxRendering` is the mixin MJX environments (reacher, manipulation, locomotion, the
Playground adapter) inherit: it implements `Env.render_scene` for a `pipeline_state` that
is (or holds) an `mjx.Data`.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import mujoco
import numpy as np
from mujoco import mjx

from envs.rendering import raycast
from envs.rendering.camera import Camera, orbit
from envs.rendering.scene import Scene

#: MuJoCo renders geom groups 0, 1 and 2 by default (`mjvOption.geomgroup`).
VISIBLE_GROUPS = 3
SUPPORTED = tuple(raycast.HIT)
#: "free": MuJoCo's default free camera (`mujoco.Renderer(...).update_scene(data, camera=-1)`).
FREE_CAMERA = -1
_DEFAULT_RGBA = np.array([0.5, 0.5, 0.5, 1.0], np.float32)


class ModelView:
    """The static, renderable description of an `MjModel` (see the module docstring)."""

    def __init__(self, model: mujoco.MjModel):
        geoms = (model.geom_group < VISIBLE_GROUPS) & (model.geom_rgba[:, 3] > 0)
        # MuJoCo draws sites too (task targets often are sites), so the scene has them.
        sites = (model.site_group < VISIBLE_GROUPS) & (model.site_rgba[:, 3] > 0)
        types = np.concatenate([model.geom_type[geoms], model.site_type[sites]])
        unsupported = sorted({mujoco.mjtGeom(t).name for t in types if t not in SUPPORTED})
        if unsupported:
            raise NotImplementedError(f"the JAX renderer does not draw geom types {unsupported}")
        self.geom_ids = np.flatnonzero(geoms)
        self.site_ids = np.flatnonzero(sites)
        self.kinds = tuple(int(t) for t in types)
        rgba = model.geom_rgba[self.geom_ids].astype(np.float32)
        matid = model.geom_matid[self.geom_ids]
        use_material = (matid >= 0) & np.all(np.isclose(rgba, _DEFAULT_RGBA), axis=1)
        if model.nmat:
            rgba = np.where(use_material[:, None], model.mat_rgba[np.maximum(matid, 0)], rgba)
        site_rgba = model.site_rgba[self.site_ids].astype(np.float32)
        site_matid = model.site_matid[self.site_ids]
        if model.nmat:
            site_rgba = np.where((site_matid >= 0)[:, None], model.mat_rgba[np.maximum(site_matid, 0)], site_rgba)
        self.rgb = np.concatenate([rgba, site_rgba])[:, :3]
        planes = np.asarray(self.kinds) == raycast.PLANE
        self.checker = np.where(planes, self._checker_cell(model), 0.0).astype(np.float32)
        self.size = np.concatenate([model.geom_size[self.geom_ids], model.site_size[self.site_ids]]).astype(np.float32)
        light = model.light_dir[0] if model.nlight else np.array([0.0, 0.0, -1.0])
        self.light_dir = (light / np.linalg.norm(light)).astype(np.float32)
        self.far = np.float32(model.stat.extent * model.vis.map.zfar)
        self.near = np.float32(model.stat.extent * model.vis.map.znear)
        self.camera_names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_CAMERA, i) for i in range(model.ncam)]
        self.cam_fovy = model.cam_fovy.astype(np.float32)
        self.free = (model.stat.center.copy(), 1.5 * model.stat.extent, model.vis.global_.azimuth,
                     model.vis.global_.elevation, model.vis.global_.fovy)  # fmt: skip
        modes = set(int(m) for m in model.cam_mode)
        self.needs_com = bool(modes & {int(mujoco.mjtCamLight.mjCAMLIGHT_TRACKCOM),
                                       int(mujoco.mjtCamLight.mjCAMLIGHT_TARGETBODYCOM)})  # fmt: skip

    def object_ids(self) -> tuple[np.ndarray, np.ndarray]:
        """(mjtObj type, id) of each scene element: geoms first, then sites."""
        types = np.concatenate([np.full(len(self.geom_ids), int(mujoco.mjtObj.mjOBJ_GEOM)),
                                np.full(len(self.site_ids), int(mujoco.mjtObj.mjOBJ_SITE))])  # fmt: skip
        return types, np.concatenate([self.geom_ids, self.site_ids])

    @staticmethod
    def _checker_cell(model: mujoco.MjModel) -> float:
        # A checker about as fine as the model's own floor texture would be; the exact
        # texture is not reproduced, the pattern only has to make motion visible.
        return float(max(model.stat.extent, 0.2) / 8.0)

    def scene(self, data: mjx.Data) -> Scene:
        """The geoms and sites at `data`'s pose (their xpos / xmat must be current)."""
        return Scene(
            pos=jnp.concatenate([data.geom_xpos[self.geom_ids], data.site_xpos[self.site_ids]]),
            xmat=jnp.concatenate([data.geom_xmat[self.geom_ids], data.site_xmat[self.site_ids]]),
            size=jnp.asarray(self.size),
            rgb=jnp.asarray(self.rgb),
            checker=jnp.asarray(self.checker),
            light_dir=jnp.asarray(self.light_dir),
            far=jnp.asarray(self.far),
            kinds=self.kinds,
            near=jnp.asarray(self.near),
        )

    def camera_index(self, camera: int | str | None) -> int:
        """An MJCF camera's index from its name or index; None is camera 0 (or the free
        camera for a model without cameras)."""
        if camera is None:
            return 0 if self.camera_names else FREE_CAMERA
        if isinstance(camera, str):
            if camera == "free":
                return FREE_CAMERA
            if camera not in self.camera_names:
                raise ValueError(f"unknown camera {camera!r}; the model has {self.camera_names} and 'free'")
            return self.camera_names.index(camera)
        if not FREE_CAMERA <= int(camera) < len(self.camera_names):
            raise ValueError(f"camera index {camera} out of range: the model has {len(self.camera_names)} cameras")
        return int(camera)

    def camera(self, data: mjx.Data, camera: int | str | Camera | None) -> Camera:
        """The `Camera` for a camera argument: an MJCF camera (name or index, posed by
        `data`), "free"/−1 (MuJoCo's default free view), or a `Camera` as given."""
        if isinstance(camera, Camera):
            return camera
        index = self.camera_index(camera)
        if index == FREE_CAMERA:
            lookat, distance, azimuth, elevation, fovy = self.free
            return orbit(lookat, distance, azimuth, elevation, fovy)
        return Camera(data.cam_xpos[index], data.cam_xmat[index], jnp.asarray(self.cam_fovy[index]))


def forward_positions(model: mjx.Model, data: mjx.Data, needs_com: bool) -> mjx.Data:
    """Geom and camera poses for `data.qpos` (MJX steps leave them one substep behind)."""
    data = mjx.kinematics(model, data)
    if needs_com:
        data = mjx.com_pos(model, data)
    return mjx.camlight(model, data)


class MjxRendering:
    """Mixin for MJX environments: `render_scene` from `self.mj_model` / `self.mjx_model`.

    Environments whose `pipeline_state` is not an `mjx.Data` override `render_data`.
    Cameras: None (the MJCF's first camera), an MJCF camera name or index, "free" or −1
    (MuJoCo's default free camera), or a `Camera` (e.g. `look_at(...)`).
    """

    @functools.cached_property
    def model_view(self) -> ModelView:
        return ModelView(self.mj_model)

    def render_data(self, pipeline_state) -> mjx.Data:
        """The `mjx.Data` inside a state's `pipeline_state`."""
        return pipeline_state

    def render_scene(self, state, camera=None) -> tuple[Scene, Camera]:
        view = self.model_view
        data = forward_positions(self.mjx_model, self.render_data(state.pipeline_state), view.needs_com)
        return view.scene(data), view.camera(data, camera)

