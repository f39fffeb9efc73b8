"""`jaxreward.shuffle.permutation`: the minibatch shuffle of PPO and of the learned rewards."""

import itertools

import jax
import numpy as np
import pytest

from jaxreward import shuffle


@pytest.mark.parametrize("n", [1, 2, 7, 16, 4097, 5120, 8192])
def test_is_a_permutation_and_depends_only_on_the_key(n):
    a = np.asarray(shuffle.permutation(jax.random.PRNGKey(3), n))
    assert a.dtype == np.int32 and np.array_equal(np.sort(a), np.arange(n))
    assert np.array_equal(a, np.asarray(jax.jit(shuffle.permutation, static_argnums=1)(jax.random.PRNGKey(3), n)))
    if n > 1:
        assert not np.array_equal(a, np.asarray(shuffle.permutation(jax.random.PRNGKey(4), n)))


def test_positions_are_uniform():
    """Chi-square over 8 elements x 8 positions in 4000 draws: every element lands in every
    position equally often (a biased shuffle, e.g. one that keeps the identity order on ties
    of low-resolution keys, fails this)."""
    n, draws = 8, 4000
    perms = np.asarray(jax.vmap(lambda k: shuffle.permutation(k, n))(jax.random.split(jax.random.PRNGKey(0), draws)))
    counts = np.zeros((n, n))
    for position in range(n):
        counts[:, position] = np.bincount(perms[:, position], minlength=n)
    expected = draws / n
    chi2 = ((counts - expected) ** 2 / expected).sum()
    # 49 degrees of freedom: mean 49, std ~9.9; 100 is beyond p = 1e-4.
    assert chi2 < 100, counts


def test_every_permutation_of_five_is_equally_likely():
    """Chi-square over all 120 orderings of 5 elements in 30000 draws (250 expected each).
    The same construction with 8 rounds instead of 24 fails it (chi-square 478)."""
    n, draws = 5, 30000
    perms = np.asarray(jax.vmap(lambda k: shuffle.permutation(k, n))(jax.random.split(jax.random.PRNGKey(5), draws)))
    index = {p: i for i, p in enumerate(itertools.permutations(range(n)))}
    counts = np.bincount([index[tuple(p)] for p in perms], minlength=len(index))
    expected = draws / len(index)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    # 119 degrees of freedom: the 1e-4 upper quantile is about 180.
    assert chi2 < 180, (chi2, counts.min(), counts.max())


def test_pairs_share_a_minibatch_at_the_uniform_rate():
    """Split 8 elements into two minibatches of 4: every pair shares one with probability
    3/7, whatever the two indices (a shuffle that keeps neighbours together fails)."""
    n, draws = 8, 20000
    perms = np.asarray(jax.vmap(lambda k: shuffle.permutation(k, n))(jax.random.split(jax.random.PRNGKey(6), draws)))
    half = np.argsort(perms, axis=1) >= n // 2  # which minibatch each element landed in
    rows, cols = np.triu_indices(n, 1)
    together = (half[:, rows] == half[:, cols]).mean(axis=0)
    # std of each frequency: sqrt(3/7 * 4/7 / 20000) = 0.0035
    assert np.all(np.abs(together - 3 / 7) < 0.016), together


def test_minibatches_of_a_large_batch_mix_the_whole_batch():
    """Each quarter of an 8192-permutation holds indices from all over the batch (mean near
    the middle, each eighth of the index range about equally represented)."""
    perm = np.asarray(shuffle.permutation(jax.random.PRNGKey(1), 8192)).reshape(4, 2048)
    for mb in perm:
        assert abs(mb.mean() - 4095.5) < 150  # std of the mean ~ 2365 / sqrt(2048) = 52
        hist = np.bincount(mb // 1024, minlength=8)
        assert hist.min() > 180 and hist.max() < 330, hist  # expected 256 each


def test_vmapped_draws_equal_single_draws():
    keys = jax.random.split(jax.random.PRNGKey(2), 3)
    batched = np.asarray(jax.vmap(lambda k: shuffle.permutation(k, 100))(keys))
    for i, k in enumerate(keys):
        assert np.array_equal(batched[i], np.asarray(shuffle.permutation(k, 100)))


def test_take_rows_equals_indexing_each_leaf():
    n = 12
    key = jax.random.PRNGKey(7)
    tree = {
        "obs": jax.random.normal(key, (n, 3, 2)),
        "scalar": jax.random.uniform(key, (n,)),
        "action": jax.random.randint(key, (n,), 0, 5),
        "flag": jax.random.uniform(key, (n,)) > 0.5,
        "none": None,
    }
    idx = shuffle.permutation(jax.random.PRNGKey(8), n)[:8].reshape(2, 4)
    got = jax.jit(shuffle.take_rows)(tree, idx)
    assert got["none"] is None
    for name in ("obs", "scalar", "action", "flag"):
        assert got[name].dtype == tree[name].dtype
        np.testing.assert_array_equal(got[name], np.asarray(tree[name])[np.asarray(idx)])


def test_take_rows_rejects_leaves_of_different_lengths():
    with pytest.raises(ValueError, match="leading size"):
        shuffle.take_rows((np.zeros((4, 2)), np.zeros(5)), np.arange(2))
