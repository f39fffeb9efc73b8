"""`global_x_episodic` and `global_plus_episodic`: a global novelty bonus combined with an
episodic one, as studied by Henaff, Jiang, Raileanu, "A Study of Global and Episodic Bonuses
for Exploration in Contextual MDPs" (ICML 2023).

A global bonus (RND: novelty against everything seen during training) helps when much is
shared across episodes; an episodic one (E3B, counts, kNN: novelty within the episode)
when little is. The paper finds their product robust in both regimes:

    product:  b = b_global · b_episodic
    sum:      b = b_global + b_episodic

`global` is the `rnd` model (already divided by the running std of its discounted return,
so it is of order one) and `episodic` one of `e3b`, `count`, `knn` (config
`global_episodic.episodic`); each keeps its own state and learns in `update` as it would
alone, with its own config section.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
from flax import struct

from jaxreward.rewards.base import RewardModel, RewardSpec, Scored, TransitionBatch

EPISODIC = ("e3b", "count", "knn")
MODES = ("product", "sum")


@dataclass(frozen=True)
class GlobalEpisodicConfig:
    #: The episodic half: e3b | count | knn.
    episodic: str = "e3b"

    def validate(self) -> None:
        if self.episodic not in EPISODIC:
            raise ValueError(f"global_episodic.episodic must be one of {', '.join(EPISODIC)}, got {self.episodic!r}")


@struct.dataclass
class GlobalEpisodicState:
    global_state: object
    episodic_state: object


class GlobalEpisodic(RewardModel):
    learned = True
    intrinsic = True

    def __init__(self, spec: RewardSpec, global_model: RewardModel, episodic_model: RewardModel, mode: str):
        if mode not in MODES:
            raise ValueError(f"global/episodic combination must be one of {', '.join(MODES)}, got {mode!r}")
        super().__init__(spec)
        self.global_model = global_model
        self.episodic_model = episodic_model
        self.mode = mode
        self.name = f"global_{'x' if mode == 'product' else 'plus'}_episodic"
        self.warmup_steps = max(global_model.warmup_steps, episodic_model.warmup_steps)

    def init(self, rng) -> GlobalEpisodicState:
        k_g, k_e = jax.random.split(rng)
        return GlobalEpisodicState(self.global_model.init(k_g), self.episodic_model.init(k_e))

    def reward(self, state: GlobalEpisodicState, batch: TransitionBatch):
        """The combined bonus [T, B]; info["global"] and info["episodic"] are the halves'
        bonuses [T, B], info["global_info"] and info["episodic_info"] their own infos, handed
        back to each half by `update`."""
        g, g_info = self.global_model.reward(state.global_state, batch)
        e, e_info = self.episodic_model.reward(state.episodic_state, batch)
        combined = g * e if self.mode == "product" else g + e
        return combined, {"global": g, "episodic": e, "global_info": g_info, "episodic_info": e_info}

    def observe(self, state: GlobalEpisodicState, batch: TransitionBatch) -> GlobalEpisodicState:
        return GlobalEpisodicState(
            self.global_model.observe(state.global_state, batch), self.episodic_model.observe(state.episodic_state, batch)
        )

    def update(self, state: GlobalEpisodicState, batch: TransitionBatch, scored: Scored, rng):
        k_g, k_e = jax.random.split(rng)
        info = scored.info
        g_state, g_metrics = self.global_model.update(state.global_state, batch, Scored(info["global"], info["global_info"]), k_g)
        e_state, e_metrics = self.episodic_model.update(state.episodic_state, batch, Scored(info["episodic"], info["episodic_info"]), k_e)
        metrics = {f"global/{k}": v for k, v in g_metrics.items()} | {f"episodic/{k}": v for k, v in e_metrics.items()}
        return GlobalEpisodicState(g_state, e_state), metrics
