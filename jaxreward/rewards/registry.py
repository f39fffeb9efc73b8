"""Reward registry: names -> models, and the reward config composed from terms."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from jaxreward.rewards.base import RewardModel, RewardSpec
from jaxreward.rewards.compose import Composite, parse_terms, validate_terms
from jaxreward.rewards.gold import Gold
from jaxreward.rewards.preference import PreferenceConfig, PreferenceReward
from jaxreward.rewards.regression import Regression, RegressionConfig


@dataclass(frozen=True)
class RewardConfig:
    """Which reward the agent optimises, and each learned model's settings.

    `terms` uses the syntax of `rewards.compose` (e.g. "regression" or
    "gold:1.0,regression:0.5:norm=scale"). The gold reward is logged whatever is chosen.
    """

    terms: str = "gold"
    regression: RegressionConfig = field(default_factory=RegressionConfig)
    preference: PreferenceConfig = field(default_factory=PreferenceConfig)

    def validate(self) -> None:
        validate_terms(parse_terms(self.terms), names())
        self.regression.validate()
        self.preference.validate()


_BUILDERS = {
    "gold": lambda spec, cfg: Gold(spec),
    "regression": lambda spec, cfg: Regression(spec, cfg.regression),
    "preference": lambda spec, cfg: PreferenceReward(spec, cfg.preference),
}

_DESCRIPTIONS = {
    "gold": "the environment's own task reward",
    "regression": "MLP r(s, a) fitted to gold reward samples inside the training step",
    "preference": "Bradley-Terry ensemble fitted to segment comparisons from a synthetic teacher or a labels file",
}


def names() -> list[str]:
    return sorted(_BUILDERS)


def describe() -> dict[str, str]:
    return dict(_DESCRIPTIONS)


def make(name: str, spec: RewardSpec, cfg: RewardConfig = RewardConfig()) -> RewardModel:
    """Builds one reward model by name."""
    if name not in _BUILDERS:
        close = difflib.get_close_matches(name, names(), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown reward {name!r}.{hint} Valid rewards: {', '.join(names())}")
    return _BUILDERS[name](spec, cfg)


def make_composite(spec: RewardSpec, cfg: RewardConfig) -> Composite:
    """The composite of `cfg.terms`, which the training step optimises."""
    terms = parse_terms(cfg.terms)
    validate_terms(terms, names())
    return Composite(spec, terms, tuple(make(t.name, spec, cfg) for t in terms))
