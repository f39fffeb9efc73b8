"""Reward registry: one registration per model, and the reward config composed from terms.

A `Registration` names a model, describes it, builds it, and points at the config `Section`
it reads. Everything that lists or configures reward models reads the registrations:
`RewardConfig`'s sections (and so config.json's `reward.<section>` layout), its validation,
`names()`, `describe()`, `make`, the `--<section>.<field>` options of `jaxreward train`,
`TrainConfig.from_dict` and the sweeps' vmappable fields. Adding a model is one `register`
call; several models may share one section (the four demonstration rewards read `demo`).
"""

from __future__ import annotations

import dataclasses
import keyword
from dataclasses import dataclass, field
from typing import Callable, Mapping

from envs.registry import unknown_name_error
from jaxreward.rewards.base import RewardModel, RewardSpec
from jaxreward.rewards.compose import Composite, parse_terms, validate_terms
from jaxreward.rewards.coverage import Coverage, CoverageConfig
from jaxreward.rewards.e3b import E3B, E3BConfig
from jaxreward.rewards.episodic_count import CountConfig, EpisodicCount
from jaxreward.rewards.global_episodic import GlobalEpisodic, GlobalEpisodicConfig
from jaxreward.rewards.gold import Gold, Success
from jaxreward.rewards.icm import ICM, ICMConfig
from jaxreward.rewards.knn_episodic import KNNConfig, KNNEpisodic
from jaxreward.rewards.perceptual.models import DemoRewardConfig, build_demo_reward
from jaxreward.rewards.preference import PreferenceConfig, PreferenceReward
from jaxreward.rewards.regression import Regression, RegressionConfig
from jaxreward.rewards.rnd import RND, RNDConfig
from jaxreward.rewards.vlm_reward import VLMConfig, VLMReward


@dataclass(frozen=True, eq=False)
class Section:
    """A settings section of `RewardConfig`: `reward.<name>` in config.json, `--<name>.*` options.

    `config_class` is a frozen dataclass with a `validate()` that raises ValueError naming the
    field. `vmappable` lists its fields whose values live in the reward state, so a sweep over
    them shares one compiled program. `field_help` documents fields on the command line where
    the CLI's shared glossary (`cli.FIELD_HELP`) does not.
    """

    name: str
    config_class: type
    #: Heading of the section's option group in `jaxreward train --help`.
    doc: str = ""
    vmappable: tuple[str, ...] = ()
    field_help: Mapping[str, str] = field(default_factory=dict)

    @property
    def heading(self) -> str:
        return self.doc or f"the `{self.name}` reward model"


def _uses_nothing(cfg: "RewardConfig") -> tuple[str, ...]:
    return ()


@dataclass(frozen=True, eq=False)
class Registration:
    """One reward model: its name (as a term), one-line description, builder and settings.

    `build(spec, cfg)` receives the whole `RewardConfig` and reads its own section (models
    built on others, like `global_x_episodic`, read several). `uses(cfg)` names the other
    registered models `build` makes, so run-dependent checks reach them too.
    """

    name: str
    description: str
    build: Callable[[RewardSpec, "RewardConfig"], RewardModel]
    section: Section | None = None
    uses: Callable[["RewardConfig"], tuple[str, ...]] = _uses_nothing


_REGISTRATIONS: dict[str, Registration] = {}
_SECTIONS: dict[str, Section] = {}


@dataclass(frozen=True, init=False, eq=False, repr=False)
class RewardConfig:
    """Which reward the agent optimises, and each registered model's settings section.

    `terms` uses the syntax of `rewards.compose` (e.g. "regression" or
    "gold:1.0,regression:0.5:norm=scale"). The gold reward is logged whatever is chosen.
    Every registered section is a dataclass field (`cfg.rnd`, `dataclasses.replace(cfg,
    rnd=...)`, `dataclasses.asdict`), in registration order; sections not given take their
    defaults. The field list follows the registry, which is why `__init__`, `__eq__` and
    `__hash__` are written out rather than generated once.
    """

    terms: str = "gold"

    def __init__(self, terms: str = "gold", **sections):
        unknown = sorted(set(sections) - set(_SECTIONS))
        if unknown:
            raise TypeError(f"RewardConfig: unknown section(s) {unknown}; sections: {', '.join(_SECTIONS)}")
        object.__setattr__(self, "terms", terms)
        for name, section in _SECTIONS.items():
            value = sections.get(name, None)
            if value is None:
                value = section.config_class()
            elif not isinstance(value, section.config_class):
                raise TypeError(f"RewardConfig: {name} must be a {section.config_class.__name__}, got {type(value).__name__}")
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # Only reached for a section registered after this instance was made: its defaults.
        if name in _SECTIONS:
            return _SECTIONS[name].config_class()
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _values(self) -> tuple:
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"RewardConfig({inner})"

    def validate(self) -> None:
        """Checks the terms and every section's own values.

        Sections of models the terms do not use are validated as well: their checks need
        nothing but the section itself, and a bad value there (a mistyped option, say) is a
        mistake worth reporting. Checks against the rest of the run (a minibatch count that
        must divide the batch) apply only to `models_used()`; `TrainConfig.validate` makes them.
        """
        validate_terms(parse_terms(self.terms), names())
        for name in _SECTIONS:
            getattr(self, name).validate()

    def models_used(self) -> tuple[str, ...]:
        """The registered models `terms` builds: the terms and the models they build on."""
        found: list[str] = []
        pending = [t.name for t in parse_terms(self.terms)]
        while pending:
            name = pending.pop(0)
            if name in found:
                continue
            found.append(name)
            pending.extend(registration(name).uses(self))
        return tuple(found)


def _set_section_field(section: Section) -> None:
    # A throwaway dataclass makes a complete `Field` (name, type, default factory) through
    # the public API; RewardConfig then lists it among its fields.
    template = dataclasses.make_dataclass(
        "_Section", [(section.name, section.config_class, field(default_factory=section.config_class))], frozen=True
    )
    RewardConfig.__dataclass_fields__[section.name] = dataclasses.fields(template)[0]


def register(
    name: str,
    description: str,
    build: Callable[[RewardSpec, RewardConfig], RewardModel],
    section: Section | None = None,
    uses: Callable[[RewardConfig], tuple[str, ...]] = _uses_nothing,
) -> Registration:
    """Registers a reward model; models sharing settings pass the same `Section` object."""
    if name in _REGISTRATIONS:
        raise ValueError(f"reward {name!r} is already registered")
    if section is not None:
        known = _SECTIONS.get(section.name)
        if known is not None and known is not section:
            raise ValueError(f"config section {section.name!r} is already registered by another model; share its Section object")
        if known is None:
            reserved = {f.name for f in dataclasses.fields(RewardConfig)} | set(dir(RewardConfig))
            if not section.name.isidentifier() or keyword.iskeyword(section.name) or section.name in reserved:
                raise ValueError(f"config section name {section.name!r} is not a free identifier of RewardConfig")
            unknown = sorted(set(section.vmappable) - {f.name for f in dataclasses.fields(section.config_class)})
            if unknown:
                raise ValueError(f"section {section.name!r}: vmappable field(s) {unknown} are not fields of {section.config_class.__name__}")
            _SECTIONS[section.name] = section
            _set_section_field(section)
    entry = Registration(name, description, build, section, uses)
    _REGISTRATIONS[name] = entry
    return entry


def unregister(name: str) -> None:
    """Removes a registration, and its section once no registered model reads it."""
    entry = _REGISTRATIONS.pop(name)
    section = entry.section
    if section is not None and all(r.section is not section for r in _REGISTRATIONS.values()):
        del _SECTIONS[section.name]
        del RewardConfig.__dataclass_fields__[section.name]


def registration(name: str) -> Registration:
    """The registration of `name`; an unknown name fails with the valid ones."""
    if name not in _REGISTRATIONS:
        raise unknown_name_error("reward", name, names(), "rewards")
    return _REGISTRATIONS[name]


def sections() -> dict[str, Section]:
    """Registered config sections by name, in registration order (config.json's order)."""
    return dict(_SECTIONS)


def names() -> list[str]:
    return sorted(_REGISTRATIONS)


def describe() -> dict[str, str]:
    return {name: entry.description for name, entry in _REGISTRATIONS.items()}


def make(name: str, spec: RewardSpec, cfg: RewardConfig | None = None) -> RewardModel:
    """Builds one reward model by name (`cfg` defaults to every section's defaults)."""
    entry = registration(name)
    return entry.build(spec, RewardConfig() if cfg is None else cfg)


def make_composite(spec: RewardSpec, cfg: RewardConfig) -> Composite:
    """The composite of `cfg.terms`, which the training step optimises."""
    terms = parse_terms(cfg.terms)
    validate_terms(terms, names())
    return Composite(spec, terms, tuple(make(t.name, spec, cfg) for t in terms))


# ---- the project's reward models ---------------------------------------------------------
# Registration order fixes the order of the sections in RewardConfig and config.json.

register("gold", "the environment's own task reward", lambda spec, cfg: Gold(spec))
register("success", "sparse: 1 on a transition into a solved state (the env's success metric), else 0",
         lambda spec, cfg: Success(spec))
register("regression", "MLP r(s, a) fitted to gold reward samples inside the training step",
         lambda spec, cfg: Regression(spec, cfg.regression),
         Section("regression", RegressionConfig, vmappable=("learning_rate",),
                 field_help={"use_next_obs": "feed (s, a, s') instead of (s, a)"}))
register("preference", "Bradley-Terry ensemble fitted to segment comparisons from a synthetic teacher or a labels file",
         lambda spec, cfg: PreferenceReward(spec, cfg.preference),
         Section("preference", PreferenceConfig, vmappable=("learning_rate",), field_help={
             "teacher_users": "mixture-of-users teacher: users as weights of the env's reward terms, e.g. 'forward=1,control=1; forward=-1,control=1'",
             "teacher_user_probs": "probability each user answers a query, comma separated (default: uniform)",
         }))
register("rnd", "intrinsic: random network distillation error on s', normalised (Burda et al. 2019)",
         lambda spec, cfg: RND(spec, cfg.rnd),
         Section("rnd", RNDConfig, vmappable=("learning_rate",), field_help={
             "update_proportion": "fraction of each batch the RND predictor trains on",
             "return_gamma": "discount of the intrinsic return whose running std divides the RND bonus",
             "obs_clip": "clip normalised observations to [-obs_clip, obs_clip]",
             "warmup_steps": "random-policy steps per env that initialise the observation statistics",
         }))
register("icm", "intrinsic: forward-model error in an inverse-dynamics embedding (Pathak et al. 2017)",
         lambda spec, cfg: ICM(spec, cfg.icm),
         Section("icm", ICMConfig, vmappable=("learning_rate",),
                 field_help={"forward_weight": "beta: weight of the forward loss against the inverse loss"}))
register("e3b", "intrinsic, episodic: elliptical bonus over the episode's embeddings (Henaff et al. 2022)",
         lambda spec, cfg: E3B(spec, cfg.e3b),
         Section("e3b", E3BConfig, vmappable=("learning_rate",), field_help={"ridge": "lambda of C = lambda I + sum phi phi^T"}))
register("count", "intrinsic, episodic: 1/sqrt(visits this episode) of the hashed grid cell of s'",
         lambda spec, cfg: EpisodicCount(spec, cfg.count),
         Section("count", CountConfig, field_help={
             "source": "grid (hashed cells of the normalised observation) | cell (the env's metrics['cell'])",
             "cell_size": "grid cell width in running standard deviations",
             "table_size": "hash buckets per env",
         }))
register("knn", "intrinsic, episodic: NGU k-nearest-neighbour novelty in the episode (Badia et al. 2020)",
         lambda spec, cfg: KNNEpisodic(spec, cfg.knn),
         Section("knn", KNNConfig, vmappable=("learning_rate",), field_help={
             "capacity": "slots of each env's episodic memory",
             "num_neighbors": "k of the k-nearest-neighbour bonus",
         }))

_GLOBAL_EPISODIC = Section("global_episodic", GlobalEpisodicConfig, "the `global_x_episodic` / `global_plus_episodic` reward models",
                          field_help={"episodic": "the episodic half: e3b | count | knn"})


def _global_episodic(mode: str) -> Callable[[RewardSpec, RewardConfig], RewardModel]:
    def build(spec: RewardSpec, cfg: RewardConfig) -> RewardModel:
        return GlobalEpisodic(spec, make("rnd", spec, cfg), make(cfg.global_episodic.episodic, spec, cfg), mode)

    return build


def _rnd_and_episodic(cfg: RewardConfig) -> tuple[str, ...]:
    return ("rnd", cfg.global_episodic.episodic)


register("global_x_episodic", "intrinsic: rnd x an episodic bonus (global_episodic.episodic; Henaff et al. 2023)",
         _global_episodic("product"), _GLOBAL_EPISODIC, _rnd_and_episodic)
register("global_plus_episodic", "intrinsic: rnd + an episodic bonus (global_episodic.episodic)",
         _global_episodic("sum"), _GLOBAL_EPISODIC, _rnd_and_episodic)
register("coverage", "diagnostic, reward 0: logs the number of distinct metrics['cell'] visited",
         lambda spec, cfg: Coverage(spec, cfg.coverage),
         Section("coverage", CoverageConfig, "the `coverage` diagnostic term",
                 field_help={"max_cells": "size of the visited-cell table"}))

_DEMO = Section("demo", DemoRewardConfig, "the demonstration rewards: perceptual, goal_distance, goal_potential, progress_distance",
               field_help={
                   "demos": "demonstrations file written by `jaxreward demos` (required by the frame rewards)",
                   "encoder": "'' trains a TCN on the demos' frames; tcn:PATH loads one; clip:PATH a local CLIP checkpoint",
                   "num_steps": "K: steps each demo is segmented into (perceptual reward)",
                   "num_features": "features selected per step (perceptual reward)",
                   "tcn_steps": "training steps of the TCN when no encoder is given",
               })


def _demo(kind: str) -> Callable[[RewardSpec, RewardConfig], RewardModel]:
    return lambda spec, cfg: build_demo_reward(spec, kind, cfg.demo)


register("perceptual", "frames: step classifiers fitted to demo.demos (Sermanet et al. 2017), TCN or CLIP features",
         _demo("perceptual"), _DEMO)
register("goal_distance", "frames: -distance of the frame embedding to the demos' success frames (VIP-style; its potential form: goal_distance:1:transform=delta)",
         _demo("goal_distance"), _DEMO)
register("goal_potential", "frames: goal_distance's potential-based difference form (goal_distance:1:transform=delta, under its own name so both can be terms)",
         _demo("goal_potential"), _DEMO)
register("progress_distance", "frames: -distance to the demos' mean embedding at the same episode step",
         _demo("progress_distance"), _DEMO)
register("vlm", "CLIP similarity of the rendered frame to prompts, goal-baseline regularised (Rocamonde et al. 2024); needs reward.vlm.checkpoint",
         lambda spec, cfg: VLMReward(spec, cfg.vlm),
         # alpha lives in the vlm term's reward state (VLMReward.init).
         Section("vlm", VLMConfig, "the `vlm` reward: CLIP checkpoint folder, prompts (separated by |), alpha", vmappable=("alpha",)))
