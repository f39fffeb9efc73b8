"""The straight-line Threefry lowering on CPU: the same random bits, compiled faster.

Every `jax.random` call hashes with Threefry-2x32 (Salmon et al., "Parallel random numbers:
as easy as 1, 2, 3", SC 2011): 20 rounds of add / rotate / xor. Up to jax 0.9 the CPU
lowering emits the rounds as a 5-trip `while` loop; under XLA:CPU's thunk runtime every
such loop is compiled as its own small kernels, so each random call in a program adds
noticeably to compilation and runs slower than straight-line code. The lowering JAX uses
on every other platform writes the rounds out in order; it computes the identical uint32
hash (the same integer operations, unrolled), so every sampled number, and with it every
training run, is bit-for-bit unchanged. What it saves in compile time is recorded in
docs/performance.md ("Random numbers on CPU").
"""

from __future__ import annotations

from jax.interpreters import mlir


def use_straight_line_threefry() -> bool:
    """Registers the unrolled Threefry lowering for CPU (idempotent).

    Returns False, changing nothing, where this jax has no such private lowering to reuse.
    """
    try:
        from jax._src import prng
    except ImportError:  # pragma: no cover - a jax without the private module
        return False
    primitive = getattr(prng, "threefry2x32_p", None)
    unrolled = getattr(prng, "_threefry2x32_lowering_rule", None)
    if primitive is None or unrolled is None:
        return False
    mlir.register_lowering(primitive, unrolled, platform="cpu")
    return True
