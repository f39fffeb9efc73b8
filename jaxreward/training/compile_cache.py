"""JAX's persistent compilation cache, on by default.

On a CPU, compiling is most of a short run; with the cache a second run of the same
program skips most of it. The directory is `$JAXREWARD_CACHE_DIR`, else
`$XDG_CACHE_HOME/jaxreward/xla`, else `~/.cache/jaxreward/xla`.
"""

from __future__ import annotations

import os

import jax


def cache_dir() -> str:
    if os.environ.get("JAXREWARD_CACHE_DIR"):
        return os.environ["JAXREWARD_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jaxreward", "xla")


def enable_compile_cache(directory: str | None = None) -> str:
    """Turns the persistent cache on (idempotent). Returns the directory used."""
    directory = directory or cache_dir()
    os.makedirs(directory, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", directory)
    # Cache every program that took noticeable time; small ones are cheap to redo.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory
