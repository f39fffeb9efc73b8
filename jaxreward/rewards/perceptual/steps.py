"""Per-step feature selection, per-step classifiers and the combined perceptual reward.

Sermanet, Xu & Levine, "Unsupervised Perceptual Rewards for Imitation Learning" (RSS 2017),
§III-B/C. After the demos are split into K steps (`segmentation.py`), every step gets a
small classifier on a few features chosen for telling that step apart from the rest, and
the classifiers' outputs are summed into one dense reward that weighs later steps more.
Our choices where the paper leaves freedom:

- **Selection score** of feature d for step k: |μ⁺ − μ⁻| / (σ⁺ + σ⁻), with (μ⁺, σ⁺) over the
  frames of step k in all demos and (μ⁻, σ⁻) over all other frames. Features whose step
  mean stands apart from the rest by many standard deviations are kept — the top
  `num_features` per step. Computed on standardised features, so it is scale free.
- **Classifier** of step k: Gaussians per selected feature for the step (positive) and for
  the other frames (negative), a naive-Bayes log-likelihood ratio summed over the selected
  features, through a sigmoid: p_k(x) ∈ (0, 1), the probability that x shows step k under
  equal priors. Variances are floored (0.1 std) so one very steady feature cannot decide
  alone. (We tried the mean instead of the sum, to temper the independence assumption: on
  planted steps it left p_k too flat to order the steps.)
- **Combination**: r(x) = Σ_{k≥1} 2^(k−1) p_k(x) / Σ_{k≥1} 2^(k−1), in [0, 1]. Later steps
  weigh more, geometrically (each step about as much as all earlier ones together; our
  reading of the paper's weighting, written from memory of the text, not from its code,
  which is not public), and step 0 — the demos' starting segment, nothing achieved yet —
  is left out. The normalisation only fixes the scale.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxreward.rewards.perceptual.segmentation import segment_demos, standardize, step_labels

_VAR_FLOOR = 1e-2  # in standardised units: no feature is trusted to be sharper than 0.1 std


@struct.dataclass
class StepClassifiers:
    """The fitted perceptual reward: arrays only, so it is a pytree the compiled step can carry.

    K steps, M selected features each, D features in all.
    """

    mean: jax.Array  # [D] standardisation
    std: jax.Array  # [D]
    selected: jax.Array  # [K, M] int feature indices per step
    pos_mean: jax.Array  # [K, M]
    pos_std: jax.Array  # [K, M]
    neg_mean: jax.Array  # [K, M]
    neg_std: jax.Array  # [K, M]
    weights: jax.Array  # [K] weight of each step in the combined reward (sums to 1)


def selection_scores(x: np.ndarray, labels: np.ndarray, num_steps: int) -> np.ndarray:
    """[K, D] score |μ⁺ − μ⁻| / (σ⁺ + σ⁻) of every feature for every step.

    x: [N, D] standardised features of all frames; labels: [N] step of each frame.
    """
    scores = []
    for k in range(num_steps):
        pos, neg = x[labels == k], x[labels != k]
        if len(pos) == 0 or len(neg) == 0:
            raise ValueError(f"step {k} has {len(pos)} frames and the others {len(neg)}; both need some")
        scores.append(np.abs(pos.mean(0) - neg.mean(0)) / (pos.std(0) + neg.std(0) + 1e-8))
    return np.stack(scores)


def select_features(scores: np.ndarray, num_features: int) -> np.ndarray:
    """[K, M] indices of the `num_features` best-scoring features of each step, best first."""
    if not 1 <= num_features <= scores.shape[1]:
        raise ValueError(f"num_features must be in [1, {scores.shape[1]}] (the feature size), got {num_features}")
    return np.argsort(-scores, axis=1, kind="stable")[:, :num_features]


def fit(sequences: list[np.ndarray], num_steps: int, num_features: int, min_length: int = 1
        ) -> tuple[StepClassifiers, list[np.ndarray]]:
    """Segments the demos' feature sequences and fits the step classifiers.

    Args:
      sequences: one [T_i, D] feature sequence per demonstration (start to success).
      num_steps: K steps; num_features: M features selected per step.
      min_length: fewest frames per step in the segmentation.
    Returns:
      (classifiers, boundaries): the fitted reward and each demo's [K + 1] step boundaries.
    """
    if num_steps < 2:
        raise ValueError(f"num_steps must be at least 2 (step 0 is the start, which earns nothing), got {num_steps}")
    bounds = segment_demos(sequences, num_steps, min_length)
    mean, std = standardize(sequences)
    x = np.concatenate([(np.asarray(s, np.float64) - mean) / std for s in sequences])
    labels = np.concatenate([step_labels(b) for b in bounds])
    selected = select_features(selection_scores(x, labels, num_steps), num_features)
    stats = {name: [] for name in ("pos_mean", "pos_std", "neg_mean", "neg_std")}
    for k in range(num_steps):
        pos, neg = x[labels == k][:, selected[k]], x[labels != k][:, selected[k]]
        stats["pos_mean"].append(pos.mean(0))
        stats["neg_mean"].append(neg.mean(0))
        stats["pos_std"].append(np.sqrt(pos.var(0) + _VAR_FLOOR))
        stats["neg_std"].append(np.sqrt(neg.var(0) + _VAR_FLOOR))
    weights = np.concatenate([[0.0], 2.0 ** np.arange(num_steps - 1)])
    as_jax = lambda a: jnp.asarray(np.asarray(a), jnp.float32)
    classifiers = StepClassifiers(
        mean=as_jax(mean), std=as_jax(std), selected=jnp.asarray(selected, jnp.int32),
        **{k: as_jax(v) for k, v in stats.items()}, weights=as_jax(weights / weights.sum()),
    )
    return classifiers, bounds


def _log_normal(x, mean, std):
    return -0.5 * ((x - mean) / std) ** 2 - jnp.log(std)


def step_probabilities(c: StepClassifiers, features: jax.Array) -> jax.Array:
    """[..., K] p_k: each step classifier's probability for features [..., D]."""
    z = (features - c.mean) / c.std
    picked = z[..., c.selected]  # [..., K, M]
    llr = _log_normal(picked, c.pos_mean, c.pos_std) - _log_normal(picked, c.neg_mean, c.neg_std)
    return jax.nn.sigmoid(jnp.sum(llr, axis=-1))


def perceptual_reward(c: StepClassifiers, features: jax.Array) -> jax.Array:
    """[...] the combined reward Σ_k w_k p_k in [0, 1] for features [..., D]."""
    return step_probabilities(c, features) @ c.weights
