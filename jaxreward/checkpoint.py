"""Checkpoints of the whole `TrainState` with orbax.

The agent's optimiser state, the reward model's state (parameters, optimiser, running
statistics), the env state, the normaliser, the rng and the counters are all saved, so a
resumed run continues exactly where the saved one stopped.

On disk a checkpoint is a flat mapping "path.to.leaf" -> array of the state's non-empty
leaves: orbax refuses zero-size arrays, and MJX data holds some (e.g. `act` of a model
without actuator state); those are taken from the template on restore.

Faults are reported with `CheckpointError` in one line that names the path:

- A checkpoint that does not match the run (another config, another tree) is an error:
  an older checkpoint of the same directory would not match either.
- A checkpoint whose files are missing, damaged or truncated raises `CheckpointUnreadable`.
  `restore_newest_readable` then falls back to the newest readable one and moves the
  unreadable ones aside (never deletes them), so later saves cannot collide with them.
  Bytes overwritten inside an array file go unnoticed: the files carry no checksums.
- A failed write (a full disk, a quota) leaves the earlier checkpoints as they were and
  no partial one: orbax writes into `<step>.orbax-checkpoint-tmp` and renames it only
  when complete, and `save` removes that temporary directory when writing fails.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
import shutil

import jax
import numpy as np
import orbax.checkpoint as ocp

#: Orbax's name for a checkpoint being written: `<step>` + this suffix, renamed when complete.
_TMP_SUFFIX = ".orbax-checkpoint-tmp"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, does not match the run, or could not be written."""


class CheckpointUnreadable(CheckpointError):
    """A checkpoint's files are missing, damaged or truncated; `reason` says how, in one line."""

    def __init__(self, directory: str, step: int, reason: str):
        super().__init__(f"checkpoint {step} in {directory!r} is unreadable: {reason}")
        self.step, self.reason = step, reason


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
    """Saves `state` (any pytree) as checkpoint `step` (env steps) under `directory`.

    Raises CheckpointError, one line naming the path, when the checkpoint cannot be written;
    for a full disk it gives the space a checkpoint needs (the arrays' byte size, an upper
    bound since orbax compresses). The partial checkpoint is removed and earlier ones are
    kept. Orbax's writer threads log the same failure with a traceback; those records are
    dropped while saving because the raised error already says it.
    """
    flat = _flat(jax.device_get(state))
    try:
        with _writer_tracebacks_dropped(), _manager(directory) as mgr:
            mgr.save(step, args=ocp.args.StandardSave(flat), force=True)
            mgr.wait_until_finished()
    except Exception as e:
        for partial in glob.glob(os.path.join(glob.escape(os.path.abspath(directory)), f"{step}{_TMP_SUFFIX}*")):
            shutil.rmtree(partial, ignore_errors=True)
        raise CheckpointError(_write_failure(directory, step, flat, e)) from e


def _write_failure(directory: str, step: int, flat: dict, error: Exception) -> str:
    kept = steps(directory)
    kept_text = f"the last complete checkpoint, step {kept[-1]}, is kept" if kept else "no earlier checkpoint exists"
    if not _is_disk_full(error):
        return f"could not write checkpoint {step} to {directory}: {_reason(error)}; {kept_text}"
    needed = sum(np.asarray(x).nbytes for x in flat.values())
    free = shutil.disk_usage(directory).free if os.path.isdir(directory) else None
    # A quota can be full while the device has room: then the free space would mislead.
    free_text = f", {_size(free)} free" if free is not None and free < needed else ""
    return (
        f"no space left to write checkpoint {step} to {directory} (it needs about {_size(needed)}{free_text}); "
        f"{kept_text} and the partial one was removed; free some space, then continue with --resume"
    )


def _is_disk_full(error: BaseException) -> bool:
    """ENOSPC or EDQUOT: an OSError from a Python writer, or tensorstore's text for it."""
    codes = (errno.ENOSPC, errno.EDQUOT)
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in codes:
            return True
        text = str(error)
        # tensorstore raises ValueError("... No space left on device [os_error_code='28']").
        if any(f"os_error_code='{c}'" in text or os.strerror(c) in text for c in codes):
            return True
        error = error.__cause__ or error.__context__
    return False


class _DropTracebacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno >= logging.ERROR and record.exc_info)


@contextlib.contextmanager
def _writer_tracebacks_dropped():
    """Drops orbax's (absl's) error records that carry a traceback, for the duration."""
    logger, drop = logging.getLogger("absl"), _DropTracebacks()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def steps(directory: str) -> list[int]:
    """Saved checkpoint steps, ascending ([] if none)."""
    if not os.path.isdir(directory):
        return []
    with _manager(directory) as mgr:
        return sorted(mgr.all_steps())


def restore(directory: str, template, step: int | None = None):
    """Restores the checkpoint `step` (default: latest) into the structure of `template`.

    Raises CheckpointError when there is none or when its tree or array shapes differ from
    `template`'s, and CheckpointUnreadable when its files cannot be read.
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
            raise CheckpointUnreadable(directory, step, _reason(e)) from e
        _check_matches(meta, abstract, directory, step)
        try:
            restored = mgr.restore(step, args=ocp.args.StandardRestore(abstract))
        except Exception as e:
            raise CheckpointUnreadable(directory, step, _reason(e)) from e
    paths, treedef = jax.tree_util.tree_flatten_with_path(template)
    leaves = [restored.get(".".join(_key_name(k) for k in p), x) for p, x in paths]
    return jax.tree_util.tree_unflatten(treedef, leaves)


def restore_newest_readable(directory: str, template) -> tuple[object, int, list[str]]:
    """Restores the newest checkpoint that can be read; returns (state, its step, notes).

    Each newer, unreadable checkpoint is moved to `<directory>-unreadable/<step>` and gets a
    note (one line: its step, why it was skipped, where it went); it is moved rather than
    left in place so that a later save of the same step, or the manager's clean-up of old
    checkpoints, cannot replace or delete it unreported. Nothing is moved when this raises:
    CheckpointError if a checkpoint does not match `template` (a checkpoint of another
    configuration, which an older one would not fix) or none is readable.
    """
    available = steps(directory)
    if not available:
        raise CheckpointError(f"no checkpoint found in {directory!r}")
    skipped: list[CheckpointUnreadable] = []
    for step in reversed(available):
        try:
            state = restore(directory, template, step)
        except CheckpointUnreadable as e:
            skipped.append(e)
            continue
        notes = [f"checkpoint {e.step} is unreadable ({e.reason}); moved it to {_set_aside(directory, e.step)}" for e in skipped]
        return state, step, notes
    reasons = "; ".join(f"{e.step}: {e.reason}" for e in skipped)
    raise CheckpointError(f"no readable checkpoint in {directory!r} ({reasons})")


def _set_aside(directory: str, step: int) -> str:
    """Moves checkpoint `step` out of `directory` (which orbax scans) and returns its new path."""
    target = os.path.join(f"{os.path.normpath(directory)}-unreadable", str(step))
    n = 1
    while os.path.exists(target):
        n += 1
        target = os.path.join(f"{os.path.normpath(directory)}-unreadable", f"{step}-{n}")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.move(os.path.join(directory, str(step)), target)
    return target


def _check_matches(meta, abstract, directory, step) -> None:
    if meta is None:
        raise CheckpointUnreadable(directory, step, "it has no readable metadata")
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


def _reason(error: BaseException) -> str:
    """The first line of an orbax/tensorstore error, without tensorstore's spec dump."""
    text = (str(error).strip().splitlines() or [type(error).__name__])[0]
    text = text.split(" [tensorstore_spec=")[0]
    return text if len(text) <= 300 else text[:297] + "..."


def _size(num_bytes: float) -> str:
    units = ("B", "KiB", "MiB", "GiB")
    i = 0
    while num_bytes >= 1024 and i < len(units) - 1:
        num_bytes /= 1024
        i += 1
    return f"{num_bytes:.0f} B" if i == 0 else f"{num_bytes:.1f} {units[i]}"


def _shapes(flat: dict) -> dict[str, tuple]:
    return {k: tuple(getattr(x, "shape", ())) for k, x in flat.items()}


def _key_name(k) -> str:
    # Saved metadata is a nested dict, the live state dataclasses: compare by plain names.
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)
