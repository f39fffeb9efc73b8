"""The reward contract: gold, composition with weights and transforms, term parsing,
and the registry's errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxreward import rewards
from jaxreward.rewards.base import RewardModel, RewardSpec, TransitionBatch
from jaxreward.rewards.compose import Composite, TermConfig, parse_terms

SPEC = RewardSpec(observation_size=3, action_size=1, discrete=False, num_envs=4, unroll_length=5)


def batch(gold, seed=0):
    T, B = gold.shape
    k = jax.random.PRNGKey(seed)
    obs = jax.random.normal(k, (T, B, 3))
    return TransitionBatch(obs=obs, action=jnp.zeros((T, B, 1)), next_obs=obs, gold_reward=gold,
                           done=jnp.zeros((T, B)), truncation=jnp.zeros((T, B)), metrics={})


class Constant(RewardModel):
    """Scores every transition with `value` (a test double with a known answer)."""

    name = "constant"

    def __init__(self, spec, value):
        super().__init__(spec)
        self.value = value

    def reward(self, state, b):
        return jnp.full_like(b.gold_reward, self.value), {}


def test_gold_returns_the_env_reward():
    gold = jnp.arange(20.0).reshape(5, 4)
    model = rewards.make("gold", SPEC)
    r, _ = model.reward(model.init(jax.random.PRNGKey(0)), batch(gold))
    np.testing.assert_array_equal(r, gold)


def test_weighted_sum_and_term_info():
    gold = jnp.ones((5, 4)) * 2.0
    comp = Composite(SPEC, (TermConfig("gold", 0.5), TermConfig("constant", -3.0)), (rewards.make("gold", SPEC), Constant(SPEC, 1.5)))
    state = comp.init(jax.random.PRNGKey(0))
    r, info = comp.reward(state, batch(gold))
    np.testing.assert_allclose(r, 0.5 * 2.0 - 3.0 * 1.5)
    np.testing.assert_allclose(info["term/gold"], 2.0)
    np.testing.assert_allclose(info["term/constant"], 1.5)
    # Weights are state, so a variant is a new array, not a new program.
    r2, _ = comp.reward(state.replace(weights=jnp.array([1.0, 0.0])), batch(gold))
    np.testing.assert_allclose(r2, 2.0)


def test_running_normalisation_and_clipping():
    rng = np.random.default_rng(0)
    golds = [jnp.asarray(rng.normal(3.0, 4.0, size=(50, 8)), jnp.float32) for _ in range(20)]
    # scale: divided by the RMS, sqrt(4^2 + 3^2) = 5; standard: centred and divided by the std.
    for norm, expected_mean, divisor in (("scale", 3.0 / 5.0, 5.0), ("standard", 0.0, 4.0)):
        comp = Composite(SPEC, (TermConfig("gold", norm=norm),), (rewards.make("gold", SPEC),))
        state = comp.init(jax.random.PRNGKey(0))
        for g in golds:
            state, _ = comp.update(state, batch(g), comp.score(state, batch(g)), jax.random.PRNGKey(1))
        r, _ = comp.reward(state, batch(golds[0]))
        all_gold = np.concatenate([np.asarray(g).ravel() for g in golds])
        assert abs(float(state.stats[0].mean[0]) - all_gold.mean()) < 1e-3
        assert abs(float(np.sqrt(state.stats[0].var[0])) - all_gold.std()) < 1e-2
        scale = np.sqrt(all_gold.var() + all_gold.mean() ** 2) if norm == "scale" else all_gold.std()
        assert abs(scale - divisor) < 0.2
        assert abs(float(np.std(r)) - np.std(np.asarray(golds[0])) / scale) < 1e-3
        assert abs(float(np.mean(r)) - expected_mean) < 0.3
    comp = Composite(SPEC, (TermConfig("gold", clip=1.0),), (rewards.make("gold", SPEC),))
    r, _ = comp.reward(comp.init(jax.random.PRNGKey(0)), batch(golds[0]))
    assert float(r.max()) == 1.0 and float(r.min()) == -1.0
    # A constant term (an episodic count where every state is new) stays at scale 1 under
    # norm=scale; divided by its std (~0) it was multiplied by up to 1e4.
    comp = Composite(SPEC, (TermConfig("gold", norm="scale"),), (rewards.make("gold", SPEC),))
    state = comp.init(jax.random.PRNGKey(0))
    constant = jnp.full((50, 8), 0.7, jnp.float32)
    for _ in range(5):
        state, _ = comp.update(state, batch(constant), comp.score(state, batch(constant)), jax.random.PRNGKey(1))
    r, _ = comp.reward(state, batch(constant))
    np.testing.assert_allclose(r, 1.0, rtol=1e-4)


def test_parse_terms():
    terms = parse_terms("gold:1.0, regression:0.5:norm=scale:clip=5")
    assert terms == (TermConfig("gold", 1.0), TermConfig("regression", 0.5, "scale", 5.0))
    assert parse_terms("e3b:0.1:stream=ext") == (TermConfig("e3b", 0.1, stream="ext"),)
    with pytest.raises(ValueError, match="cannot parse 'x'"):
        parse_terms("gold:x")


def test_unknown_and_duplicate_rewards_are_named():
    with pytest.raises(ValueError, match=r"Valid rewards: .*\bgold\b.*\bregression\b"):
        rewards.make_composite(SPEC, rewards.RewardConfig(terms="gld"))
    with pytest.raises(ValueError, match="appears twice"):
        rewards.make_composite(SPEC, rewards.RewardConfig(terms="gold,gold"))


def test_regression_fits_a_known_function():
    model = rewards.make("regression", SPEC)
    state = model.init(jax.random.PRNGKey(0))
    update = jax.jit(lambda s, b, k: model.update(s, b, model.score(s, b), k))

    def target(obs, action):
        return jnp.sin(obs[..., 0]) - 0.5 * obs[..., 1] ** 2 + action[..., 0]

    for i in range(300):
        k1, k2 = jax.random.split(jax.random.PRNGKey(i))
        obs = jax.random.normal(k1, (5, 4, 3))
        act = jax.random.uniform(k2, (5, 4, 1), minval=-1, maxval=1)
        b = batch(target(obs, act)).replace(obs=obs, action=act, next_obs=obs)
        state, metrics = update(state, b, jax.random.PRNGKey(10_000 + i))
    obs = jax.random.normal(jax.random.PRNGKey(99), (50, 4, 3))
    act = jax.random.uniform(jax.random.PRNGKey(98), (50, 4, 1), minval=-1, maxval=1)
    truth = target(obs, act)
    pred, _ = model.reward(state, batch(truth).replace(obs=obs, action=act, next_obs=obs))
    mse = float(jnp.mean((pred - truth) ** 2))
    assert mse < 0.05 * float(jnp.var(truth)), (mse, float(jnp.var(truth)))
