"""Minibatch stochastic gradient descent: epochs of minibatch steps over a fixed batch.

Every learner and reward model that trains on a rollout does the same thing: for each of
E epochs, split (some of) the N samples into K minibatches of M rows, and for each
minibatch take the gradient of a loss and apply one optimiser step. `minibatch_sgd` is that
loop, as a `lax.scan` over epochs of a `lax.scan` over minibatches, so it compiles to one
loop whatever E and K are.

Which rows form each minibatch is the caller's choice, given either as indices
(`int [E, K, M]`: RND draws its subsets uniformly with replacement) or as a sampler
`epoch_key -> int [K, M]` called once per epoch inside the scan (`shuffled`: a fresh
permutation each epoch, so each sample is visited at most once per epoch). Rows are
gathered once per epoch with `shuffle.take_rows` (one gather per dtype).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxreward import shuffle


@struct.dataclass
class Trace:
    """Per-step outputs of `minibatch_sgd`, leading axes [E, K] (epoch, minibatch)."""

    loss: jax.Array  # [E, K]
    aux: Any  # the loss function's auxiliary output, leaves [E, K, ...]; None without aux
    grad_norm: jax.Array  # [E, K] global norm of each step's gradient


def shuffled(n: int, num_minibatches: int) -> Callable[[jax.Array], jax.Array]:
    """A sampler: epoch key -> int [K, M], a random permutation of range(n) (sort-free,
    `shuffle.permutation`) cut into K = `num_minibatches` minibatches of M = n // K rows;
    the n mod K rows left over sit out that epoch."""
    size = n // num_minibatches
    if size < 1:
        raise ValueError(f"cannot split {n} samples into {num_minibatches} minibatches")

    def sample(key: jax.Array) -> jax.Array:
        return shuffle.permutation(key, n)[: size * num_minibatches].reshape(num_minibatches, size)

    return sample


def minibatch_sgd(
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    params: Any,
    opt_state: Any,
    data: Any,
    minibatches: jax.Array | Callable[[jax.Array], jax.Array],
    epoch_keys: jax.Array | None = None,
    step_keys: jax.Array | None = None,
    has_aux: bool = False,
) -> tuple[Any, Any, Trace]:
    """Epochs of minibatch gradient steps: params ← params + optimizer(∇ loss(minibatch)).

    Args:
      loss_fn: `loss_fn(params, minibatch)` -> loss [] (or (loss, aux) with `has_aux`);
        with `step_keys`, `loss_fn(params, minibatch, key)`. `minibatch` is `data` with
        every leaf's leading axis replaced by the M rows of that step.
      optimizer: an optax transformation; its updates are added to the parameters.
      params, opt_state: where training starts.
      data: a pytree whose leaves all have the leading size N (samples).
      minibatches: row indices int [E, K, M], or a sampler `key -> int [K, M]` called
        with each of `epoch_keys` (E keys) inside the scan (e.g. `shuffled(N, K)`).
      epoch_keys: [E] PRNG keys, required with a sampler, unused with indices.
      step_keys: optional [E, K] PRNG keys, one per step, handed to `loss_fn`.
      has_aux: whether `loss_fn` returns (loss, aux).

    Returns:
      (params, opt_state, Trace) after E·K steps.
    """
    if callable(minibatches):
        if epoch_keys is None:
            raise ValueError("minibatch_sgd: a sampler needs epoch_keys, one per epoch")
        sample, epochs = minibatches, epoch_keys
    else:
        sample, epochs = (lambda idx: idx), minibatches

    def step(carry, inputs):
        params, opt_state = carry
        minibatch, key = inputs
        args = (params, minibatch) if key is None else (params, minibatch, key)
        out, grads = jax.value_and_grad(loss_fn, has_aux=has_aux)(*args)
        loss, aux = out if has_aux else (out, None)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state), Trace(loss, aux, optax.tree.norm(grads))

    def epoch(carry, inputs):
        epoch_input, keys = inputs
        rows = shuffle.take_rows(data, sample(epoch_input))  # leaves [K, M, ...]
        return jax.lax.scan(step, carry, (rows, keys))

    (params, opt_state), trace = jax.lax.scan(epoch, (params, opt_state), (epochs, step_keys))
    return params, opt_state, trace


def mean_metrics(trace: Trace) -> dict:
    """The auxiliary metrics (a dict) averaged over all steps: name -> []."""
    return jax.tree.map(jnp.mean, trace.aux)
