"""GAE against a plain-Python reference, with truncations and terminations mixed; the
running discounted return that PPO's reward normalisation divides by."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxreward.agents.base import EnvSignature, Experience, LearnContext, RewardSignature
from jaxreward.agents.gae import gae
from jaxreward.agents.ppo import PPOConfig
from jaxreward.agents.ppo_learner import PPOLearner
from jaxreward.nets.normalizer import discounted_returns
from jaxreward.rewards.base import TransitionBatch


def reference_gae(rewards, values, next_values, terminations, truncations, gamma, lam):
    """Loop-by-loop GAE written from the definition, per environment column."""
    T, B = rewards.shape
    adv = np.zeros((T, B))
    for b in range(B):
        running = 0.0
        for t in reversed(range(T)):
            episode_ends = terminations[t, b] or truncations[t, b]
            bootstrap = 0.0 if terminations[t, b] else gamma * next_values[t, b]
            delta = rewards[t, b] + bootstrap - values[t, b]
            if episode_ends:
                running = delta  # the trace never crosses into the next episode
            else:
                running = delta + gamma * lam * running
            adv[t, b] = running
    return adv, adv + values


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gae_matches_reference(seed):
    rng = np.random.default_rng(seed)
    T, B = 37, 5
    rewards = rng.normal(size=(T, B))
    values = rng.normal(size=(T, B))
    next_values = rng.normal(size=(T, B))
    ends = rng.random((T, B)) < 0.15
    truncated = ends & (rng.random((T, B)) < 0.5)
    terminated = ends & ~truncated
    gamma, lam = 0.97, 0.9
    adv, ret = gae(rewards, values, next_values, terminated.astype(np.float32), ends.astype(np.float32), gamma, lam)
    ref_adv, ref_ret = reference_gae(rewards, values, next_values, terminated, truncated, gamma, lam)
    assert terminated.any() and truncated.any()
    np.testing.assert_allclose(np.asarray(adv), ref_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ret), ref_ret, rtol=1e-5, atol=1e-5)


def test_truncation_bootstraps_and_termination_does_not():
    # One step each: reward 1, V(s) = 0, V(s') = 10.
    r, v, nv = np.ones((1, 2)), np.zeros((1, 2)), np.full((1, 2), 10.0)
    term = np.array([[1.0, 0.0]])  # env 0 terminated, env 1 truncated
    done = np.ones((1, 2))
    adv, _ = gae(r, v, nv, term, done, 0.5, 0.95)
    np.testing.assert_allclose(np.asarray(adv), [[1.0, 1.0 + 0.5 * 10.0]])


def test_discounted_returns_match_a_loop_and_restart_after_done():
    rng = np.random.default_rng(0)
    T, B, gamma = 7, 3, 0.9
    rewards = rng.normal(size=(T, B)).astype(np.float32)
    dones = np.zeros((T, B), np.float32)
    dones[2, 0] = dones[6, 1] = 1.0
    trace0 = rng.normal(size=B).astype(np.float32)
    returns, last = discounted_returns(jnp.asarray(trace0), jnp.asarray(rewards), gamma, jnp.asarray(dones))
    acc, expected = trace0.copy(), []
    for t in range(T):
        acc = gamma * acc + rewards[t]
        expected.append(acc.copy())
        acc = acc * (1.0 - dones[t])
    np.testing.assert_allclose(returns, np.stack(expected), rtol=1e-5)
    np.testing.assert_allclose(last, acc, rtol=1e-5)
    assert float(last[1]) == 0.0  # env 1's episode ended on the last step: its next return starts from zero


def test_ppo_reward_normalisation_divides_by_the_running_std_of_discounted_returns():
    T, B, D, gamma = 8, 4, 3, 0.9
    learner = PPOLearner(PPOConfig(unroll_length=T, gamma=gamma, normalize_rewards=True, num_minibatches=2, update_epochs=1),
                         EnvSignature(D, 1, False, B), RewardSignature())
    state = learner.init(jax.random.PRNGKey(0))
    ctx = LearnContext(normalize=lambda x: x, score=None, reward_changed=jnp.asarray(False))
    rng = np.random.default_rng(1)
    acc, seen = np.zeros(B, np.float32), []
    learn = jax.jit(lambda s, e, k: learner.learn(s, e, ctx, k))
    for i in range(3):
        reward = rng.normal(5.0, 3.0, (T, B)).astype(np.float32)  # far from unit scale
        done = (rng.random((T, B)) < 0.15).astype(np.float32)
        obs = jnp.asarray(rng.normal(size=(T, B, D)), jnp.float32)
        transitions = TransitionBatch(obs, jnp.zeros((T, B, 1)), obs, jnp.asarray(reward), jnp.asarray(done),
                                      jnp.zeros((T, B)), {})
        extras = {"raw_action": jnp.zeros((T, B, 1)), "log_prob": jnp.zeros((T, B)), "value": jnp.zeros((T, B))}
        state, metrics = learn(state, Experience(transitions, extras, jnp.asarray(reward), None, obs[-1]), jax.random.PRNGKey(i))
        for t in range(T):
            acc = gamma * acc + reward[t]
            seen.append(acc.copy())
            acc = acc * (1.0 - done[t])
        # This batch's rewards are divided by the std of every discounted return so far, its own included.
        np.testing.assert_allclose(metrics["ppo/reward_scale"], np.std(np.concatenate(seen)), rtol=1e-4)
    np.testing.assert_allclose(state.reward_trace, acc, rtol=1e-5)
    assert learner.init(jax.random.PRNGKey(0)).reward_trace.shape == (B,)
    assert PPOLearner(PPOConfig(), EnvSignature(D, 1, False, B), RewardSignature()).init(jax.random.PRNGKey(0)).reward_trace is None
