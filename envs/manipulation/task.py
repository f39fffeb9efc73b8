"""The skeleton every MJX manipulation task shares: model, physics step, rewards, scripted controller.

A task subclasses `ManipulationTask` and supplies its MJCF file, how an action becomes
actuator targets, its observation, its reward terms and success predicate, and a scripted
controller. This module turns those into the environment contract (`envs/core.py`):

- Dense reward (default): the sum of the task's terms, each logged as `reward/<term>`.
- Sparse reward (`sparse=True`): 1.0 on success else 0.0, logged as the single term
  `reward/success`; the dense terms are still logged, as `shaping/<term>`, so that the
  `reward/` metrics always sum to the reward. Metric keys are the same at reset and step.
- `scripted_action(state, rng, noise_scale=0.0) -> action`: the task's non-learned
  controller, a pure jittable function of the true state (the MJX data in
  `state.pipeline_state`) returning an action in [-1, 1]. It is the one interface that
  demonstrations use, whatever the task; `noise_scale` adds clipped Gaussian noise for
  diverse demonstrations (the controllers recover from small perturbations).

All positions are read from `qpos` / `mocap_pos` (and, for the arm, forward kinematics in
closed form): the tasks never need `mjx.kinematics` after a step, which saves one
kinematics pass per step.
"""

from __future__ import annotations

import abc
import os

import jax
import jax.numpy as jnp
import mujoco
from mujoco import mjx

from envs.core import Env, State, info_defaults
from envs.rendering.mjx_scene import MjxRendering

ASSETS = os.path.join(os.path.dirname(__file__), "assets")


class ManipulationTask(MjxRendering, Env):
    """Base class of the MJX manipulation tasks (see the module docstring).

    Attributes:
      mj_model: the MuJoCo `MjModel` (for rendering and CPU-side tools).
      mjx_model: the same model as `mjx.step` takes it.

    Subclasses set `xml_file`, `term_names` and implement `_initial_data`, `_ctrl`,
    `_obs`, `_terms`, `_success` and `scripted_policy`.
    """

    action_space = "continuous"
    family = "manipulation"
    default_episode_length = 100
    #: MJCF file name in `assets/`.
    xml_file: str = ""
    #: Physics steps per env step (4 x 0.01 s = 0.04 s per action, as the Fetch tasks).
    n_substeps: int = 4
    #: Names of the dense reward terms, in the order they are logged.
    term_names: tuple[str, ...] = ()

    def __init__(self, sparse: bool = False, control_weight: float = 0.01):
        self.sparse = bool(sparse)
        self.control_weight = float(control_weight)
        self.mj_model = mujoco.MjModel.from_xml_path(os.path.join(ASSETS, self.xml_file))
        self.mjx_model = mjx.put_model(self.mj_model)

    @property
    def backend(self) -> str:
        return "mjx"

    @property
    def observation_size(self) -> int:
        data = mjx.make_data(self.mjx_model)
        return int(jax.eval_shape(self._obs, data).shape[0])

    # -- what a task supplies ------------------------------------------------------------

    @abc.abstractmethod
    def _initial_data(self, rng: jax.Array, data: mjx.Data) -> mjx.Data:
        """Randomised initial qpos / ctrl / mocap_pos on top of the model's defaults."""

    @abc.abstractmethod
    def _ctrl(self, data: mjx.Data, action: jax.Array) -> jax.Array:
        """[nu] actuator targets after applying `action` (in [-1, 1]) to `data`."""

    @abc.abstractmethod
    def _obs(self, data: mjx.Data) -> jax.Array:
        """[observation_size] float32 observation (the goal included)."""

    @abc.abstractmethod
    def _terms(self, data: mjx.Data, action: jax.Array) -> dict[str, jax.Array]:
        """The dense reward terms (already weighted), keyed by `term_names`."""

    @abc.abstractmethod
    def _success(self, data: mjx.Data) -> jax.Array:
        """bool scalar: the task's success predicate."""

    @abc.abstractmethod
    def scripted_policy(self, data: mjx.Data) -> jax.Array:
        """[action_size] the scripted controller's action in [-1, 1] for the MJX data."""

    def physics_model(self, data: mjx.Data) -> mjx.Model:
        """The model `mjx.step` uses for `data`; a task whose layout is drawn at reset
        overrides it to place bodies from the data (the model itself is shared)."""
        return self.mjx_model

    # -- the contract --------------------------------------------------------------------

    def control_term(self, action: jax.Array) -> jax.Array:
        """−control_weight Σ a²: the control cost every task logs as the term "control"."""
        return -self.control_weight * jnp.sum(action**2)

    def _metrics(self, terms: dict[str, jax.Array], success: jax.Array) -> tuple[jax.Array, dict]:
        """(reward, metrics): dense sum of terms, or the success indicator when sparse."""
        success = success.astype(jnp.float32)
        if self.sparse:
            metrics = {"reward/success": success, **{f"shaping/{k}": terms[k] for k in self.term_names}}
            reward = success
        else:
            metrics = {f"reward/{k}": terms[k] for k in self.term_names}
            reward = sum(terms[k] for k in self.term_names)
        metrics["success"] = success
        return jnp.asarray(reward, jnp.float32), metrics

    def reset(self, rng: jax.Array) -> State:
        data = self._initial_data(rng, mjx.make_data(self.mjx_model))
        zero = jnp.zeros(())
        _, metrics = self._metrics({k: zero for k in self.term_names}, jnp.zeros((), bool))
        return State(data, self._obs(data), zero, zero, metrics, info_defaults())

    def step(self, state: State, action: jax.Array) -> State:
        """action: [action_size] in [-1, 1] (clipped)."""
        action = jnp.clip(action, -1.0, 1.0)
        data = state.pipeline_state
        data = data.replace(ctrl=self._ctrl(data, action))
        model = self.physics_model(data)
        data = jax.lax.fori_loop(0, self.n_substeps, lambda _, d: mjx.step(model, d), data)
        reward, metrics = self._metrics(self._terms(data, action), self._success(data))
        return state.replace(pipeline_state=data, obs=self._obs(data), reward=reward, done=jnp.zeros(()),
                             metrics=metrics)

    def scripted_action(self, state: State, rng: jax.Array, noise_scale: float = 0.0) -> jax.Array:
        """The scripted controller's action for one (unbatched) state; vmap it for a batch.

        Args:
          state: the env state; only `state.pipeline_state` (the true MJX state) is read.
          rng: key for the optional exploration noise.
          noise_scale: standard deviation of Gaussian noise added before clipping to [-1, 1].
        Returns:
          [action_size] float32 action.
        """
        action = self.scripted_policy(state.pipeline_state)
        action = action + noise_scale * jax.random.normal(rng, action.shape)
        return jnp.clip(action, -1.0, 1.0).astype(jnp.float32)

