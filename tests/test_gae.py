"""GAE against a plain-Python reference, with truncations and terminations mixed."""

import numpy as np
import pytest

from jaxreward.agents.gae import gae


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
