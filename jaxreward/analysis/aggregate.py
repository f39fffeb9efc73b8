"""Aggregate scores over runs: interquartile mean with stratified bootstrap intervals.

Follows "Deep Reinforcement Learning at the Edge of the Statistical Precipice" (Agarwal
et al., NeurIPS 2021, the `rliable` package): the interquartile mean (IQM) is the mean of
the middle 50% of all run × task scores, and its confidence interval is the percentile
interval of a *stratified* bootstrap — runs are resampled with replacement separately
within each task, so every resample keeps the task mix. Tests compare with `rliable`
where it is installed and with SciPy's trimmed mean always.
"""

from __future__ import annotations

import numpy as np


def iqm(scores) -> float:
    """Interquartile mean of all entries of `scores` (any shape; NaNs are not allowed)."""
    return float(_trimmed_means(np.asarray(scores, np.float64).reshape(1, -1))[0])


def _trimmed_means(x: np.ndarray) -> np.ndarray:
    """Mean of the middle 50% of each row of x [R, N] (SciPy's `trim_mean(x, 0.25)`:
    int(0.25 N) entries cut at each end)."""
    n = x.shape[1]
    cut = int(0.25 * n)
    return np.sort(x, axis=1)[:, cut : n - cut].mean(axis=1)


def stratified_bootstrap_ci(
    scores,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    statistic: str = "iqm",
) -> tuple[float, float]:
    """Percentile interval of `statistic` ("iqm" or "mean") under a stratified bootstrap.

    scores: [num_runs, num_tasks] (a 1-D array is one task). Returns (low, high).
    """
    x = np.asarray(scores, np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"scores must be [num_runs, num_tasks] with at least one run, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("scores contain NaN or inf; drop unfinished runs before aggregating")
    runs, tasks = x.shape
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, runs, size=(reps, runs, tasks))
    resampled = x[idx, np.arange(tasks)[None, None, :]].reshape(reps, runs * tasks)
    stats = _trimmed_means(resampled) if statistic == "iqm" else resampled.mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(low), float(high)


def summarize_scores(scores, reps: int = 2000, confidence: float = 0.95, seed: int = 0) -> dict:
    """IQM, mean, and their stratified bootstrap intervals, plus the number of runs."""
    x = np.asarray(scores, np.float64)
    x2 = x[:, None] if x.ndim == 1 else x
    iqm_lo, iqm_hi = stratified_bootstrap_ci(x2, reps, confidence, seed, "iqm")
    mean_lo, mean_hi = stratified_bootstrap_ci(x2, reps, confidence, seed, "mean")
    return {
        "iqm": iqm(x2), "iqm_low": iqm_lo, "iqm_high": iqm_hi,
        "mean": float(x2.mean()), "mean_low": mean_lo, "mean_high": mean_hi,
        "num_runs": int(x2.shape[0]),
    }
