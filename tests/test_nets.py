"""`jaxreward.nets.mlp.Dense`: flax's Dense with a hand-written backward for narrow layers."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxreward.nets.mlp import MLP, Dense


@pytest.mark.parametrize("features", [1, 2, 8, 9, 64])
def test_same_parameters_outputs_and_gradients_as_flax_dense(features):
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 5, 11))
    ours, ref = Dense(features), nn.Dense(features)
    params = ours.init(jax.random.PRNGKey(1), x)
    ref_params = ref.init(jax.random.PRNGKey(1), x)
    assert jax.tree.structure(params) == jax.tree.structure(ref_params)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(ref_params)):
        np.testing.assert_array_equal(a, b)
    # A non-trivial bias, so that its gradient path is exercised with a non-zero value too.
    params = jax.tree.map(lambda p: p + 0.1, params)
    weights = jax.random.normal(jax.random.PRNGKey(2), (3, 5, features))

    def loss(module):
        return lambda p, x: jnp.sum(jnp.tanh(module.apply(p, x)) * weights)

    np.testing.assert_allclose(ours.apply(params, x), ref.apply(params, x), rtol=1e-6, atol=1e-6)
    g_ours = jax.grad(loss(ours), argnums=(0, 1))(params, x)
    g_ref = jax.grad(loss(ref), argnums=(0, 1))(params, x)
    for a, b in zip(jax.tree.leaves(g_ours), jax.tree.leaves(g_ref)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_mlp_gradients_match_under_vmap_and_jit():
    """Per-seed gradients of a vmapped MLP (the trainer's seed axis) equal single-seed ones."""
    mlp = MLP((16, 16), 2, "tanh")
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    params = jax.vmap(lambda k: mlp.init(k, jnp.zeros((1, 4))))(keys)
    x = jax.random.normal(jax.random.PRNGKey(1), (3, 32, 4))

    def loss(p, x):
        return jnp.mean((mlp.apply(p, x) - 1.0) ** 2)

    batched = jax.jit(jax.vmap(jax.grad(loss)))(params, x)
    for i in range(3):
        single = jax.grad(loss)(jax.tree.map(lambda a: a[i], params), x[i])
        for a, b in zip(jax.tree.leaves(batched), jax.tree.leaves(single)):
            np.testing.assert_allclose(a[i], b, rtol=1e-5, atol=1e-6)
