"""The minibatch-SGD helper: it minimises a known loss, visits every sample once per epoch
with the shuffled sampler, and steps through given indices in order."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxreward import sgd


def test_minimises_a_quadratic_to_the_sample_mean():
    # loss(w) = mean over the minibatch of ‖w − x‖²: the full-batch minimiser is mean(x).
    x = jax.random.normal(jax.random.PRNGKey(0), (64, 3)) + jnp.array([1.0, -2.0, 3.0])
    loss = lambda w, xb: jnp.mean(jnp.sum((w - xb) ** 2, axis=-1))
    opt = optax.sgd(0.05)
    w0 = jnp.zeros(3)
    keys = jax.random.split(jax.random.PRNGKey(1), 60)
    w, _, trace = jax.jit(lambda w: sgd.minibatch_sgd(loss, opt, w, opt.init(w), x, sgd.shuffled(64, 4), epoch_keys=keys))(w0)
    assert trace.loss.shape == (60, 4) and trace.grad_norm.shape == (60, 4)
    np.testing.assert_allclose(w, x.mean(0), atol=0.1)
    assert float(trace.loss[-1].mean()) < 0.2 * float(trace.loss[0, 0])


def test_shuffled_epochs_visit_each_sample_once():
    n, k = 22, 4  # 22 // 4 = 5 rows per minibatch, 2 samples sit out each epoch
    seen = []

    def loss(w, xb):
        jax.debug.callback(lambda rows: seen.append(np.asarray(rows)), xb, ordered=True)
        return jnp.sum(w * xb)

    opt = optax.sgd(0.0)
    data = jnp.arange(n, dtype=jnp.float32)
    keys = jax.random.split(jax.random.PRNGKey(3), 3)
    w, _, trace = sgd.minibatch_sgd(loss, opt, jnp.zeros(()), opt.init(jnp.zeros(())), data, sgd.shuffled(n, k), epoch_keys=keys)
    jax.effects_barrier()
    rows = np.stack(seen).reshape(3, k, n // k)
    for e in range(3):
        epoch = rows[e].ravel()
        assert len(set(epoch.tolist())) == k * (n // k)  # no sample twice in an epoch
    assert not np.array_equal(rows[0], rows[1])  # each epoch has its own order
    np.testing.assert_allclose(trace.loss, 0.0)


def test_given_indices_are_stepped_in_order_with_their_keys():
    """With indices [E, K, M] and step keys, each step's loss sees those rows and key: a
    loss that is linear in w under plain SGD makes w the negative sum of what it saw."""
    data = jnp.arange(10, dtype=jnp.float32)
    idx = jnp.array([[[0, 0], [3, 9]], [[9, 9], [1, 2]]])  # with replacement, as RND draws
    step_keys = jax.random.split(jax.random.PRNGKey(0), 4).reshape(2, 2, -1)
    scale = jax.vmap(lambda k: jax.random.uniform(k))(step_keys.reshape(4, -1))

    def loss(w, xb, key):
        return w * jnp.sum(xb) * jax.random.uniform(key)

    opt = optax.sgd(1.0)
    w, _, trace = sgd.minibatch_sgd(loss, opt, jnp.zeros(()), opt.init(jnp.zeros(())), data, idx, step_keys=step_keys)
    sums = jnp.array([0.0, 12.0, 18.0, 3.0])
    np.testing.assert_allclose(w, -jnp.sum(sums * scale), rtol=1e-6)
    np.testing.assert_allclose(trace.grad_norm.ravel(), sums * scale, rtol=1e-6)


def test_a_sampler_needs_epoch_keys():
    with pytest.raises(ValueError, match="epoch_keys"):
        sgd.minibatch_sgd(lambda w, x: w, optax.sgd(1.0), 0.0, (), jnp.zeros(4), sgd.shuffled(4, 2))
    with pytest.raises(ValueError, match="cannot split 3 samples into 4"):
        sgd.shuffled(3, 4)
