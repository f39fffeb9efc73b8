"""What a sweep runs: a base config, swept fields, seeds -> runs grouped by static config.

A sweep file (YAML, TOML, JSON, or a Python file defining `SWEEP = {...}`):

    name: pendulum-lr            # optional; the output folder's default name
    base:                        # TrainConfig fields, nested as in the CLI's --print-config
      env: pendulum
      total_steps: 100000
    seeds: 4                     # or an explicit list [0, 1, 2, 3]
    grid:                        # every combination of these values
      ppo.learning_rate: [0.001, 0.0003]
      reward.terms: ["gold", "gold:1,regression:0.5"]
    random:                      # and/or random search
      num_samples: 8
      seed: 0
      ppo.entropy_coef: {uniform: [0.0, 0.01]}
      ppo.learning_rate: {log_uniform: [0.0001, 0.01]}
      ppo.update_epochs: {choice: [2, 4]}

A swept field is either **vmappable** — its value is a leaf of the `TrainState`
(learner hyperparameters such as `ppo.learning_rate`; reward-term weights when only the
weights differ; the fields a reward model's registration declares vmappable, such as
`reward.vlm.alpha`) — or **static** (anything that shapes the program: `num_envs`, network
sizes, the reward terms themselves). Runs are grouped by their static config: each group
compiles once and all its variants x seeds run in one vmapped program.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from dataclasses import dataclass

import numpy as np

from jaxreward.agents.ppo import PPOHyper
from jaxreward.agents.sac import SACConfig, SACHyper
from jaxreward.rewards import registry as reward_registry
from jaxreward.rewards.compose import parse_terms
from jaxreward.training import presets
from jaxreward.training.config import TrainConfig

DISTRIBUTIONS = ("uniform", "log_uniform", "choice")


def vmappable_fields() -> set[str]:
    """Dotted config fields whose values live in the TrainState (no recompile per value).

    Learner hyperparameters, the reward terms (their weights; `_static_key` keeps the rest),
    and each registered reward section's declared `vmappable` fields.
    """
    ppo = {f"ppo.{f.name}" for f in dataclasses.fields(PPOHyper)}
    sac_config = {f.name for f in dataclasses.fields(SACConfig)}
    sac = {f"sac.{f.name}" for f in dataclasses.fields(SACHyper) if f.name in sac_config}
    rewards = {f"reward.{name}.{f}" for name, section in reward_registry.sections().items() for f in section.vmappable}
    return ppo | sac | {"reward.terms"} | rewards


@dataclass(frozen=True)
class Run:
    """One run of a sweep: its full config, its seed, and the swept values (for tables)."""

    config: TrainConfig
    seed: int
    labels: dict  # swept field -> value, plus "seed" and "variant"


@dataclass(frozen=True)
class Group:
    """Runs that share one static config, hence one compiled program."""

    static_config: TrainConfig
    runs: tuple[Run, ...]


@dataclass(frozen=True)
class SweepSpec:
    name: str
    base: dict
    seeds: tuple[int, ...]
    grid: dict
    random: dict

    @property
    def swept_fields(self) -> list[str]:
        return list(self.grid) + [k for k in self.random if k not in ("num_samples", "seed")]


def load(path: str) -> dict:
    """Reads a sweep file into a dict (YAML, TOML, JSON, or Python with `SWEEP`)."""
    if not os.path.isfile(path):
        raise ValueError(f"sweep file {path!r} does not exist")
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext in (".yaml", ".yml"):
            import yaml

            with open(path) as f:
                data = yaml.safe_load(f)
        elif ext == ".toml":
            import tomllib

            with open(path, "rb") as f:
                data = tomllib.load(f)
        elif ext == ".json":
            with open(path) as f:
                data = json.load(f)
        elif ext == ".py":
            namespace: dict = {}
            with open(path) as f:
                exec(compile(f.read(), path, "exec"), namespace)
            if "SWEEP" not in namespace:
                raise ValueError("a Python sweep file must define SWEEP = {...}")
            data = namespace["SWEEP"]
        else:
            raise ValueError("expected a .yaml, .yml, .toml, .json or .py file")
    except ValueError as e:
        raise ValueError(f"sweep file {path!r}: {e}") from None
    except Exception as e:  # a syntax error in the user's file
        raise ValueError(f"sweep file {path!r} could not be read: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"sweep file {path!r} must hold a mapping with keys base, seeds, grid, random")
    data.setdefault("name", os.path.splitext(os.path.basename(path))[0])
    return data


def parse(data: dict) -> SweepSpec:
    """Validates a sweep mapping; errors name the key at fault."""
    allowed = {"name", "base", "seeds", "grid", "random"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"sweep: unknown key(s) {unknown}; valid keys: {', '.join(sorted(allowed))}")
    seeds = data.get("seeds", 1)
    if isinstance(seeds, int):
        if seeds <= 0:
            raise ValueError(f"sweep: seeds must be positive, got {seeds}")
        first = int(data.get("base", {}).get("seed", 0))
        seeds = tuple(range(first, first + seeds))
    elif isinstance(seeds, (list, tuple)) and seeds and all(isinstance(s, int) for s in seeds):
        seeds = tuple(seeds)
    else:
        raise ValueError(f"sweep: seeds must be a positive count or a list of integers, got {seeds!r}")
    grid = dict(data.get("grid") or {})
    for key, values in grid.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError(f"sweep: grid.{key} must be a non-empty list of values, got {values!r}")
    rand = dict(data.get("random") or {})
    if rand:
        n = rand.get("num_samples")
        if not isinstance(n, int) or n <= 0:
            raise ValueError("sweep: random.num_samples must be a positive integer")
        for key, dist in rand.items():
            if key in ("num_samples", "seed"):
                continue
            if not (isinstance(dist, dict) and len(dist) == 1 and next(iter(dist)) in DISTRIBUTIONS):
                raise ValueError(f"sweep: random.{key} must be one of {{uniform: [lo, hi]}}, {{log_uniform: [lo, hi]}}, {{choice: [...]}}; got {dist!r}")
    for key in list(grid) + [k for k in rand if k not in ("num_samples", "seed")]:
        if key in ("seed", "num_seeds"):
            raise ValueError(f"sweep: sweep seeds with the top-level `seeds` key, not {key!r}")
    base = dict(data.get("base") or {})
    base.pop("num_seeds", None)
    return SweepSpec(str(data.get("name", "sweep")), base, seeds, grid, rand)


def variants(spec: SweepSpec) -> list[dict]:
    """The swept values of each variant: the grid product, times the random samples."""
    keys = list(spec.grid)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*(spec.grid[k] for k in keys))] or [{}]
    if not spec.random:
        return points
    rng = np.random.default_rng(int(spec.random.get("seed", 0)))
    samples = []
    for _ in range(spec.random["num_samples"]):
        sample = {}
        for key, dist in spec.random.items():
            if key in ("num_samples", "seed"):
                continue
            (kind, arg), = dist.items()
            if kind == "uniform":
                sample[key] = float(rng.uniform(arg[0], arg[1]))
            elif kind == "log_uniform":
                sample[key] = float(np.exp(rng.uniform(np.log(arg[0]), np.log(arg[1]))))
            else:
                sample[key] = arg[int(rng.integers(len(arg)))]
        samples.append(sample)
    return [dict(p, **s) for p in points for s in samples]


def _nested(dotted: dict) -> dict:
    out: dict = {}
    for key, value in dotted.items():
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def config_of(spec: SweepSpec, values: dict) -> TrainConfig:
    """The validated TrainConfig of one variant (seed and num_seeds left at their base)."""
    settings = presets._merge(spec.base, _nested(values))
    env = settings.pop("env", TrainConfig.env)
    return presets.config_for(env, **settings)


def _static_key(cfg: TrainConfig) -> TrainConfig:
    """`cfg` with every vmappable value replaced by a placeholder: equal keys, one program."""
    fields = vmappable_fields()
    ppo = dataclasses.replace(cfg.ppo, **{f.split(".")[1]: None for f in fields if f.startswith("ppo.")})
    sac = dataclasses.replace(cfg.sac, **{f.split(".")[1]: None for f in fields if f.startswith("sac.")})
    terms = ",".join(f"{t.name}:norm={t.norm}:clip={t.clip}" for t in parse_terms(cfg.reward.terms))
    sections = {
        name: dataclasses.replace(getattr(cfg.reward, name), **dict.fromkeys(section.vmappable))
        for name, section in reward_registry.sections().items()
        if section.vmappable
    }
    reward = dataclasses.replace(cfg.reward, terms=terms, **sections)
    return dataclasses.replace(cfg, ppo=ppo, sac=sac, reward=reward, seed=0, num_seeds=1)


def groups(spec: SweepSpec) -> list[Group]:
    """Runs (variants x seeds) grouped by static config, in the order first seen."""
    by_key: dict = {}
    for v, values in enumerate(variants(spec)):
        cfg = config_of(spec, values)
        key = _static_key(cfg)
        entry = by_key.setdefault(key, [cfg, []])
        for seed in spec.seeds:
            labels = {"variant": v, "seed": seed, **values}
            entry[1].append(Run(dataclasses.replace(cfg, seed=seed, num_seeds=1), seed, labels))
    return [Group(dataclasses.replace(cfg, seed=runs[0].seed, num_seeds=len(runs)), tuple(runs)) for cfg, runs in by_key.values()]
