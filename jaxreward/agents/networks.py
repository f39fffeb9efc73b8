"""Policy and value networks of the on-policy learners."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax

from jaxreward.nets.mlp import ACTIVATIONS, MLP  # noqa: F401  (ACTIVATIONS re-exported for configs)


class PolicyHead(nn.Module):
    """Logits (discrete) or a Gaussian mean plus a learned state-independent log-std."""

    hidden: Sequence[int]
    action_size: int
    discrete: bool
    act: str = "tanh"
    init_log_std: float = 0.0

    @nn.compact
    def __call__(self, obs: jax.Array):
        head = MLP(self.hidden, self.action_size, self.act, out_scale=0.01)(obs)
        if self.discrete:
            return head, None
        log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (self.action_size,))
        return head, log_std


class ValueHead(nn.Module):
    """V(obs) [...], or with `num_outputs` > 1 that many values from one torso [..., n]."""

    hidden: Sequence[int]
    act: str = "tanh"
    num_outputs: int = 1

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        out = MLP(self.hidden, self.num_outputs, self.act, out_scale=1.0)(obs)
        return out[..., 0] if self.num_outputs == 1 else out
