"""Suite-wide setup: one persistent XLA compilation cache per test session.

Many tests compile the same program more than once (a run and its resumed half, a sweep's
chunks, CLI runs of one config); with a session cache the repeats load the executable
instead of compiling it again. The cache lives in a temporary folder, so every session
starts cold and tests never depend on a user's cache.
"""

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _session_compile_cache(tmp_path_factory):
    from jaxreward.training.compile_cache import enable_compile_cache

    directory = str(tmp_path_factory.mktemp("xla-cache"))
    # Code under test that enables the cache itself (the CLI, subprocesses) uses this one too.
    os.environ["JAXREWARD_CACHE_DIR"] = directory
    enable_compile_cache(directory)
    yield
