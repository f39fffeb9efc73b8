"""Wrappers: time limit with a truncation flag, vmap, and auto-reset with fresh resets.

`training_wrap(env, episode_length)` gives the stack the learners use:
`AutoReset(Vmap(TimeLimit(env)))`. Auto-reset sits *outside* the vmap so that it can skip
the reset computation with one `lax.cond` when no environment in the batch finished — the
reset it does draw is a fresh one from a per-environment key, never a cached first state,
so that every episode starts from a new draw of the initial-state distribution (a cached
first state would restart each environment from the same state every episode).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.core import Env, State


class Wrapper(Env):
    """Forwards everything to the wrapped env."""

    def __init__(self, env: Env):
        self.env = env
        self.action_space = env.action_space
        self.default_episode_length = env.default_episode_length
        self.family = env.family

    def reset(self, rng: jax.Array) -> State:
        return self.env.reset(rng)

    def step(self, state: State, action: jax.Array) -> State:
        return self.env.step(state, action)

    @property
    def observation_size(self):
        return self.env.observation_size

    @property
    def action_size(self) -> int:
        return self.env.action_size

    @property
    def backend(self) -> str:
        return self.env.backend

    @property
    def unwrapped(self) -> Env:
        return self.env.unwrapped

    def render_scene(self, state: State, camera=None):
        return self.env.render_scene(state, camera)

    def render(self, state: State, camera=None, height: int = 64, width: int = 64, depth: bool = False):
        return self.env.render(state, camera, height, width, depth)

    def __getattr__(self, name):
        # Only reached for attributes not found normally: env-specific ones (render, sys...).
        if name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)


class TimeLimit(Wrapper):
    """Ends episodes after `episode_length` steps and marks them as truncated.

    `info["truncation"]` is 1.0 only when the time limit ended an episode that had not
    terminated on its own at the same step.
    """

    def __init__(self, env: Env, episode_length: int):
        super().__init__(env)
        if episode_length <= 0:
            raise ValueError(f"episode_length must be positive, got {episode_length}")
        self.episode_length = int(episode_length)

    def reset(self, rng: jax.Array) -> State:
        state = self.env.reset(rng)
        info = dict(state.info, steps=jnp.zeros((), jnp.int32), truncation=jnp.zeros((), jnp.float32))
        return state.replace(info=info)

    def step(self, state: State, action: jax.Array) -> State:
        state = self.env.step(state, action)
        steps = state.info["steps"] + 1
        terminated = state.done > 0
        out_of_time = steps >= self.episode_length
        # float32 as in `reset`: weak-typed flags would make a jit fed its own output retrace.
        truncation = (out_of_time & ~terminated).astype(jnp.float32)
        done = (terminated | out_of_time).astype(jnp.float32)
        info = dict(state.info, steps=steps, truncation=truncation)
        return state.replace(done=done, info=info)


class Vmap(Wrapper):
    """Batches reset/step over a leading environment axis."""

    def reset(self, rng: jax.Array) -> State:
        """rng: [B, 2] keys (one per environment)."""
        return jax.vmap(self.env.reset)(rng)

    def step(self, state: State, action: jax.Array) -> State:
        return jax.vmap(self.env.step)(state, action)

    def render(self, state: State, camera=None, height: int = 64, width: int = 64, depth: bool = False):
        """Frames of a batch of states: [B, height, width, 3] (and depth [B, height, width])."""
        return jax.vmap(lambda s: self.env.render(s, camera, height, width, depth))(state)


class AutoReset(Wrapper):
    """Replaces finished environments of a *batched* env with freshly drawn resets.

    The observation the finished episode ended on is kept in `info["final_obs"]` (needed
    to bootstrap on truncation and by rewards that look at the next observation); the
    returned `done`, `reward`, `truncation` and `metrics` are those of the finished step.

    `batch_axis`: when the caller vmaps the whole batched env once more (the trainer vmaps
    over seeds and sweep variants), name that axis here and vmap with
    `axis_name=batch_axis`. The predicate "did any env finish" is then reduced over that
    axis too; without this, `vmap` batches the predicate and JAX turns the `lax.cond` into
    a `select` that computes a full reset at every step, which slows every training
    iteration (benchmarks/results/ppo_findings.md, section 3).

    `frames`: for rewards that read pixels, any object with `height`, `width` and `camera`
    (jaxreward's `FrameSpec`). Each step then renders the stepped states *before* finished
    ones are replaced into `info["final_frame"]` uint8 [B, H, W, 3] — the frame an episode
    ended on, like `final_obs` (rendering after the reset would show the next episode's start).
    """

    #: info entries this wrapper adds (the wrapped env never sees them)
    OWN_INFO = ("reset_rng", "final_obs", "final_frame")

    def __init__(self, env: Env, batch_axis: str | None = None, frames=None):
        super().__init__(env)
        self.batch_axis = batch_axis
        self.frames = frames

    def _final_frame(self, state: State) -> dict:
        if self.frames is None:
            return {}
        f = self.frames
        return {"final_frame": self.env.render(state, f.camera, f.height, f.width)}

    def reset(self, rng: jax.Array) -> State:
        """rng: [B, 2] keys."""
        keys = jax.vmap(jax.random.split)(rng)
        state = self.env.reset(keys[:, 0])
        info = dict(state.info, reset_rng=keys[:, 1], final_obs=state.obs, **self._final_frame(state))
        return state.replace(info=info)

    def step(self, state: State, action: jax.Array) -> State:
        reset_rng = state.info["reset_rng"]
        inner = state.replace(info={k: v for k, v in state.info.items() if k not in self.OWN_INFO})
        stepped = self.env.step(inner, action)
        done = stepped.done > 0

        def reset_finished(_):
            keys = jax.vmap(jax.random.split)(reset_rng)
            fresh = self.env.reset(keys[:, 0])

            def pick(new, old):
                mask = done.reshape(done.shape + (1,) * (old.ndim - done.ndim))
                return jnp.where(mask, new, old)

            pipeline_state = jax.tree.map(pick, fresh.pipeline_state, stepped.pipeline_state)
            obs = jax.tree.map(pick, fresh.obs, stepped.obs)
            # Keep this step's truncation flag; everything else in info restarts.
            info = {
                k: (pick(fresh.info[k], v) if k in fresh.info and k != "truncation" else v)
                for k, v in stepped.info.items()
            }
            return pipeline_state, obs, info, jnp.where(done[:, None], keys[:, 1], reset_rng)

        def keep(_):
            return stepped.pipeline_state, stepped.obs, stepped.info, reset_rng

        any_done = jnp.any(done)
        if self.batch_axis is not None:
            any_done = jax.lax.psum(any_done.astype(jnp.int32), self.batch_axis) > 0
        pipeline_state, obs, info, new_rng = jax.lax.cond(any_done, reset_finished, keep, None)
        info = dict(info, reset_rng=new_rng, final_obs=stepped.obs, **self._final_frame(stepped))
        return stepped.replace(pipeline_state=pipeline_state, obs=obs, info=info)


def training_wrap(env: Env, episode_length: int | None = None, batch_axis: str | None = None, frames=None) -> Env:
    """The batched, time-limited, auto-resetting env that learners step.

    `env` may already be a `TimeLimit` (as `envs.make` returns); otherwise one is added.
    `batch_axis`, `frames`: see `AutoReset`.
    """
    if not isinstance(env, TimeLimit):
        env = TimeLimit(env, episode_length or env.default_episode_length)
    elif episode_length is not None and episode_length != env.episode_length:
        env = TimeLimit(env.env, episode_length)
    return AutoReset(Vmap(env), batch_axis=batch_axis, frames=frames)
