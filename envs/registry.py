"""Environment registry: `make(name, **options)` and `names()`.

Unknown names and unknown options fail with a message that lists the valid ones.
"""

from __future__ import annotations

import difflib
import inspect
import json
from dataclasses import dataclass
from typing import Any, Callable

from envs.core import Env
from envs.wrappers import TimeLimit


@dataclass(frozen=True)
class Spec:
    name: str
    factory: Callable[..., Env]
    defaults: dict[str, Any]
    description: str


_REGISTRY: dict[str, Spec] = {}


def register(name: str, factory: Callable[..., Env], description: str = "", **defaults: Any) -> None:
    """Adds an environment. `defaults` are keyword options passed to `factory`."""
    if name in _REGISTRY:
        raise ValueError(f"environment {name!r} is already registered")
    _REGISTRY[name] = Spec(name, factory, dict(defaults), description)


def names() -> list[str]:
    """All registered environment names, sorted."""
    return sorted(_REGISTRY)


def unknown_name_error(kind: str, name: str, valid: list[str], valid_label: str = "names") -> ValueError:
    """The error for a name no registry holds: the closest valid names, then all of them.
    Every registry (environments, reward models, learners) reports unknown names this way."""
    close = difflib.get_close_matches(name, valid, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return ValueError(f"unknown {kind} {name!r}.{hint} Valid {valid_label}: {', '.join(valid)}")


def spec(name: str) -> Spec:
    if name not in _REGISTRY:
        raise unknown_name_error("environment", name, names())
    return _REGISTRY[name]


def options(name: str) -> dict[str, Any]:
    """The keyword options `make(name, ...)` accepts, with their defaults."""
    s = spec(name)
    params = inspect.signature(s.factory).parameters
    opts = {k: p.default for k, p in params.items() if p.kind is p.KEYWORD_ONLY or p.default is not p.empty}
    opts.update(s.defaults)
    return opts


def make(name: str, episode_length: int | None = None, time_limit: bool = True, **kwargs: Any) -> Env:
    """Builds environment `name`, wrapped in a `TimeLimit` unless `time_limit=False`.

    Args:
      name: a registered name (see `names()`).
      episode_length: steps before truncation; the env's own default when None.
      time_limit: wrap in `TimeLimit` (the learners need it; tests of raw dynamics may not).
      **kwargs: environment options (see `options(name)`).
    """
    s = spec(name)
    valid = options(name)
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        listing = ", ".join(f"{k}={v!r}" for k, v in valid.items()) or "(none)"
        raise ValueError(f"unknown option(s) {unknown} for environment {name!r}. Valid options: {listing}")
    env = s.factory(**{**s.defaults, **kwargs})
    if time_limit:
        env = TimeLimit(env, episode_length or env.default_episode_length)
    return env


def parse_option(item: str) -> tuple[str, Any]:
    """A command line's `KEY=VALUE` -> (key, value) for `make(name, key=value)`: VALUE is
    read as JSON (`true`/`false` in any case, numbers, `[0.3, 0.3]`, with lists made tuples
    so that configs holding options stay hashable), or kept as text if it is not JSON."""
    if "=" not in item:
        raise ValueError(f"an environment option is KEY=VALUE, got {item!r}")
    key, text = item.split("=", 1)
    try:
        value = json.loads(text.lower() if text.lower() in ("true", "false") else text)
    except json.JSONDecodeError:
        value = text
    return key, tuple(value) if isinstance(value, list) else value
