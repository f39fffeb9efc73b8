"""Suite-wide setup: one persistent XLA compilation cache per test run, the test files that
share traced envs kept together under pytest-xdist, and the longest files started first.

Many tests compile the same program more than once (a run and its resumed half, a sweep's
chunks, CLI runs of one config); with a run-wide cache the repeats load the executable
instead of compiling it again. The cache lives in a temporary folder, so every run starts
cold and tests never depend on a user's cache; pytest-xdist's workers share it.

The suite runs in two pytest-xdist workers (`pyproject.toml`: `-n 2`; units below): one
pytest process left the second core of a 2-core CPU idle most of the time (XLA compiles one
program on one core). Each test file is one work unit, except the env-physics files
(`ENV_GROUP`), which share the session's traced envs and so form one unit run by one worker.
The units start longest first, so the run does not end on one long file.

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

    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base folder sits in the run's folder: the workers share a cache.
    # (JAX writes an entry in place; should one worker read an entry the other is still writing,
    # JAX warns and compiles the program again.)
    directory = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "xla-cache"
    directory.mkdir(exist_ok=True)
    # Code under test that enables the cache itself (the CLI, subprocesses) uses this one too.
    os.environ["JAXREWARD_CACHE_DIR"] = str(directory)
    enable_compile_cache(str(directory))
    yield


#: Test files that share the session's traced envs (`jitted_env`): one xdist work unit.
ENV_GROUP = ("test_envs.py", "test_env_locomotion.py", "test_env_manipulation.py", "test_env_exploration.py",
             "test_gymnasium_parity.py",
             "test_render.py")
#: Work units measured slowest on a 2-core CPU (compile-bound), longest first.
SLOWEST_FILES = ENV_GROUP + ("test_learning.py", "test_sac.py", "test_preference.py", "test_perceptual.py",
                             "test_intrinsic.py", "test_sweeps.py", "test_cli.py", "test_training.py",
                             "test_evaluation.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOWEST_FILES)}
    # sorted() is stable: tests keep their order within a file, other files theirs.
    items[:] = sorted(items, key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist work units: one per test file, the ENV_GROUP files together, in collection order.

    (xdist's own `--dist loadgroup` groups nothing under pytest 9.2: it marks groups by
    rewriting `item._nodeid`, which pytest 9.2's node ids no longer read.)
    """
    from xdist.scheduler import LoadScopeScheduling

    class FilesWithEnvGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "env-physics" if os.path.basename(path) in ENV_GROUP else path

    return FilesWithEnvGroup(config, log)


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
