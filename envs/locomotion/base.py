"""What every MJX locomotion task shares: run forward, stay healthy, spend little control.

The tasks follow Gymnasium's MuJoCo v5 locomotion environments (Hopper-v5, Walker2d-v5,
HalfCheetah-v5, Ant-v5, Humanoid-v5): per step the reward is

    forward_reward_weight · x_velocity            "reward/forward"
  + healthy_reward · [healthy]                    "reward/healthy"  (robots that can fall)
  − ctrl_cost_weight · Σ ctrl²                     "reward/control"
  − contact cost                                   "reward/contact"  (ant, humanoid)

where x_velocity is the displacement of the robot's reference point (root or centre of
mass) over the env step divided by the step's duration, and an unhealthy state ends the
episode (`done = 1`) unless `terminate_when_unhealthy=False`. As in v5 (and unlike v4) the
healthy reward is paid only in healthy states, with or without termination.

Gymnasium has no success predicate for these tasks; ours is `metrics["success"] = 1` on a
step where the robot is healthy and its x_velocity exceeds a per-robot `success_speed`
(an option: 1 m/s, 2 m/s for the half-cheetah), i.e. it is really running forward rather
than standing or falling. `metrics["x_velocity"]` logs the speed itself.

Models are the MJCF files Brax ships as package data (`brax/envs/assets/`), read offline
with `mujoco.MjSpec` so that a robot module can correct them before compiling. Like Brax's
MJX environments they use the Euler integrator (Gymnasium's models use RK4 for some robots),
no Euler implicit damping, and a Newton solve cut short: 4 line-search steps and 1 iteration
per substep (2 for the ant and humanoid, whose reward and observation read contact forces).
The short solve is several times faster on a CPU than Brax's XML iteration counts with
MuJoCo's default line search, with the same random-play statistics (mean reward, fall rate,
penetration depth); docs/performance.md ("Physics settings") has the comparison. Brax's
models also let only some geoms touch the floor (feet; the walker's torso; the cheetah's
head, thighs and feet), which keeps the contact count small; a fallen robot's other parts
pass through the floor, which matters only with `terminate_when_unhealthy=False`.

Derived physics quantities (contact forces, centre-of-mass inertias and velocities) are,
as in Gymnasium, those of the last physics substep's forward pass — one substep behind
`qpos`/`qvel`. Refreshing them would cost another pass per step.
"""

from __future__ import annotations

import importlib.resources
from typing import Callable

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx

from envs.core import Env, State, info_defaults
from envs.rendering.mjx_scene import MjxRendering


def brax_asset(filename: str) -> str:
    """Path of an MJCF file shipped inside the installed `brax` package (no download)."""
    path = importlib.resources.files("brax") / "envs" / "assets" / filename
    if not path.is_file():
        raise FileNotFoundError(f"{filename} is not among brax's packaged assets ({path})")
    return str(path)


def load_model(
    filename: str,
    *,
    iterations: int,
    ls_iterations: int,
    edit: Callable[[mujoco.MjSpec], None] | None = None,
) -> mujoco.MjModel:
    """Compiles a Brax-packaged MJCF model with the solver settings the MJX tasks use.

    `edit(spec)` may change the parsed model (joint references, frictions...) before it is
    compiled.
    """
    spec = mujoco.MjSpec.from_file(brax_asset(filename))
    total_mass = spec.compiler.settotalmass
    # `settotalmass` is deprecated in the compiler (with a warning at every load); the
    # replacement MuJoCo recommends is to scale the compiled masses, done below.
    spec.compiler.settotalmass = -1
    if edit is not None:
        edit(spec)
    model = spec.compile()
    if total_mass > 0:
        mujoco.mj_setTotalmass(model, total_mass)
        mujoco.mj_setConst(model, mujoco.MjData(model))
    model.opt.integrator = mujoco.mjtIntegrator.mjINT_EULER
    model.opt.solver = mujoco.mjtSolver.mjSOL_NEWTON
    model.opt.iterations = iterations
    model.opt.ls_iterations = ls_iterations
    model.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_EULERDAMP
    return model


def forwarded_options(local_vars: dict) -> dict:
    """A robot `__init__`'s keyword options (its `locals()`), to pass on to the base class."""
    return {k: v for k, v in local_vars.items() if k not in ("self", "__class__")}


def in_range(x: jax.Array, bounds: tuple[float, float]) -> jax.Array:
    """Boolean `low < x < high`, elementwise."""
    return (x > bounds[0]) & (x < bounds[1])


class LocomotionEnv(MjxRendering, Env):
    """Base of the MJX locomotion tasks: reward terms, termination, reset noise, stepping.

    A robot subclass sets the class attributes below and implements `_obs`,
    `_is_healthy` (robots that can fall) and, when it is not the root's x coordinate,
    `_x_position`. Its `__init__` lists its options with the Gymnasium v5 defaults and
    passes them on to `LocomotionEnv.__init__`.

    Attributes:
      mj_model: the MuJoCo `MjModel` (rendering and CPU-side tools).
      mjx_model: the same model as `mjx.step` takes it.
      dt: seconds of simulated time per env step (`n_frames` physics substeps).
    """

    action_space = "continuous"
    default_episode_length = 1000
    family = "locomotion"

    #: MJCF file among brax's packaged assets.
    asset: str
    #: Physics substeps per env step.
    n_frames: int
    #: Newton solver iterations and line-search iterations per substep.
    solver_iterations: int = 1
    ls_iterations: int = 4
    #: Initial velocities get uniform noise in [-s, s] ("uniform") or s·N(0, 1) ("normal").
    velocity_noise: str = "uniform"
    #: Whether the task has a contact cost term ("reward/contact"):
    #: min(contact_cost_weight · Σ clip(cfrc_ext, contact_force_range)², contact_cost_cap).
    has_contact_cost: bool = False
    contact_force_range: tuple[float, float] = (-float("inf"), float("inf"))
    contact_cost_cap: float = float("inf")

    def __init__(
        self,
        *,
        forward_reward_weight: float,
        ctrl_cost_weight: float,
        reset_noise_scale: float,
        success_speed: float,
        exclude_current_positions_from_observation: bool,
        healthy_reward: float | None = None,
        terminate_when_unhealthy: bool = False,
        contact_cost_weight: float = 0.0,
    ):
        self.forward_reward_weight = float(forward_reward_weight)
        self.ctrl_cost_weight = float(ctrl_cost_weight)
        self.reset_noise_scale = float(reset_noise_scale)
        self.success_speed = float(success_speed)
        self.exclude_current_positions_from_observation = bool(exclude_current_positions_from_observation)
        #: None for robots without a health predicate (no healthy term, no termination).
        self.healthy_reward = None if healthy_reward is None else float(healthy_reward)
        self.terminate_when_unhealthy = bool(terminate_when_unhealthy)
        self.contact_cost_weight = float(contact_cost_weight)

        self.mj_model = load_model(
            self.asset, iterations=self.solver_iterations, ls_iterations=self.ls_iterations, edit=self._edit_spec
        )
        self.mjx_model = mjx.put_model(self.mj_model)
        self.dt = float(self.n_frames * self.mj_model.opt.timestep)
        low, high = self.mj_model.actuator_ctrlrange.T
        self._ctrl_low = jnp.asarray(low, jnp.float32)
        self._ctrl_high = jnp.asarray(high, jnp.float32)
        self._obs_size = int(self._obs(mjx.make_data(self.mjx_model)).shape[-1])

    # -- per-robot hooks -------------------------------------------------------------------

    def _edit_spec(self, spec: mujoco.MjSpec) -> None:
        """Corrects the packaged model before compiling (default: no change)."""

    def _obs(self, data: mjx.Data) -> jax.Array:
        raise NotImplementedError

    def _is_healthy(self, data: mjx.Data) -> jax.Array:
        """Boolean scalar; only called when `healthy_reward` is not None."""
        raise NotImplementedError

    def _x_position(self, data: mjx.Data) -> jax.Array:
        """The x coordinate whose rate of change is rewarded (default: the root joint's)."""
        return data.qpos[0]

    def _after_reset(self, data: mjx.Data) -> mjx.Data:
        """Fills what `_obs` and `_x_position` read beyond qpos/qvel (default: nothing)."""
        return data

    # -- contact forces ----------------------------------------------------------------------

    def contact_forces(self, data: mjx.Data) -> jax.Array:
        """[nbody, 6] external (contact) wrenches on the bodies, clipped to `contact_force_range`."""
        # MJX keeps the JAX implementation's extra fields under `_impl`; its own deprecation
        # message names `data._impl.<field>` as the way to read them.
        return jnp.clip(data._impl.cfrc_ext, *self.contact_force_range)

    def _with_contact_forces(self, data: mjx.Data) -> mjx.Data:
        # mjx.step leaves cfrc_ext at zero (as MuJoCo does without force sensors); Gymnasium
        # calls mj_rnePostConstraint after stepping, and so do we. Only cfrc_ext is kept, so
        # the compiler drops the rest of that pass (cacc, cfrc_int).
        cfrc_ext = mjx.rne_postconstraint(self.mjx_model, data)._impl.cfrc_ext
        return data.replace(_impl=data._impl.replace(cfrc_ext=cfrc_ext))

    def _contact_cost(self, data: mjx.Data) -> jax.Array:
        cost = self.contact_cost_weight * jnp.sum(self.contact_forces(data) ** 2)
        return jnp.minimum(cost, self.contact_cost_cap)

    # -- the contract ----------------------------------------------------------------------

    @property
    def backend(self) -> str:
        return "mjx"

    @property
    def observation_size(self) -> int:
        return self._obs_size

    @property
    def action_size(self) -> int:
        return int(self.mj_model.nu)

    def _metric_keys(self) -> list[str]:
        keys = ["reward/forward"]
        if self.healthy_reward is not None:
            keys.append("reward/healthy")
        keys.append("reward/control")
        if self.has_contact_cost:
            keys.append("reward/contact")
        return keys + ["success", "x_velocity"]

    def reset(self, rng: jax.Array) -> State:
        pos_key, vel_key = jax.random.split(rng)
        model, s = self.mj_model, self.reset_noise_scale
        qpos = jnp.asarray(model.qpos0, jnp.float32) + jax.random.uniform(pos_key, (model.nq,), minval=-s, maxval=s)
        if self.velocity_noise == "normal":
            qvel = s * jax.random.normal(vel_key, (model.nv,))
        else:
            qvel = jax.random.uniform(vel_key, (model.nv,), minval=-s, maxval=s)
        # No mjx.forward here: mjx.step starts with one, and leaving it out of reset keeps
        # the auto-reset branch of a compiled rollout small.
        data = self._after_reset(mjx.make_data(self.mjx_model).replace(qpos=qpos, qvel=qvel))
        zero = jnp.zeros(())
        metrics = {k: zero for k in self._metric_keys()}
        return State(data, self._obs(data), zero, zero, metrics, info_defaults())

    def step(self, state: State, action: jax.Array) -> State:
        """action: [action_size] in [-1, 1], mapped linearly onto the actuators' ctrlrange."""
        action = jnp.clip(action, -1.0, 1.0)
        ctrl = self._ctrl_low + 0.5 * (action + 1.0) * (self._ctrl_high - self._ctrl_low)
        before = state.pipeline_state
        data = before.replace(ctrl=ctrl)
        data = jax.lax.fori_loop(0, self.n_frames, lambda _, d: mjx.step(self.mjx_model, d), data)
        if self.has_contact_cost:
            data = self._with_contact_forces(data)

        x_velocity = (self._x_position(data) - self._x_position(before)) / self.dt
        terms = {"reward/forward": self.forward_reward_weight * x_velocity}
        healthy = jnp.ones((), bool)
        if self.healthy_reward is not None:
            healthy = self._is_healthy(data)
            terms["reward/healthy"] = self.healthy_reward * healthy.astype(jnp.float32)
        terms["reward/control"] = -self.ctrl_cost_weight * jnp.sum(ctrl**2)
        if self.has_contact_cost:
            terms["reward/contact"] = -self._contact_cost(data)
        reward = sum(terms.values())

        done = jnp.zeros(())
        if self.terminate_when_unhealthy:
            done = 1.0 - healthy.astype(jnp.float32)
        success = (healthy & (x_velocity > self.success_speed)).astype(jnp.float32)
        metrics = dict(terms, success=success, x_velocity=x_velocity)
        return state.replace(pipeline_state=data, obs=self._obs(data), reward=reward, done=done, metrics=metrics)
