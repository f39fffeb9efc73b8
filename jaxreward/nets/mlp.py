"""A plain MLP with orthogonal initialisation, shared by agents and reward models, and the
dense layer every learner's MLP is built from."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

#: Output widths up to this size take the elementwise backward of `linear`.
NARROW = 8


@jax.custom_vjp
def linear(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> jax.Array:
    """`x @ kernel + bias` for x [..., in], kernel [in, out], bias [out].

    The forward pass is the plain matmul; the backward pass differs from what autodiff
    writes only where the layer is narrow (out <= NARROW, e.g. a policy's action mean or a
    value): the input gradient `g @ kernel.T` contracts over just `out` columns, which
    XLA:CPU runs as a general matrix product far slower than the few multiply-adds it
    amounts to, so it is written as `out` broadcast multiply-adds, and the kernel gradient
    as `out` reductions over the batch. Same values up to float rounding
    (tests/test_nets.py). The timings behind this choice are in
    `benchmarks/results/ppo_findings.md` (section 2).
    """
    return x @ kernel + bias


def _linear_fwd(x, kernel, bias):
    return x @ kernel + bias, (x, kernel)


def _linear_bwd(residuals, g):
    x, kernel = residuals
    n_in, n_out = kernel.shape
    x2, g2 = x.reshape(-1, n_in), g.reshape(-1, n_out)
    if n_out <= NARROW:
        dx = sum(g2[:, j : j + 1] * kernel[:, j] for j in range(n_out))
        dkernel = jnp.stack([jnp.sum(x2 * g2[:, j : j + 1], axis=0) for j in range(n_out)], axis=1)
    else:
        dx = g2 @ kernel.T
        dkernel = x2.T @ g2
    return dx.reshape(x.shape), dkernel, jnp.sum(g2, axis=0)


linear.defvjp(_linear_fwd, _linear_bwd)


class Dense(nn.Module):
    """`flax.linen.Dense` (same parameters, names and default initialisers) computed by `linear`."""

    features: int
    kernel_init: Callable[..., Any] = nn.linear.default_kernel_init
    bias_init: Callable[..., Any] = nn.initializers.zeros_init()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features))
        bias = self.param("bias", self.bias_init, (self.features,))
        return linear(x, kernel, bias)

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "silu": nn.silu, "elu": nn.elu}


def activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class MLP(nn.Module):
    """Hidden layers, then a linear output layer.

    `out_scale` sets the orthogonal gain of the last layer: small (0.01) for policy heads
    so the initial policy is near-uniform, 1.0 for value and reward heads.
    """

    hidden: Sequence[int]
    out_dim: int
    act: str = "tanh"
    out_scale: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = activation(self.act)
        for width in self.hidden:
            x = act(Dense(width, kernel_init=nn.initializers.orthogonal(jnp.sqrt(2.0)))(x))
        return Dense(self.out_dim, kernel_init=nn.initializers.orthogonal(self.out_scale))(x)
