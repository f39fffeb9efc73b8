"""Episodic memory: a fixed-size per-env pytree scanned over the rollout and reset at `done`.

Episodic bonuses (E3B's inverse covariance, episodic counts, NGU's kNN memory) score step t
of env b against everything env b saw earlier *in the same episode*, including steps of
earlier rollouts. Their memory is therefore part of the reward state, with a leading env
axis [B, ...], and a bonus is a `lax.scan` over the T steps of a batch:

    for t in 0..T-1:   bonus[t], memory = step(memory, x[t])      (vmapped over envs)
                       memory = fresh where done[t]

`reward` runs the scan and returns the final memory in its info; `update` keeps it (the
contract hands `update` what `reward` returned, so the scan runs once per batch). The memory being fixed-size keeps the whole thing jittable
and vmappable over seeds.
"""

from __future__ import annotations

from typing import Any, Callable

import chex
import jax
import jax.numpy as jnp


def scan_episodes(
    step: Callable[[Any, Any], tuple[jax.Array, Any]],
    memory: Any,
    fresh: Any,
    xs: Any,
    done: jax.Array,
    reset: Callable[[Any, Any, jax.Array], Any] | None = None,
) -> tuple[jax.Array, Any]:
    """Runs a per-env episodic memory over a rollout.

    Args:
      step: (memory of one env, x of one env at one step) -> (bonus [], new memory).
      memory: the memories, every leaf [B, ...].
      fresh: one env's empty memory (no env axis); it replaces env b's memory after a
        step where done[t, b].
      xs: per-step inputs, every leaf [T, B, ...].
      done: [T, B] episode ends.
      reset: (memory [B, ...], fresh, done [B]) -> memory after episode ends; default
        `reset_done`. A memory can make its reset cheaper than rewriting every slot (the
        episodic count stamps its table with an episode number instead).

    Returns:
      (bonus [T, B], memory after the last step [B, ...]).
    """
    chex.assert_rank(done, 2)
    batched_step = jax.vmap(step)
    reset = reset_done if reset is None else reset

    def body(mem, inputs):
        x, d = inputs
        bonus, mem = batched_step(mem, x)
        return reset(mem, fresh, d), bonus

    memory, bonus = jax.lax.scan(body, memory, (xs, done))
    return bonus, memory


def reset_done(memory: Any, fresh: Any, done: jax.Array) -> Any:
    """memory: leaves [B, ...]; fresh: one env's empty memory; done: [B]. Empties the
    memories of the envs whose episode just ended."""

    def reset(new, empty):
        return jnp.where(done.reshape(done.shape + (1,) * (new.ndim - 1)) > 0, empty[None], new)

    return jax.tree.map(reset, memory, fresh)


def fresh_memories(fresh: Any, num_envs: int) -> Any:
    """`num_envs` copies of one env's empty memory: leaves [num_envs, ...]."""
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (num_envs,) + x.shape), fresh)
