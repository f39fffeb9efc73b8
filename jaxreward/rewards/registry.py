"""Reward registry: names -> models, and the reward config composed from terms."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from jaxreward.rewards.base import RewardModel, RewardSpec
from jaxreward.rewards.compose import Composite, parse_terms, validate_terms
from jaxreward.rewards.coverage import Coverage, CoverageConfig
from jaxreward.rewards.e3b import E3B, E3BConfig
from jaxreward.rewards.episodic_count import CountConfig, EpisodicCount
from jaxreward.rewards.global_episodic import GlobalEpisodic, GlobalEpisodicConfig
from jaxreward.rewards.gold import Gold, Success
from jaxreward.rewards.preference import PreferenceConfig, PreferenceReward
from jaxreward.rewards.icm import ICM, ICMConfig
from jaxreward.rewards.knn_episodic import KNNConfig, KNNEpisodic
from jaxreward.rewards.perceptual.models import DemoRewardConfig, build_demo_reward
from jaxreward.rewards.regression import Regression, RegressionConfig
from jaxreward.rewards.rnd import RND, RNDConfig
from jaxreward.rewards.vlm_reward import VLMConfig, VLMReward


@dataclass(frozen=True)
class RewardConfig:
    """Which reward the agent optimises, and each learned model's settings.

    `terms` uses the syntax of `rewards.compose` (e.g. "regression" or
    "gold:1.0,regression:0.5:norm=scale"). The gold reward is logged whatever is chosen.
    """

    terms: str = "gold"
    regression: RegressionConfig = field(default_factory=RegressionConfig)
    preference: PreferenceConfig = field(default_factory=PreferenceConfig)
    rnd: RNDConfig = field(default_factory=RNDConfig)
    icm: ICMConfig = field(default_factory=ICMConfig)
    e3b: E3BConfig = field(default_factory=E3BConfig)
    count: CountConfig = field(default_factory=CountConfig)
    knn: KNNConfig = field(default_factory=KNNConfig)
    global_episodic: GlobalEpisodicConfig = field(default_factory=GlobalEpisodicConfig)
    coverage: CoverageConfig = field(default_factory=CoverageConfig)
    demo: DemoRewardConfig = field(default_factory=DemoRewardConfig)
    vlm: VLMConfig = field(default_factory=VLMConfig)

    def validate(self) -> None:
        validate_terms(parse_terms(self.terms), names())
        self.regression.validate()
        self.preference.validate()
        self.demo.validate()
        for section in (self.rnd, self.icm, self.e3b, self.count, self.knn, self.global_episodic, self.coverage, self.vlm):
            section.validate()


_BUILDERS = {
    "gold": lambda spec, cfg: Gold(spec),
    "success": lambda spec, cfg: Success(spec),
    "regression": lambda spec, cfg: Regression(spec, cfg.regression),
    "preference": lambda spec, cfg: PreferenceReward(spec, cfg.preference),
    "rnd": lambda spec, cfg: RND(spec, cfg.rnd),
    "icm": lambda spec, cfg: ICM(spec, cfg.icm),
    "e3b": lambda spec, cfg: E3B(spec, cfg.e3b),
    "count": lambda spec, cfg: EpisodicCount(spec, cfg.count),
    "knn": lambda spec, cfg: KNNEpisodic(spec, cfg.knn),
    "global_x_episodic": lambda spec, cfg: _global_episodic(spec, cfg, "product"),
    "global_plus_episodic": lambda spec, cfg: _global_episodic(spec, cfg, "sum"),
    "coverage": lambda spec, cfg: Coverage(spec, cfg.coverage),
    "perceptual": lambda spec, cfg: build_demo_reward(spec, "perceptual", cfg.demo),
    "goal_distance": lambda spec, cfg: build_demo_reward(spec, "goal_distance", cfg.demo),
    "goal_potential": lambda spec, cfg: build_demo_reward(spec, "goal_potential", cfg.demo),
    "progress_distance": lambda spec, cfg: build_demo_reward(spec, "progress_distance", cfg.demo),
    "vlm": lambda spec, cfg: VLMReward(spec, cfg.vlm),
}

_DESCRIPTIONS = {
    "gold": "the environment's own task reward",
    "success": "sparse: 1 on a transition into a solved state (the env's success metric), else 0",
    "regression": "MLP r(s, a) fitted to gold reward samples inside the training step",
    "preference": "Bradley-Terry ensemble fitted to segment comparisons from a synthetic teacher or a labels file",
    "rnd": "intrinsic: random network distillation error on s', normalised (Burda et al. 2019)",
    "icm": "intrinsic: forward-model error in an inverse-dynamics embedding (Pathak et al. 2017)",
    "e3b": "intrinsic, episodic: elliptical bonus over the episode's embeddings (Henaff et al. 2022)",
    "count": "intrinsic, episodic: 1/sqrt(visits this episode) of the hashed grid cell of s'",
    "knn": "intrinsic, episodic: NGU k-nearest-neighbour novelty in the episode (Badia et al. 2020)",
    "global_x_episodic": "intrinsic: rnd x an episodic bonus (global_episodic.episodic; Henaff et al. 2023)",
    "global_plus_episodic": "intrinsic: rnd + an episodic bonus (global_episodic.episodic)",
    "coverage": "diagnostic, reward 0: logs the number of distinct metrics['cell'] visited",
    "perceptual": "frames: step classifiers fitted to demo.demos (Sermanet et al. 2017), TCN or CLIP features",
    "goal_distance": "frames: -distance of the frame embedding to the demos' success frames (VIP-style; its potential form: goal_distance:1:transform=delta)",
    "goal_potential": "frames: goal_distance's potential-based difference form (goal_distance:1:transform=delta, under its own name so both can be terms)",
    "progress_distance": "frames: -distance to the demos' mean embedding at the same episode step",
    "vlm": "CLIP similarity of the rendered frame to prompts, goal-baseline regularised (Rocamonde et al. 2024); needs reward.vlm.checkpoint",
}


def _global_episodic(spec: RewardSpec, cfg: "RewardConfig", mode: str) -> GlobalEpisodic:
    return GlobalEpisodic(spec, make("rnd", spec, cfg), make(cfg.global_episodic.episodic, spec, cfg), mode)


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
