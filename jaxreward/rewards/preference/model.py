"""An ensemble of reward MLPs fitted with the Bradley–Terry model of preferences.

Christiano et al., "Deep Reinforcement Learning from Human Preferences" (NeurIPS 2017):
P(σ_a ≻ σ_b) = exp Σ r̂(σ_a) / (exp Σ r̂(σ_a) + exp Σ r̂(σ_b)) = sigmoid(R̂(σ_a) − R̂(σ_b)),
trained by cross-entropy against the label y = P(σ_a ≻ σ_b) target, so a tie (y = 0.5)
pulls both segments' returns together rather than being dropped.

The K members are one MLP definition with K parameter sets initialised from K keys and
evaluated with `vmap`, so the ensemble costs one batched matmul chain, not K programs.
PEBBLE (Lee et al., ICML 2021) uses three members with a tanh output; both are defaults
of the reward model's config. Members disagree because their initialisations (and the
minibatches they are trained on) differ; that disagreement drives query selection and the
pessimistic aggregation `mean − k·std`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxreward.nets.mlp import MLP

AGGREGATIONS = ("mean", "mean_minus_std", "min")
OUTPUT_ACTIVATIONS = ("none", "tanh")


class RewardEnsemble:
    """K reward MLPs r̂_k(x) over per-step inputs x (obs, or obs and action)."""

    def __init__(self, input_size: int, hidden: tuple[int, ...], activation: str, num_members: int,
                 output_activation: str = "tanh"):
        if output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(f"output_activation must be one of {', '.join(OUTPUT_ACTIVATIONS)}, got {output_activation!r}")
        self.input_size = input_size
        self.num_members = num_members
        self.output_activation = output_activation
        self.net = MLP(tuple(hidden), 1, activation)

    def init(self, rng: jax.Array) -> dict:
        """Parameters stacked over members: every leaf has a leading axis K."""
        keys = jax.random.split(rng, self.num_members)
        return jax.vmap(lambda k: self.net.init(k, jnp.zeros((1, self.input_size))))(keys)

    def member_rewards(self, params: dict, x: jax.Array) -> jax.Array:
        """x: [..., input_size] -> [K, ...] each member's per-step reward."""
        r = jax.vmap(lambda p: self.net.apply(p, x)[..., 0])(params)
        return jnp.tanh(r) if self.output_activation == "tanh" else r

    def segment_returns(self, params: dict, segments: jax.Array) -> jax.Array:
        """segments: [N, H, input_size] -> [K, N] each member's predicted segment return."""
        return self.member_rewards(params, segments).sum(-1)


def bradley_terry_loss(return_a: jax.Array, return_b: jax.Array, y: jax.Array, weight: jax.Array | None = None) -> jax.Array:
    """Mean cross-entropy of the Bradley–Terry model.

    return_a, return_b: [N] predicted segment returns; y: [N] target P(a ≻ b) (0, 0.5, 1
    or any probability); weight: [N] optional per-pair weights (0 masks a pair out).
    Written with softplus so large return gaps do not overflow:
    −[y log σ(d) + (1−y) log σ(−d)] = y·softplus(−d) + (1−y)·softplus(d), d = R̂_a − R̂_b.
    """
    d = return_a - return_b
    ce = y * jax.nn.softplus(-d) + (1.0 - y) * jax.nn.softplus(d)
    if weight is None:
        return jnp.mean(ce)
    return jnp.sum(ce * weight) / jnp.maximum(jnp.sum(weight), 1.0)


def preference_probability(return_a: jax.Array, return_b: jax.Array) -> jax.Array:
    """[...] P(a ≻ b) under Bradley–Terry."""
    return jax.nn.sigmoid(return_a - return_b)


def aggregate(member_rewards: jax.Array, mode: str, pessimism: jax.Array | float = 1.0) -> jax.Array:
    """Combines member predictions [K, ...] into one reward [...].

    "mean"; "mean_minus_std": mean − k·std with k = `pessimism` (vmappable; negative k is
    optimistic); "min": the most pessimistic member.
    """
    if mode == "mean":
        return member_rewards.mean(0)
    if mode == "mean_minus_std":
        return member_rewards.mean(0) - pessimism * member_rewards.std(0)
    if mode == "min":
        return member_rewards.min(0)
    raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, got {mode!r}")
