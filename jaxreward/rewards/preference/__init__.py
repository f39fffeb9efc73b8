"""Preference-based reward learning (Christiano et al. 2017; PEBBLE and B-Pref, Lee et al. 2021).

- `segments`: the window of recent steps segments are drawn from, and the labelled-pair buffer.
- `teachers`: the B-Pref scripted teachers, the regret teacher, a mixture of users (each a
  weighting of the env's reward terms).
- `model`: the reward ensemble and the Bradley–Terry loss.
- `queries`: the feedback schedule and query selection.
- `labels_file`: preferences written by a person (segments file + JSON-lines labels file).
- `entropy`: PEBBLE's kNN state-entropy bonus for unsupervised pre-training.
- `reward`: the registered `preference` reward model that runs the loop in the training step.
"""

from jaxreward.rewards.preference.reward import PreferenceConfig, PreferenceReward, PreferenceState

__all__ = ["PreferenceConfig", "PreferenceReward", "PreferenceState"]
