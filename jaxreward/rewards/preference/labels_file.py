"""Preferences written by a person: the segments file and the labels file.

Two files, so a labelling tool (a web page in a later issue) only ever writes small text:

**Segments file** (`.npz`, written by `save_segments`): `ids` [N] strings, `obs`
[N, H, obs_dim], and `action` [N, H, action_dim] (continuous) or [N, H] int (discrete);
optional extra arrays (e.g. rendered frames for the labelling page) are ignored here.

**Labels file** (JSON lines, one comparison per line; blank lines and lines starting with
`#` are skipped):

    {"a": "seg-0007", "b": "seg-0012", "preference": "a"}
    {"a": "seg-0003", "b": "seg-0007", "preference": "equal"}
    {"a": "seg-0001", "b": "seg-0002", "preference": 0.5}

`a` and `b` are ids from the segments file. `preference` is "a" or "b" (that segment is
better), "equal" (a tie, trained as P = 0.5), "skip" (no answer; the line is ignored), or
a number in [0, 1] read as P(a ≻ b). Other keys (labeller, timestamp, …) are allowed and
ignored. Any problem — bad JSON, a missing key, an unknown id, a preference outside the
allowed values, segments of different lengths — raises `LabelsFileError` naming the file
and line.
"""

from __future__ import annotations

import json

import numpy as np

PREFERENCE_WORDS = {"a": 1.0, "b": 0.0, "equal": 0.5}


class LabelsFileError(ValueError):
    """A labels or segments file that cannot be used, with the place at fault."""


def save_segments(path: str, ids: list[str], obs: np.ndarray, action: np.ndarray, **extra: np.ndarray) -> None:
    """Writes a segments file. obs: [N, H, obs_dim]; action: [N, H, A] or [N, H]."""
    ids = np.asarray([str(i) for i in ids])
    if len(set(ids.tolist())) != len(ids):
        raise ValueError("segment ids must be unique")
    np.savez(path, ids=ids, obs=np.asarray(obs), action=np.asarray(action), **extra)


def load_segments(path: str) -> dict[str, np.ndarray]:
    """{"ids": [N], "obs": [N, H, obs_dim], "action": [N, H, ...]} from a segments file."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise LabelsFileError(f"{path}: cannot read the segments file ({e})") from e
    missing = [k for k in ("ids", "obs", "action") if k not in data]
    if missing:
        raise LabelsFileError(f"{path}: segments file lacks {', '.join(missing)} (needs ids, obs, action)")
    out = {k: data[k] for k in ("ids", "obs", "action")}
    n = len(out["ids"])
    if out["obs"].ndim != 3 or out["obs"].shape[0] != n or out["action"].shape[:2] != out["obs"].shape[:2]:
        raise LabelsFileError(
            f"{path}: expected obs [N, H, obs_dim] and action [N, H, ...] with N = {n} ids; "
            f"got obs {out['obs'].shape}, action {out['action'].shape}"
        )
    return out


def _preference(value, where: str) -> float | None:
    if isinstance(value, str):
        word = value.strip().lower()
        if word == "skip":
            return None
        if word in PREFERENCE_WORDS:
            return PREFERENCE_WORDS[word]
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0:
        return float(value)
    raise LabelsFileError(f'{where}: preference must be "a", "b", "equal", "skip" or a number in [0, 1], got {value!r}')


def read_labels(path: str, known_ids) -> list[tuple[str, str, float]]:
    """(id_a, id_b, P(a ≻ b)) per answered line of a labels file; ids checked against `known_ids`."""
    known = set(str(i) for i in known_ids)
    out = []
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        raise LabelsFileError(f"{path}: cannot read the labels file ({e})") from e
    for number, line in enumerate(lines, start=1):
        where = f"{path}, line {number}"
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as e:
            raise LabelsFileError(f"{where}: not valid JSON ({e.msg})") from None
        if not isinstance(record, dict):
            raise LabelsFileError(f"{where}: expected a JSON object with keys a, b, preference")
        missing = [k for k in ("a", "b", "preference") if k not in record]
        if missing:
            raise LabelsFileError(f"{where}: missing key(s) {', '.join(missing)}")
        a, b = str(record["a"]), str(record["b"])
        for key, seg in (("a", a), ("b", b)):
            if seg not in known:
                raise LabelsFileError(f"{where}: segment id {seg!r} (key {key!r}) is not in the segments file")
        if a == b:
            raise LabelsFileError(f"{where}: a segment compared with itself ({a!r})")
        y = _preference(record["preference"], where)
        if y is not None:
            out.append((a, b, y))
    if not out:
        raise LabelsFileError(f"{path}: no answered comparisons")
    return out


def load_pairs(labels_path: str, segments_path: str, segment_length: int, obs_size: int, action_size: int,
               discrete: bool, use_action: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The labelled pairs of a labels file as reward-model inputs.

    Returns (seg_a [n, H, D], seg_b [n, H, D], y [n]) with D = obs_size (+ action_size when
    `use_action`; discrete actions one-hot), checked against the run's shapes.
    """
    seg = load_segments(segments_path)
    n_seg, length, obs_dim = seg["obs"].shape
    if length != segment_length:
        raise LabelsFileError(f"{segments_path}: segments are {length} steps long, the reward model uses {segment_length}")
    if obs_dim != obs_size:
        raise LabelsFileError(f"{segments_path}: obs_dim is {obs_dim}, the environment's observation size is {obs_size}")
    inputs = seg["obs"].astype(np.float32)
    if use_action:
        action = seg["action"]
        if discrete:
            if action.ndim != 2:
                raise LabelsFileError(f"{segments_path}: discrete actions must be [N, H] ints, got shape {action.shape}")
            action = np.eye(action_size, dtype=np.float32)[action.astype(int)]
        elif action.ndim != 3 or action.shape[-1] != action_size:
            raise LabelsFileError(f"{segments_path}: action must be [N, H, {action_size}], got shape {action.shape}")
        inputs = np.concatenate([inputs, action.astype(np.float32)], axis=-1)
    index = {str(i): k for k, i in enumerate(seg["ids"])}
    labels = read_labels(labels_path, index)
    ia = np.array([index[a] for a, _, _ in labels])
    ib = np.array([index[b] for _, b, _ in labels])
    y = np.array([p for _, _, p in labels], np.float32)
    return inputs[ia], inputs[ib], y
