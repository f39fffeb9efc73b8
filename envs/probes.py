"""Probe environments whose correct values are known in closed form.

Each isolates one piece of a learner (after the probe suite popularised by Andy Jones,
"Debugging RL, Without the Agonizing Pain", 2021): a learner that fails one of them has a
bug in the matching piece. All use discrete actions and terminate (never truncate) within
two steps, so value targets are exact.

- `probe/constant`: one action, obs 0, one step, reward +1.     V(0) = 1.
- `probe/obs_reward`: one action, obs ±1, one step, reward = obs.  V(o) = o.
- `probe/delayed`: one action, obs 0 then 1, reward +1 at step 2 only.  V(0) = γ, V(1) = 1.
- `probe/two_actions`: two actions, obs 0, one step, reward +1 for action 1, −1 for 0.
  Optimal policy: action 1; V(0) = 1.
- `probe/contextual`: two actions, obs ±1, one step, reward +1 when the action matches the
  sign of obs (1 for +1, 0 for −1), else −1.  π(1 | +1) = π(0 | −1) = 1, V = 1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.core import Env, State, info_defaults
from envs.rendering import drawings


class Probe(Env):
    action_space = "discrete"
    default_episode_length = 100
    family = "probe"

    #: number of discrete actions
    num_actions = 1

    @property
    def observation_size(self) -> int:
        return 1

    @property
    def action_size(self) -> int:
        return self.num_actions

    def render_scene(self, state: State, camera=None):
        """A trivial picture: the observation as a sphere's height."""
        return drawings.probe(jnp.mean(state.obs)), drawings.choose_camera(camera, drawings.probe_camera())

    def _state(self, obs, t=None, reward=0.0, done=0.0, state=None):
        zero = jnp.zeros(())
        metrics = {"reward/probe": jnp.asarray(reward, jnp.float32), "success": zero}
        if state is None:
            return State(jnp.zeros((), jnp.int32), obs, zero, zero, metrics, info_defaults())
        return state.replace(pipeline_state=t, obs=obs, reward=jnp.asarray(reward, jnp.float32),
                             done=jnp.asarray(done, jnp.float32), metrics=metrics)


class ConstantReward(Probe):
    def reset(self, rng):
        return self._state(jnp.zeros((1,)))

    def step(self, state, action):
        return self._state(state.obs, state.pipeline_state + 1, 1.0, 1.0, state)


class ObsReward(Probe):
    def reset(self, rng):
        return self._state(jnp.where(jax.random.bernoulli(rng), 1.0, -1.0)[None])

    def step(self, state, action):
        return self._state(state.obs, state.pipeline_state + 1, state.obs[0], 1.0, state)


class DelayedReward(Probe):
    def reset(self, rng):
        return self._state(jnp.zeros((1,)))

    def step(self, state, action):
        t = state.pipeline_state + 1
        last = t >= 2
        return self._state(jnp.ones((1,)), t, jnp.where(last, 1.0, 0.0), jnp.where(last, 1.0, 0.0), state)


class TwoActions(Probe):
    num_actions = 2

    def reset(self, rng):
        return self._state(jnp.zeros((1,)))

    def step(self, state, action):
        reward = jnp.where(action == 1, 1.0, -1.0)
        return self._state(state.obs, state.pipeline_state + 1, reward, 1.0, state)


class Contextual(Probe):
    num_actions = 2

    def reset(self, rng):
        return self._state(jnp.where(jax.random.bernoulli(rng), 1.0, -1.0)[None])

    def step(self, state, action):
        good = jnp.where(state.obs[0] > 0, 1, 0)
        reward = jnp.where(action == good, 1.0, -1.0)
        return self._state(state.obs, state.pipeline_state + 1, reward, 1.0, state)


class ContinuousProbe(Probe):
    """Continuous-action probes (actions in [-1, 1]^1) for off-policy learners."""

    action_space = "continuous"
    num_actions = 1


class ContinuousConstant(ContinuousProbe):
    """obs 0, reward +1 every step, never terminates: episodes end only by truncation,
    so a learner that bootstraps through time limits learns Q = 1 / (1 - γ)."""

    default_episode_length = 20

    def reset(self, rng):
        return self._state(jnp.zeros((1,)))

    def step(self, state, action):
        return self._state(state.obs, state.pipeline_state + 1, 1.0, 0.0, state)


class ActionReward(ContinuousProbe):
    """obs 0, one step, reward = action.  Q(0, a) = a; the optimal action is +1."""

    def reset(self, rng):
        return self._state(jnp.zeros((1,)))

    def step(self, state, action):
        return self._state(state.obs, state.pipeline_state + 1, action[0], 1.0, state)
