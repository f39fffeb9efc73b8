"""Suite-wide setup: one persistent XLA compilation cache per test session, and the
longest test files collected first.

Many tests compile the same program more than once (a run and its resumed half, a sweep's
chunks, CLI runs of one config); with a session cache the repeats load the executable
instead of compiling it again. The cache lives in a temporary folder, so every session
starts cold and tests never depend on a user's cache. Under pytest-xdist each worker is its own
session with its own cache.

The files measured slowest start first, so that with workers taking whole files
(`-n 2 --dist loadfile`) the run does not end on one long file.

`env_jit` is `jax.jit` for programs made of env physics only (no networks): on CPU it
compiles them without XLA's fusion emitters, which cut MJX compiles by a quarter to a half
and ran them no slower (see ENV_COMPILER_OPTIONS).

`jitted_env(name, **options)` hands every test file the same env object per name and options,
with `reset` and `step` under `jax.jit` (see `JitSteps`), so the physics' Python is traced once
per session rather than once per file and program.
"""

import functools
import os

import jax
import pytest

import envs
from envs.wrappers import Wrapper
from jaxreward.training.threefry_cpu import use_straight_line_threefry


# The Trainer switches JAX's CPU Threefry lowering to straight-line code (same random bits,
# fewer kernels to compile); tests that build envs or models without a Trainer get it too.
use_straight_line_threefry()


@pytest.fixture(scope="session", autouse=True)
def _session_compile_cache(tmp_path_factory):
    from jaxreward.training.compile_cache import enable_compile_cache

    directory = str(tmp_path_factory.mktemp("xla-cache"))
    # Code under test that enables the cache itself (the CLI, subprocesses) uses this one too.
    os.environ["JAXREWARD_CACHE_DIR"] = directory
    enable_compile_cache(directory)
    yield


#: Test files measured slowest on a 2-core CPU (compile-bound), longest first.
SLOWEST_FILES = ("test_envs.py", "test_learning.py", "test_perceptual.py", "test_preference.py", "test_intrinsic.py",
                 "test_env_locomotion.py", "test_render.py", "test_sac.py", "test_env_manipulation.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOWEST_FILES)}
    # sorted() is stable: tests keep their order within a file, other files theirs.
    items[:] = sorted(items, key=lambda item: rank.get(item.path.name, len(rank)))


#: XLA options for programs of env physics only. Measured on this 2-core CPU (jax 0.9.2, the
#: test_envs contract rollout: 50 steps of 8 envs under scan): without the fusion emitters
#: hopper compiled in 11.8 s instead of 22.9 s and ran 20 chunks in 0.85 s instead of 1.17 s;
#: humanoid 31.7 s instead of 41.9 s, 4.7 s instead of 5.3 s. Training programs (networks,
#: optimisers) ran ~30% slower without them, so the training code keeps XLA's defaults.
ENV_COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False} if jax.default_backend() == "cpu" else {}


def env_jit(fun=None, **jit_kwargs):
    """`jax.jit` with ENV_COMPILER_OPTIONS; usable as `env_jit(f)`, `@env_jit` or `@env_jit(static_argnames=...)`."""
    if fun is None:
        return functools.partial(env_jit, **jit_kwargs)
    return jax.jit(fun, compiler_options=ENV_COMPILER_OPTIONS, **jit_kwargs)


class JitSteps(Wrapper):
    """An env with `reset` and `step` each under one `jax.jit`.

    Every program that contains them (shape checks, batched rollouts, unbatched probes, in any
    test file) reuses one trace of each instead of running the physics' Python again: a nested
    jit is traced once per input structure and shape, and vmap batches its traced program
    (measured on `hopper`: tracing the batched step 11 s directly, 4 s through the jitted one;
    MJX traces take 5-20 s per locomotion env on this CPU). XLA inlines the nested calls.
    """

    def __init__(self, env):
        super().__init__(env)
        # Plain jits: JAX refuses compiler options on a nested jit. Called at top level they
        # compile with XLA's defaults, so tests call them through `env_jit` there.
        self.reset = jax.jit(env.reset)
        self.step = jax.jit(env.step)


@pytest.fixture(scope="session")
def jitted_env():
    """get(name, **options) -> the session's `JitSteps(envs.make(name, time_limit=False, **options))`."""
    cache: dict = {}

    def get(name: str, **options) -> JitSteps:
        key = (name, tuple(sorted(options.items())))
        if key not in cache:
            cache[key] = JitSteps(envs.make(name, time_limit=False, **options))
        return cache[key]

    return get
