"""Perceptual rewards from demonstrations (Sermanet, Xu & Levine, RSS 2017) and
embedding-distance baselines, over frames encoded by a frozen encoder (a time-contrastive
network trained here, `tcn.py`, or a CLIP image tower from a local checkpoint).

- `segmentation.py`: unsupervised split of each demo's feature sequence into K steps.
- `steps.py`: per-step feature selection, per-step classifiers, the combined reward.
- `tcn.py`: the time-contrastive encoder (Sermanet et al., ICRA 2018).
- `frame_encoder.py`: the frozen `Encoder` interface, and CLIP's image tower as one.
- `models.py`: the reward models under the reward contract, and how they are fitted from a
  demonstrations file (`jaxreward demos`).
"""
