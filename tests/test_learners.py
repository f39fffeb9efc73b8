"""The learner contract: a toy learner trains through the unchanged trainer, the registry
refuses unknown names, and the trainer refuses reward/learner combinations it cannot run."""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxreward.agents import registry as learners
from jaxreward.training import presets
from jaxreward.training.trainer import Trainer


@dataclass(frozen=True)
class ToyConfig:
    unroll_length: int = 1
    learning_rate: float = 0.5
    noise: float = 0.3

    def validate(self) -> None:
        if self.learning_rate <= 0:
            raise ValueError(f"toy.learning_rate must be positive, got {self.learning_rate}")


class ToyLearner:
    """Evolution strategy on a state-independent mean action μ: acts μ + σε, moves μ along
    mean(r · ε) with the rewards centred. On `probe/action_reward` (reward = action) μ rises."""

    name = "toy"
    intrinsic_stream = False
    rescores_transitions = False

    def __init__(self, cfg, env, reward):
        self.cfg, self.unroll_length, self.action_size = cfg, cfg.unroll_length, env.action_size

    def init(self, rng, example):
        return {"mean": jnp.zeros((self.action_size,)), "learn_calls": jnp.zeros((), jnp.int32)}

    def act(self, state, obs, rng, deterministic=False):
        noise = jnp.zeros((obs.shape[0], self.action_size)) if deterministic else jax.random.normal(rng, (obs.shape[0], self.action_size))
        return jnp.clip(state["mean"] + self.cfg.noise * noise, -1.0, 1.0), {"noise": noise}

    def learn(self, state, experience, ctx, rng):
        r = experience.reward - experience.reward.mean()
        step = jnp.mean(r[..., None] * experience.extras["noise"], axis=(0, 1))
        mean = jnp.clip(state["mean"] + self.cfg.learning_rate * step, -1.0, 1.0)
        return {"mean": mean, "learn_calls": state["learn_calls"] + 1}, {"toy/mean": mean[0]}


@pytest.fixture
def toy_learner():
    learners.register(learners.Registration("toy", ToyConfig(), ToyLearner, "a test-only evolution strategy"))
    yield
    learners.unregister("toy")


def test_a_registered_toy_learner_trains_through_the_trainer(toy_learner):
    cfg = presets.config_for("probe/action_reward", learner="toy", num_envs=16, total_steps=16 * 60, num_log_points=1)
    trainer = Trainer(cfg)
    state, metrics = trainer.chunk_fn(cfg.num_iterations)(trainer.init_seeds(trainer.seed_keys()))
    assert int(state.learner["learn_calls"][0]) == cfg.num_iterations == 60
    assert float(state.learner["mean"][0, 0]) > 0.8  # from 0: it followed reward = action
    assert np.asarray(metrics["toy/mean"]).shape == (1, 60)


def test_unknown_learner_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown learner 'ppx'.*Did you mean ppo.*Valid learners: ppo, sac"):
        presets.config_for("pendulum", learner="ppx")


def test_sac_auto_relabels_batches_when_a_term_is_normalised():
    plain = Trainer(presets.config_for("pendulum", learner="sac"))
    normalised = Trainer(presets.config_for("pendulum", learner="sac", reward={"terms": "gold:1:norm=standard"}))
    assert (plain.learner.relabel, normalised.learner.relabel) == ("none", "batch")


def test_sac_refuses_a_per_env_reward_when_it_relabels():
    # delta carries each env's previous reward: a stored transition cannot be scored alone.
    with pytest.raises(ValueError, match="reward term 'gold' depends on each env's previous steps.*learner 'sac'.*relabel=none"):
        Trainer(presets.config_for("pendulum", learner="sac", reward={"terms": "gold:1:transform=delta"}, sac={"relabel": "batch"}))
    Trainer(presets.config_for("pendulum", learner="sac", reward={"terms": "gold:1:transform=delta"}))  # relabel auto -> none


def test_relabelling_learners_refuse_pixel_terms():
    from types import SimpleNamespace

    from jaxreward.rewards.base import FrameSpec
    from jaxreward.training.trainer import check_compatible

    pixel = SimpleNamespace(intrinsic=False, frames=FrameSpec(), sequential=False)
    reward = SimpleNamespace(terms=(SimpleNamespace(name="vlm"),), models=(pixel,), in_intrinsic_stream=(False,))
    relabelling = SimpleNamespace(name="sac", intrinsic_stream=False, rescores_transitions=True)
    with pytest.raises(ValueError, match="reward term 'vlm' scores rendered frames.*learner 'sac'"):
        check_compatible(relabelling, reward)
    check_compatible(SimpleNamespace(name="sac", intrinsic_stream=False, rescores_transitions=False), reward)
