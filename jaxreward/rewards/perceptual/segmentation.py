"""Unsupervised segmentation of demonstrations into steps, on their feature sequences.

Sermanet, Xu & Levine, "Unsupervised Perceptual Rewards for Imitation Learning" (RSS 2017),
§III-A: each demonstration is split into K contiguous steps so that the features vary as
little as possible inside a step; no labels are used. Where the paper leaves freedom we
chose (and say why):

- **Objective**: the within-segment sum of squared deviations from the segment mean, summed
  over features and segments (piecewise-constant least squares). The paper speaks of the
  average feature variance of the segments; weighting each segment's variance by its length,
  as here, keeps a short noisy segment from counting as much as a long steady one.
- **Search**: exact, by dynamic programming over split points (O(K T²) per demo) instead of
  the paper's exhaustive / greedy search over splits; it returns the optimum of the same
  objective that brute force would, at a cost that stays small for T in the hundreds.
- **Feature scale**: features are standardised per dimension over all demos first, so a
  feature with a large numeric range cannot decide the split alone.
- **Demos independently**: every demo gets its own split (demos differ in speed); step k
  of one demo is matched to step k of the others by order alone, as in the paper.
"""

from __future__ import annotations

import numpy as np


def standardize(sequences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(mean [D], std [D]) of the features over all frames of all sequences [T_i, D]."""
    stacked = np.concatenate([np.asarray(s, np.float64) for s in sequences])
    return stacked.mean(0), stacked.std(0) + 1e-8


def segment_costs(x: np.ndarray) -> np.ndarray:
    """cost[i, j] (j > i) = Σ_{t in [i, j)} ‖x_t − mean(x_i..x_{j-1})‖² for x: [T, D].

    Computed from prefix sums: cost = Σ‖x‖² − ‖Σx‖² / n.
    """
    x = np.asarray(x, np.float64)
    t = x.shape[0]
    s1 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, 0)])  # [T+1, D]
    s2 = np.concatenate([[0.0], np.cumsum(np.sum(x * x, 1))])  # [T+1]
    i, j = np.meshgrid(np.arange(t + 1), np.arange(t + 1), indexing="ij")
    n = np.maximum(j - i, 1)
    sum_vec = s1[j] - s1[i]  # [T+1, T+1, D]
    cost = (s2[j] - s2[i]) - np.sum(sum_vec * sum_vec, -1) / n
    return np.where(j > i, np.maximum(cost, 0.0), np.inf)


def segment(x: np.ndarray, num_steps: int, min_length: int = 1) -> np.ndarray:
    """Optimal split of one feature sequence into `num_steps` contiguous segments.

    Args:
      x: [T, D] features of one demonstration (already standardised).
      num_steps: K, the number of segments.
      min_length: fewest frames a segment may have.
    Returns:
      [K + 1] int boundaries b with b[0] = 0, b[K] = T; segment k is frames [b[k], b[k+1]).
    """
    x = np.asarray(x, np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be [T, D], got shape {x.shape}")
    t = x.shape[0]
    if num_steps < 1 or num_steps * min_length > t:
        raise ValueError(f"cannot split {t} frames into {num_steps} segments of at least {min_length} frames")
    cost = segment_costs(x)
    length = np.subtract.outer(np.arange(t + 1), np.arange(t + 1)).T  # length[i, j] = j - i
    cost = np.where(length >= min_length, cost, np.inf)
    # best[k, j]: least cost of splitting frames [0, j) into k segments; arg keeps the last split.
    best = np.full((num_steps + 1, t + 1), np.inf)
    arg = np.zeros((num_steps + 1, t + 1), int)
    best[0, 0] = 0.0
    for k in range(1, num_steps + 1):
        total = best[k - 1][:, None] + cost  # [i, j]: k-1 segments up to i, then [i, j)
        arg[k] = np.argmin(total, axis=0)
        best[k] = total[arg[k], np.arange(t + 1)]
    bounds = [t]
    for k in range(num_steps, 0, -1):
        bounds.append(arg[k, bounds[-1]])
    return np.asarray(bounds[::-1], int)


def segment_demos(sequences: list[np.ndarray], num_steps: int, min_length: int = 1) -> list[np.ndarray]:
    """Each sequence [T_i, D] split into `num_steps` segments after joint standardisation.

    Returns one [K + 1] boundary array per sequence (see `segment`).
    """
    mean, std = standardize(sequences)
    return [segment((np.asarray(s, np.float64) - mean) / std, num_steps, min_length) for s in sequences]


def step_labels(bounds: np.ndarray) -> np.ndarray:
    """[T] int: the step index of every frame, from [K + 1] boundaries."""
    return np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
