"""The trainer's vmapped axis of runs (seeds × reward variants) and predicates over it.

`Trainer.chunk_fn` vmaps the training step over runs with the axis name `RUNS_AXIS`.
Under `vmap`, a `lax.cond` whose predicate is batched becomes a `select` that computes both
branches every time. Work that falls on the same iterations in every run (a feedback
session, a buffer relabel) keeps a real branch by reducing its predicate over the axis
first: `lax.cond(any_run(due), ...)`, each run then applying the work only where its own
`due` holds.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

RUNS_AXIS = "runs"


def any_run(due: jax.Array) -> jax.Array:
    """`due` ([] bool) reduced over the runs axis when there is one; unchanged outside it
    (tests, a plain `jit`)."""
    try:
        return jax.lax.psum(due.astype(jnp.int32), RUNS_AXIS) > 0
    except NameError:
        return due
