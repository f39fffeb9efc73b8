"""The reward registry: one `register` call reaches every consumer (make, names, the CLI,
validation, config.json, sweeps), shared sections, and validation of the models in use."""

import dataclasses
from dataclasses import dataclass

import jax.numpy as jnp
import pytest

from jaxreward import cli
from jaxreward.rewards import registry
from jaxreward.rewards.base import RewardModel, RewardSpec, TransitionBatch
from jaxreward.rewards.global_episodic import GlobalEpisodicConfig
from jaxreward.sweeps import spec as sweep_spec
from jaxreward.training import presets
from jaxreward.training.config import TrainConfig

SPEC = RewardSpec(observation_size=3, action_size=1, discrete=False, num_envs=2, unroll_length=3)
#: A small PPO batch on pendulum: 8 envs x 8 steps = 64 transitions per iteration.
SMALL = dict(num_envs=8, ppo={"unroll_length": 8, "num_minibatches": 4})


@dataclass(frozen=True)
class ToyConfig:
    scale: float = 1.0
    label: str = "toy"

    def validate(self) -> None:
        if self.scale <= 0:
            raise ValueError(f"toy.scale must be positive, got {self.scale}")


class Toy(RewardModel):
    """The gold reward times `scale`: a model whose output shows which config built it."""

    name = "toy"

    def __init__(self, spec, cfg: ToyConfig):
        super().__init__(spec)
        self.scale = cfg.scale

    def reward(self, state, batch):
        return self.scale * batch.gold_reward, {}


@pytest.fixture
def toy():
    section = registry.Section("toy", ToyConfig, "a test model", vmappable=("scale",), field_help={"scale": "multiplies gold"})
    registry.register("toy", "gold times toy.scale (a test model)", lambda spec, cfg: Toy(spec, cfg.toy), section)
    yield section
    registry.unregister("toy")


def _batch(gold):
    T, B = gold.shape
    zeros = jnp.zeros((T, B))
    return TransitionBatch(obs=jnp.zeros((T, B, 3)), action=jnp.zeros((T, B, 1)), next_obs=jnp.zeros((T, B, 3)),
                           gold_reward=gold, done=zeros, truncation=zeros, metrics={})


def test_a_registered_model_is_built_listed_and_configured_everywhere(toy):
    assert "toy" in registry.names() and registry.describe()["toy"] == "gold times toy.scale (a test model)"
    assert list(registry.sections())[-1] == "toy" and "toy" in cli.reward_sections()

    gold = jnp.arange(6.0).reshape(3, 2)
    model = registry.make("toy", SPEC, registry.RewardConfig(terms="toy", toy=ToyConfig(scale=2.5)))
    r, _ = model.reward(model.init(None), _batch(gold))
    assert jnp.allclose(r, 2.5 * gold)

    parser = cli.build_parser()
    help_text = parser._subparsers._group_actions[0].choices["train"].format_help()
    assert "toy options (a test model)" in help_text and "--toy.scale" in help_text and "multiplies gold (vmappable)" in help_text
    args = parser.parse_args(["train", "--env", "pendulum", "--reward", "gold,toy:0.5", "--toy.scale", "2.5", "--toy.label", "x"])
    cfg = cli.config_from_args(args)
    assert cfg.reward.toy == ToyConfig(scale=2.5, label="x")
    assert cfg.to_dict()["reward"]["toy"] == {"scale": 2.5, "label": "x"}
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    # A config.json written before the model existed loads with the section's defaults.
    old = cfg.to_dict()
    del old["reward"]["toy"]
    assert TrainConfig.from_dict(old).reward.toy == ToyConfig()

    with pytest.raises(ValueError, match="toy.scale must be positive"):
        presets.config_for("pendulum", reward={"terms": "gold,toy", "toy": {"scale": -1.0}})
    with pytest.raises(ValueError, match=r"unknown config field reward.toy.sclae"):
        presets.config_for("pendulum", reward={"terms": "gold,toy", "toy": {"sclae": 2.0}})

    assert "reward.toy.scale" in sweep_spec.vmappable_fields()
    spec = sweep_spec.parse({"base": {"env": "pendulum", "reward": {"terms": "gold,toy"}}, "grid": {"reward.toy.scale": [1.0, 2.0]}})
    groups = sweep_spec.groups(spec)
    assert len(groups) == 1 and [run.config.reward.toy.scale for run in groups[0].runs] == [1.0, 2.0]


def test_unregister_removes_the_model_and_its_unshared_section(toy):
    registry.register("toy_twin", "shares the toy section", lambda spec, cfg: Toy(spec, cfg.toy), toy)
    registry.unregister("toy_twin")
    assert "toy" in registry.sections()  # still read by "toy"
    registry.unregister("toy")
    assert "toy" not in registry.names() and "toy" not in registry.sections()
    assert "toy" not in {f.name for f in dataclasses.fields(registry.RewardConfig)}
    with pytest.raises(TypeError, match="unknown section"):
        registry.RewardConfig(toy=ToyConfig())
    registry.register("toy", "re-registered for the fixture's cleanup", lambda spec, cfg: Toy(spec, cfg.toy), toy)


def test_a_section_name_is_owned_by_one_section_object(toy):
    other = registry.Section("toy", ToyConfig)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("toy_other", "a clash", lambda spec, cfg: Toy(spec, cfg.toy), other)
    assert "toy_other" not in registry.names()
    with pytest.raises(ValueError, match="not a free identifier"):
        registry.register("bad", "a clash", lambda spec, cfg: None, registry.Section("terms", ToyConfig))
    with pytest.raises(ValueError, match=r"vmappable field\(s\) \['rate'\]"):
        registry.register("bad", "a typo", lambda spec, cfg: None, registry.Section("bad", ToyConfig, vmappable=("rate",)))
    assert "bad" not in registry.names() and "bad" not in registry.sections()


def test_shared_sections_and_models_used():
    sections = registry.sections()
    assert list(sections) == ["regression", "preference", "rnd", "icm", "e3b", "count", "knn", "global_episodic",
                              "coverage", "demo", "vlm"]  # config.json's order
    demo_users = [r for r in ("perceptual", "goal_distance", "goal_potential", "progress_distance")
                  if registry.registration(r).section is sections["demo"]]
    assert len(demo_users) == 4
    cfg = registry.RewardConfig(terms="gold,global_x_episodic:0.1", global_episodic=GlobalEpisodicConfig(episodic="count"))
    assert cfg.models_used() == ("gold", "global_x_episodic", "rnd", "count")
    assert {f for f in sweep_spec.vmappable_fields() if f.startswith("reward.")} == {
        "reward.terms", "reward.vlm.alpha", "reward.regression.learning_rate", "reward.preference.learning_rate",
        "reward.rnd.learning_rate", "reward.icm.learning_rate", "reward.e3b.learning_rate", "reward.knn.learning_rate"}


def test_regression_minibatches_must_divide_the_batch_only_when_regression_is_used():
    unused = presets.config_for("pendulum", **SMALL, reward={"terms": "gold", "regression": {"num_minibatches": 3}})
    assert unused.reward.regression.num_minibatches == 3
    with pytest.raises(ValueError, match=r"reward.regression.num_minibatches \(3\) must divide num_envs \* unroll_length \(64\)"):
        presets.config_for("pendulum", **SMALL, reward={"terms": "gold,regression", "regression": {"num_minibatches": 3}})
    presets.config_for("pendulum", **SMALL, reward={"terms": "gold,regression", "regression": {"num_minibatches": 4}})


def test_unused_sections_still_report_bad_values():
    # Section checks need nothing but the section, so a mistyped option is caught even when
    # its model is not a term.
    with pytest.raises(ValueError, match="rnd.learning_rate must be positive"):
        presets.config_for("pendulum", **SMALL, reward={"terms": "gold", "rnd": {"learning_rate": -1.0}})
