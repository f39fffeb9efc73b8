"""Probe environments with known answers: PPO's value function and policy must match them.

Each probe isolates one piece (value regression, observation dependence, discounting,
policy improvement, conditional policy); see envs/probes.py. Tolerances are stated per
assertion; a learner with a bug in the matching piece fails them.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxreward.training import presets
from jaxreward.training.trainer import Trainer

GAMMA = 0.9


def _train(env: str, steps: int = 12_288):
    cfg = presets.config_for(
        env,
        num_envs=16,
        total_steps=steps,
        num_log_points=1,
        ppo=dict(unroll_length=16, num_minibatches=4, update_epochs=4, learning_rate=3e-3, gamma=GAMMA,
                 gae_lambda=0.95, entropy_coef=0.0, policy_hidden=(32,), value_hidden=(32,)),
    )
    trainer = Trainer(cfg)
    state = trainer.init_seeds(trainer.seed_keys())
    state, _ = trainer.chunk_fn(cfg.num_iterations)(state)
    single = jax.tree.map(lambda x: x[0], state)

    def value(obs):
        o = jnp.asarray(obs, jnp.float32).reshape(-1, 1)
        return np.asarray(trainer.learner.agent.value(single.learner.params, single.normalizer(o)))

    def probs(obs):
        o = jnp.asarray(obs, jnp.float32).reshape(-1, 1)
        dist = trainer.learner.agent.distribution(single.learner.params, single.normalizer(o))
        return np.asarray(jax.nn.softmax(dist.logits))

    return value, probs


def test_constant_reward_value():
    value, _ = _train("probe/constant")
    assert abs(value([0.0])[0] - 1.0) < 0.05


def test_obs_dependent_value():
    value, _ = _train("probe/obs_reward")
    v = value([1.0, -1.0])
    np.testing.assert_allclose(v, [1.0, -1.0], atol=0.1)


def test_delayed_reward_is_discounted():
    value, _ = _train("probe/delayed")
    v = value([0.0, 1.0])
    np.testing.assert_allclose(v, [GAMMA, 1.0], atol=0.08)


def test_policy_prefers_better_action():
    value, probs = _train("probe/two_actions")
    assert probs([0.0])[0, 1] > 0.95
    assert abs(value([0.0])[0] - 1.0) < 0.15


def test_policy_conditions_on_observation():
    value, probs = _train("probe/contextual", steps=24_576)
    p = probs([1.0, -1.0])
    assert p[0, 1] > 0.9, p
    assert p[1, 0] > 0.9, p
    np.testing.assert_allclose(value([1.0, -1.0]), [1.0, 1.0], atol=0.2)
