"""Environments for jaxreward: pure-JAX and MJX physics, Brax-compatible.

`envs` knows nothing of rewards or learners. Use `envs.make(name)` and `envs.names()`.
"""

import contextlib as _contextlib
import io as _io

# mujoco.mjx prints a notice to stdout when its optional Warp backend is absent; jaxreward
# never uses Warp, so the notice is only noise in every command's output.
with _contextlib.redirect_stdout(_io.StringIO()):
    import mujoco.mjx  # noqa: F401

from envs.core import Env, State
from envs.registry import make, names, options, parse_option, register, spec
from envs.wrappers import AutoReset, TimeLimit, Vmap, training_wrap

from envs import _catalog  # noqa: F401  (registers the built-in environments)

__all__ = ["Env", "State", "make", "names", "options", "parse_option", "register", "spec", "AutoReset", "TimeLimit", "Vmap", "training_wrap"]
