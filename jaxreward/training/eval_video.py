"""Videos of evaluation episodes during training (`TrainConfig.video_every`).

Every `video_every` log points (and at the end) the host loop writes
`videos/env_steps_<N>.gif`: one episode of the first run's deterministic policy (with its
observation normaliser) on a fresh environment, rendered by the JAX renderer
(`env.render`) inside one compiled scan. The state is an argument of that program, not a
constant, so it compiles once per run.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

import envs
from jaxreward import video


class EvalVideo:
    """Writes evaluation-episode GIFs for one `Trainer`."""

    def __init__(self, trainer, size: int = 64):
        cfg = trainer.cfg
        env = envs.make(cfg.env, episode_length=cfg.episode_length, **dict(cfg.env_options))
        self.episode_length = getattr(env, "episode_length", None) or env.default_episode_length
        act = trainer.evaluate_policy_fn()
        try:  # fail at start-up, not after hours of training, when the env cannot render
            jax.eval_shape(lambda s: env.render(s, None, size, size), jax.eval_shape(env.reset, jax.random.PRNGKey(0)))
        except NotImplementedError as e:
            raise ValueError(f"video_every: environment {cfg.env!r} cannot render ({e}); set video_every=0") from None

        def episode(ts, key):
            first = env.reset(key)

            def step(state, _):
                nxt = env.step(state, act(ts, state.obs[None])[0])
                return nxt, (env.render(nxt, None, size, size), nxt.done)

            _, (frames, done) = jax.lax.scan(step, first, None, length=self.episode_length)
            return jnp.concatenate([env.render(first, None, size, size)[None], frames]), done

        self._episode = jax.jit(episode)

    def write(self, state, path: str, seed: int = 0) -> str:
        """Renders one episode of run 0 of `state` (leading runs axis) into the GIF `path`."""
        run0 = jax.tree.map(lambda x: x[0], state)
        frames, done = jax.device_get(self._episode(run0, jax.random.PRNGKey(seed)))
        done = np.asarray(done) > 0
        length = 1 + (int(np.argmax(done)) + 1 if done.any() else len(done))
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        video.write_video(np.asarray(frames[:length]), path)
        return path
