"""The single-pass reward contract: `update(state, batch, scored, rng)` continues from what
`reward(state, batch)` computed instead of scoring the batch again.

Each model's update is checked against a reference written here the two-pass way (the
batch re-scored inside the update, training as plain Python loops of gradient steps), and
a trace of the training step counts how often the scoring functions run.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxreward import rewards, shuffle
from jaxreward.rewards.base import RewardSpec, TransitionBatch
from jaxreward.rewards.compose import Composite
from jaxreward.rewards.e3b import E3B, E3BConfig, E3BState
from jaxreward.rewards.episodic_count import CountState, EpisodicCount
from jaxreward.rewards.icm import ICMConfig
from jaxreward.rewards.inverse_dynamics import EmbeddingState, InverseDynamicsEmbedding
from jaxreward.rewards.knn_episodic import KNNConfig, KNNEpisodic
from jaxreward.rewards.regression import Regression, RegressionConfig, RegressionState
from jaxreward.rewards.rnd import RND, RNDConfig
from jaxreward.rewards.transforms import TransformConfig, Transformed, TransformedState

T, B, OBS, ACT = 6, 3, 4, 2
SPEC = RewardSpec(observation_size=OBS, action_size=ACT, discrete=False, num_envs=B, unroll_length=T)
CONFIG = rewards.RewardConfig(
    rnd=RNDConfig(update_epochs=2, num_minibatches=2, warmup_steps=0),
    regression=RegressionConfig(update_epochs=2, num_minibatches=3),
    icm=ICMConfig(num_minibatches=3),
    knn=KNNConfig(capacity=8, num_neighbors=3, num_minibatches=3),
)


def make_batch(key, done_at=((2, 0), (4, 1))):
    k_obs, k_next, k_act, k_gold = jax.random.split(key, 4)
    done = jnp.zeros((T, B))
    for t, b in done_at:
        done = done.at[t, b].set(1.0)
    return TransitionBatch(
        obs=jax.random.normal(k_obs, (T, B, OBS)),
        action=jax.random.uniform(k_act, (T, B, ACT), minval=-1, maxval=1),
        next_obs=jax.random.normal(k_next, (T, B, OBS)) + 0.5,
        gold_reward=jax.random.normal(k_gold, (T, B)),
        done=done,
        truncation=jnp.zeros((T, B)),
        metrics={},
    )


# ---- the two-pass references --------------------------------------------------------------


def adam_step(optimizer, loss_fn, params, opt_state, *args):
    grads = jax.grad(loss_fn)(params, *args)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def reference_train(embedding: InverseDynamicsEmbedding, state: EmbeddingState, batch, rng) -> EmbeddingState:
    """One shuffled epoch of inverse-dynamics steps, one minibatch at a time."""
    normalizer = state.normalizer.update(batch.next_obs)
    flat = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), (batch.obs, batch.action, batch.next_obs))
    n, k = T * B, embedding.settings.num_minibatches
    perm = shuffle.permutation(rng, n)[: (n // k) * k].reshape(k, n // k)
    params, opt_state = state.params, state.opt_state
    loss = lambda p, *xs: embedding._loss(p, normalizer, *xs)[0]
    for idx in perm:
        params, opt_state = adam_step(embedding.optimizer, loss, params, opt_state, *(x[idx] for x in flat))
    return EmbeddingState(params, opt_state, normalizer)


def reference_update(model, state, batch, rng):
    """The update as it was before the contract passed `scored`: whatever it needs from
    scoring, it computes again from (state, batch)."""
    if isinstance(model, RND):
        cfg = model.cfg
        error = model.error(state, state.predictor, batch.next_obs)
        _, last, return_stats = model._normalised(state, error)
        state = state.replace(obs_stats=state.obs_stats.update(batch.next_obs), return_filter=last, return_stats=return_stats)
        x, target = model._inputs_and_targets(state, batch.next_obs.reshape(-1, OBS))
        n = x.shape[0]
        mb = max(1, round(n * cfg.update_proportion) // cfg.num_minibatches)
        subsets = jax.random.randint(rng, (cfg.update_epochs, cfg.num_minibatches, mb), 0, n)
        params, opt_state = state.predictor, state.opt_state
        loss = lambda p, xb, tb: jnp.mean(model._error(p, xb, tb))
        for idx in subsets.reshape(-1, mb):
            params, opt_state = adam_step(model.optimizer, loss, params, opt_state, x[idx], target[idx])
        return state.replace(predictor=params, opt_state=opt_state)
    if isinstance(model, Regression):
        cfg = model.cfg
        x = model._inputs(batch)
        normalizer = state.normalizer.update(x)
        x, y = x.reshape(-1, x.shape[-1]), batch.gold_reward.reshape(-1)
        n, k = y.shape[0], cfg.num_minibatches
        params, opt_state = state.params, state.opt_state
        loss = lambda p, xb, yb: jnp.mean((model._predict(p, normalizer, xb) - yb) ** 2)
        for key in jax.random.split(rng, cfg.update_epochs):
            for idx in shuffle.permutation(key, n)[: (n // k) * k].reshape(k, n // k):
                params, opt_state = adam_step(model.optimizer, loss, params, opt_state, x[idx], y[idx])
        return RegressionState(params, opt_state, normalizer)
    if isinstance(model, E3B):
        _, cov_inv = model._scan(state, batch)
        return E3BState(reference_train(model.embedding, state.embedding, batch, rng), cov_inv)
    if isinstance(model, KNNEpisodic):
        _, after = model._scan(state, batch)
        return after.replace(embedding=reference_train(model.embedding, state.embedding, batch, rng))
    if isinstance(model, EpisodicCount):
        _, memory = model._scan(state, batch)
        return CountState(state.normalizer.update(batch.next_obs), memory)
    if model.name == "gold":
        return state
    if model.name == "icm":
        return reference_train(model.embedding, state, batch, rng)
    if isinstance(model, Transformed):
        raw, _ = model.model.reward(state.inner, batch)
        inner = reference_update(model.model, state.inner, batch, rng)
        stats = state.stats.update(raw.reshape(-1, 1))
        if model.cfg.center == "initial":
            stats = jax.tree.map(lambda new, old: jnp.where(state.updates < model.cfg.reference_updates, new, old), stats, state.stats)
        return TransformedState(inner, stats, state.updates + 1, raw[-1], batch.done[-1].astype(bool))
    if isinstance(model, Composite):
        keys = jax.random.split(rng, len(model.models))
        terms, stats = [], []
        for i, (term, m) in enumerate(zip(model.terms, model.models)):
            stat = state.stats[i]
            if term.norm != "none":
                stat = stat.update(m.reward(state.terms[i], batch)[0].reshape(-1, 1))
            terms.append(reference_update(m, state.terms[i], batch, keys[i]))
            stats.append(stat)
        return state.replace(terms=tuple(terms), stats=tuple(stats))
    raise NotImplementedError(model.name)


MODELS = {
    "rnd": lambda: rewards.make("rnd", SPEC, CONFIG),
    "e3b": lambda: rewards.make("e3b", SPEC, CONFIG),
    "count": lambda: rewards.make("count", SPEC, CONFIG),
    "knn": lambda: rewards.make("knn", SPEC, CONFIG),
    "icm": lambda: rewards.make("icm", SPEC, CONFIG),
    "regression": lambda: rewards.make("regression", SPEC, CONFIG),
    "normalised_composite": lambda: rewards.make_composite(
        SPEC, dataclasses.replace(CONFIG, terms="gold,rnd:0.5:norm=standard,count:0.2:norm=scale:clip=3")),
    "transformed": lambda: Transformed(rewards.make("e3b", SPEC, CONFIG), TransformConfig(kind="delta")),
}


def started(model, steps=2):
    """A state some updates into training (filled memories, moved statistics)."""
    state = model.init(jax.random.PRNGKey(0))
    state = model.observe(state, make_batch(jax.random.PRNGKey(50)))
    for i in range(steps):
        b = make_batch(jax.random.PRNGKey(60 + i))
        state, _ = model.update(state, b, model.score(state, b), jax.random.PRNGKey(70 + i))
    return state


@pytest.mark.parametrize("name", sorted(MODELS))
def test_update_from_scored_equals_the_two_pass_update(name):
    model = MODELS[name]()
    state = started(model)
    batch, rng = make_batch(jax.random.PRNGKey(1)), jax.random.PRNGKey(2)
    new, _ = jax.jit(lambda s, b, k: model.update(s, b, model.score(s, b), k))(state, batch, rng)
    ref = reference_update(model, state, batch, rng)
    new_leaves, ref_leaves = jax.tree.leaves(new), jax.tree.leaves(ref)
    assert jax.tree.structure(new) == jax.tree.structure(ref)
    for a, b in zip(new_leaves, ref_leaves):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=2e-5, atol=1e-6)
    # The update changed the state (the comparison is not between two copies of the input).
    assert any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(state), new_leaves))


def test_update_continues_from_the_scored_memory_it_is_given():
    """The episodic memory after the batch comes from `scored`, not from a second scan:
    handed the scoring of another batch, the count update keeps that batch's tables."""
    model = MODELS["count"]()
    state = started(model)
    batch, other = make_batch(jax.random.PRNGKey(1)), make_batch(jax.random.PRNGKey(3), done_at=())
    new, _ = model.update(state, batch, model.score(state, other), jax.random.PRNGKey(2))
    _, other_memory = model._scan(state, other)
    _, own_memory = model._scan(state, batch)
    np.testing.assert_array_equal(new.memory.counts, other_memory.counts)
    assert not np.array_equal(new.memory.counts, own_memory.counts)


def test_composite_hands_each_term_its_own_info():
    model = MODELS["normalised_composite"]()
    state = started(model, steps=1)
    batch = make_batch(jax.random.PRNGKey(1))
    r, info = model.reward(state, batch)
    rnd_r, rnd_info = model.models[1].reward(state.terms[1], batch)
    np.testing.assert_array_equal(info["term/rnd"], rnd_r)
    np.testing.assert_array_equal(info["term_info"]["rnd"]["return_filter"], rnd_info["return_filter"])
    assert set(info["term_info"]) == {"gold", "rnd", "count"}


# ---- one scoring per training iteration ---------------------------------------------------


def test_the_training_step_scores_each_batch_once(monkeypatch):
    """Traces one iteration and counts the calls that score the rollout [T, B, D] (the
    gradient steps see minibatches [M, D], which are not counted)."""
    from jaxreward.rewards import e3b, episodic_count, knn_episodic, rnd
    from jaxreward.training import presets
    from jaxreward.training.trainer import Trainer

    calls = {"rnd": 0, "e3b": 0, "count": 0, "knn": 0}

    def counting(cls, method, name, rank=None):
        original = getattr(cls, method)

        def wrapper(self, *args):
            arrays = [a for a in args if isinstance(a, jax.Array)]
            if rank is None or (arrays and arrays[-1].ndim == rank):
                calls[name] += 1
            return original(self, *args)

        monkeypatch.setattr(cls, method, wrapper)

    counting(rnd.RND, "_error", "rnd", rank=3)  # the predictor on the rollout's next observations
    counting(e3b.E3B, "_scan", "e3b")
    counting(episodic_count.EpisodicCount, "_scan", "count")
    counting(knn_episodic.KNNEpisodic, "_scan", "knn")
    tiny = dict(num_envs=4, ppo=dict(unroll_length=8, num_minibatches=2, update_epochs=1, policy_hidden=(8,), value_hidden=(8,)))
    cfg = presets.config_for("deep_sea", **tiny, reward={"terms": "gold,rnd,e3b:0.1,count:0.1,knn:0.1", "rnd": {"warmup_steps": 0}})
    trainer = Trainer(cfg)
    ts = jax.eval_shape(jax.vmap(trainer.init, axis_name="runs"), jax.random.PRNGKey(0)[None])
    for k in calls:
        calls[k] = 0
    jax.eval_shape(jax.vmap(trainer.iteration, axis_name="runs"), ts)
    assert calls == {"rnd": 1, "e3b": 1, "count": 1, "knn": 1}


# ---- learning rates as leaves of the reward state -----------------------------------------


@pytest.mark.parametrize("name", ["rnd", "regression", "e3b"])
def test_vmapped_update_over_learning_rates_equals_separate_updates(name):
    configs = {
        "rnd": lambda lr: rewards.RewardConfig(rnd=RNDConfig(learning_rate=lr, update_epochs=2, num_minibatches=2)),
        "regression": lambda lr: rewards.RewardConfig(regression=RegressionConfig(learning_rate=lr)),
        "e3b": lambda lr: rewards.RewardConfig(e3b=E3BConfig(learning_rate=lr, num_minibatches=3)),
    }
    lrs = (1e-3, 3e-2)
    models = [rewards.make(name, SPEC, configs[name](lr)) for lr in lrs]
    states = [m.init(jax.random.PRNGKey(0)) for m in models]
    batch, rng = make_batch(jax.random.PRNGKey(1)), jax.random.PRNGKey(2)

    def update(model, state):
        return model.update(state, batch, model.score(state, batch), rng)[0]

    separate = [jax.jit(lambda s, m=m: update(m, s))(s) for m, s in zip(models, states)]
    # One program (the first model's) for both rates: the rate is read from the state.
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *states)
    vmapped = jax.jit(jax.vmap(lambda s: update(models[0], s)))(stacked)
    leaves = jax.tree.leaves(vmapped)
    found = [x for p, x in jax.tree_util.tree_leaves_with_path(stacked) if "learning_rate" in jax.tree_util.keystr(p)]
    assert len(found) == 1
    np.testing.assert_allclose(found[0], lrs, rtol=1e-6)
    for i in range(2):
        for a, b in zip(leaves, jax.tree.leaves(separate[i])):
            np.testing.assert_allclose(np.asarray(a[i]), np.asarray(b), rtol=1e-5, atol=1e-7)
    # The two rates led to different parameters.
    assert any(not np.allclose(a, b) for a, b in zip(jax.tree.leaves(separate[0]), jax.tree.leaves(separate[1])))
