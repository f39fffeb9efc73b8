"""Deterministic-policy evaluation on the gold reward at each log point (`TrainConfig.eval_episodes`).

Between compiled training chunks the host loop plays `eval_episodes` episodes per run with
the run's deterministic policy (`Trainer.evaluate_policy_fn`: the mean or most likely
action, through the run's observation normaliser) on environments of their own, and logs
per run:

- `eval/gold_return`: the mean undiscounted episode return on the environment's own reward.
  That reward is the gold one whatever reward the run optimises, so a learned-reward run is
  judged on the task here.
- `eval/success`: the fraction of episodes whose last step reports `metrics["success"]`
  (the rule of the training `success` column; 0 for an environment without a success
  predicate). The last step, not the maximum over the episode: a task such as "reach and
  hold" succeeds only if the episode ends in the goal state.

The evaluation is a program of its own, outside the training chunk: it reads the state and
never writes it, and its reset keys come from the run's seed and the log point's env step
rather than from `TrainState.rng`. Training is therefore bit-identical with evaluation on or
off, a resumed run evaluates exactly as the uninterrupted one would, and each log point
draws new initial states.

Each episode runs until it terminates or reaches the time limit (`episode_length`); the
environments are not auto-reset, and steps after an episode's end add nothing. The steps
are a `lax.while_loop` that stops once every episode of every run has ended, not a scan of
`episode_length` steps: early in training, locomotion episodes end after a few dozen steps
of a time limit of a thousand.

The program is mostly environment physics, so on CPU it is compiled without XLA's fusion
emitters (`compiler_options`), which halves the compile of an MJX environment's episode
and does not slow it down (the test suite's `env_jit` does the same for the same reason).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import envs
from jaxreward.runs import RUNS_AXIS

#: The root of the evaluation keys, distinct from the seeds' training keys (`Trainer.seed_keys`).
EVAL_KEY_ROOT = 0x6576616C

#: The metric names each evaluation writes per run (metrics.csv columns).
COLUMNS = ("eval/gold_return", "eval/success")


def compiler_options() -> dict:
    """XLA options of the evaluation program (see the module docstring). A function, not a
    constant: asking for the backend at import would start it before `jax.distributed` can."""
    return {"xla_cpu_use_fusion_emitters": False} if jax.default_backend() == "cpu" else {}


class PolicyEvaluation:
    """The compiled evaluation program of one `Trainer`, for runs with seeds `seeds`.

    `seeds`: [S], one seed per run on the state's leading runs axis (a sweep chunk's variants
    may share one, and then share their initial states: common random numbers for comparing
    them). Each call plays `cfg.eval_episodes` episodes per run on a batch of that many envs.
    """

    def __init__(self, trainer, seeds: list[int]):
        cfg = trainer.cfg
        self.num_episodes = cfg.eval_episodes
        env = envs.make(cfg.env, episode_length=cfg.episode_length, **dict(cfg.env_options))
        self.episode_length = env.episode_length
        self.seeds = np.asarray(seeds, np.uint32)
        batch = envs.Vmap(env)
        act = trainer.evaluate_policy_fn()
        num_episodes, limit = self.num_episodes, self.episode_length

        def episodes(ts, seed, env_steps):
            """One run: `num_episodes` episodes of its deterministic policy -> per-run means []."""
            key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(EVAL_KEY_ROOT), seed), env_steps)
            first = batch.reset(jax.random.split(key, num_episodes))
            zeros = jnp.zeros((num_episodes,), jnp.float32)

            def running(carry):
                _, alive, _, _, t = carry
                return (t < limit) & jnp.any(alive)

            def step(carry):
                state, alive, ret, success, t = carry
                nxt = batch.step(state, act(ts, state.obs))
                ended = alive & (nxt.done > 0)
                # A select, not a product with `alive`: a finished env stepped on may hold NaN.
                ret = ret + jnp.where(alive, nxt.reward, 0.0)
                success = jnp.where(ended, nxt.metrics.get("success", zeros).astype(jnp.float32), success)
                return nxt, alive & ~ended, ret, success, t + 1

            carry = (first, jnp.ones((num_episodes,), bool), zeros, zeros, jnp.zeros((), jnp.int32))
            _, _, ret, success, _ = jax.lax.while_loop(running, step, carry)
            return {"eval/gold_return": jnp.mean(ret), "eval/success": jnp.mean(success)}

        self._program = jax.jit(jax.vmap(episodes, in_axes=(0, 0, None), axis_name=RUNS_AXIS))
        self._compiled = None

    def _args(self, env_steps: int):
        return self.seeds, np.uint32(env_steps % 2**32)

    def compile(self, state) -> None:
        """Compiles the program for `state`'s layout (leading runs axis), ahead of the first call."""
        self._compiled = self._program.lower(state, *self._args(0)).compile(compiler_options())

    def __call__(self, state, env_steps: int) -> list[dict[str, float]]:
        """Per run: {"eval/gold_return": float, "eval/success": float} for the policy in `state`
        at env step `env_steps` (which, with the run's seed, picks the initial states)."""
        if self._compiled is None:
            self.compile(state)
        out = jax.device_get(self._compiled(state, *self._args(env_steps)))
        return [{name: float(out[name][i]) for name in COLUMNS} for i in range(len(self.seeds))]
