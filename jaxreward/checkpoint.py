"""Checkpoints of the whole `TrainState` with orbax.

The agent's optimiser state, the reward model's state (parameters, optimiser, running
statistics), the env state, the normaliser, the rng and the counters are all saved, so a
resumed run continues exactly where the saved one stopped.

On disk a checkpoint is a flat mapping "path.to.leaf" -> array of the state's non-empty
leaves: orbax refuses zero-size arrays, and MJX data holds some (e.g. `act` of a model
without actuator state); those are taken from the template on restore.

A checkpoint that does not match the run (another config, another tree) or cannot be read
is reported with `CheckpointError`; nothing in the run directory is modified then.
"""

from __future__ import annotations

import os

import jax
import numpy as np
import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or does not match the run."""


def _manager(directory: str, max_to_keep: int | None = 3) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True, enable_async_checkpointing=False)
    return ocp.CheckpointManager(
        os.path.abspath(directory), options=options, item_handlers=ocp.StandardCheckpointHandler()
    )


def _flat(tree) -> dict:
    """{"path.to.leaf": leaf} of the leaves with at least one element."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {".".join(_key_name(k) for k in p): x for p, x in flat if np.size(x) > 0}


def save(directory: str, step: int, state) -> None:
    """Saves `state` (any pytree) as checkpoint `step` (env steps) under `directory`."""
    with _manager(directory) as mgr:
        mgr.save(step, args=ocp.args.StandardSave(_flat(jax.device_get(state))), force=True)
        mgr.wait_until_finished()


def steps(directory: str) -> list[int]:
    """Saved checkpoint steps, ascending ([] if none)."""
    if not os.path.isdir(directory):
        return []
    with _manager(directory) as mgr:
        return sorted(mgr.all_steps())


def restore(directory: str, template, step: int | None = None):
    """Restores the checkpoint `step` (default: latest) into the structure of `template`.

    Raises CheckpointError when there is none, when it cannot be read, or when its tree
    or array shapes differ from `template`'s.
    """
    available = steps(directory)
    if not available:
        raise CheckpointError(f"no checkpoint found in {directory!r}")
    step = available[-1] if step is None else step
    if step not in available:
        raise CheckpointError(f"no checkpoint for step {step} in {directory!r}; available: {available}")
    template = jax.device_get(template)
    abstract = _flat(jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype), template))
    with _manager(directory) as mgr:
        try:
            meta = mgr.item_metadata(step)
        except Exception as e:  # orbax raises a variety of errors on damaged files
            raise CheckpointError(f"checkpoint {step} in {directory!r} is unreadable: {e}") from e
        _check_matches(meta, abstract, directory, step)
        try:
            restored = mgr.restore(step, args=ocp.args.StandardRestore(abstract))
        except Exception as e:
            raise CheckpointError(f"checkpoint {step} in {directory!r} could not be restored: {e}") from e
    paths, treedef = jax.tree_util.tree_flatten_with_path(template)
    leaves = [restored.get(".".join(_key_name(k) for k in p), x) for p, x in paths]
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _check_matches(meta, abstract, directory, step) -> None:
    if meta is None:
        raise CheckpointError(f"checkpoint {step} in {directory!r} has no readable metadata")
    saved = _shapes(meta)
    wanted = _shapes(abstract)
    if saved.keys() != wanted.keys():
        missing = sorted(set(wanted) - set(saved))[:5]
        extra = sorted(set(saved) - set(wanted))[:5]
        raise CheckpointError(
            f"checkpoint {step} in {directory!r} does not match this run's state "
            f"(missing {missing}, unexpected {extra}); was it saved by another configuration?"
        )
    for path, shape in wanted.items():
        if tuple(saved[path]) != tuple(shape):
            raise CheckpointError(
                f"checkpoint {step} in {directory!r} does not match this run: {path} has shape "
                f"{tuple(saved[path])}, expected {tuple(shape)} (another num_envs, num_seeds or network size?)"
            )


def _shapes(flat: dict) -> dict[str, tuple]:
    return {k: tuple(getattr(x, "shape", ())) for k, x in flat.items()}


def _key_name(k) -> str:
    # Saved metadata is a nested dict, the live state dataclasses: compare by plain names.
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)
