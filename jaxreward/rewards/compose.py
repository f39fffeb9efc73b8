"""Composition of reward terms: the agent optimises Σ_i w_i · transform_i(r_i).

Each term is a reward model plus a weight and transforms (running normalisation, then
clipping). Weights live in the reward state as an array, so reward-variant sweeps vmap
over them without recompiling. The composite is itself a `RewardModel`; every term's raw
reward is reported in `info["term/<name>"]` so runs always log each term, and its own info
in `info["term_info"][<name>]`, so that `update` hands each term back what it scored.

Term syntax (CLI `--reward`): comma-separated
`name[:weight][:norm=scale|standard][:clip=C][:transform=KIND][:stream=ext|int]`, e.g.
`regression`, `gold:1.0,regression:0.5:norm=scale:clip=5`, `preference:1:transform=par`. A
transform (`rewards/transforms.py`: par, log_sigmoid, clip, delta) wraps the term's model
before normalisation and clipping.

Streams: a learner with two value heads (PPO) sees the intrinsic terms (exploration
bonuses) as their own reward stream, the others as the extrinsic one. `stream=ext` routes
a bonus into the extrinsic stream instead — the bonus then shares the extrinsic value
head and its episodic discounting, as in E3B's reference, which adds its bonus to the
task reward; `stream=int` routes a non-intrinsic term into the intrinsic stream. The
learner has two heads only if some term is in the intrinsic stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import chex
import jax
import jax.numpy as jnp
from flax import struct

from jaxreward.nets.normalizer import Normalizer
from jaxreward.rewards.base import RewardModel, RewardSpec, Scored, TransitionBatch
from jaxreward.rewards.transforms import KINDS as TRANSFORMS
from jaxreward.rewards.transforms import TransformConfig, Transformed

NORMALIZATIONS = ("none", "scale", "standard")
STREAMS = ("auto", "ext", "int")


@dataclass(frozen=True)
class TermConfig:
    name: str
    weight: float = 1.0
    #: "none"; "scale": divide by the running root mean square (the scale of an uncentred
    #: term); "standard": subtract the running mean, divide by the running std.
    norm: str = "none"
    #: Clip the (normalised) term to [-clip, clip]; 0 disables.
    clip: float = 0.0
    #: A reward-hacking transform of `rewards.transforms` ("none": off).
    transform: str = "none"
    #: The learner's reward stream: "auto" (intrinsic terms to the intrinsic stream, the
    #: others to the extrinsic one), "ext" or "int" (see the module docstring).
    stream: str = "auto"


def parse_terms(text: str) -> tuple[TermConfig, ...]:
    """Parses the `--reward` syntax into term configs (see module docstring)."""
    terms = []
    for chunk in text.split(","):
        parts = [p.strip() for p in chunk.strip().split(":") if p.strip()]
        if not parts:
            raise ValueError(f"reward: empty term in {text!r}")
        kwargs: dict = {"name": parts[0]}
        for part in parts[1:]:
            try:
                if part.startswith("norm="):
                    kwargs["norm"] = part[5:]
                elif part.startswith("clip="):
                    kwargs["clip"] = float(part[5:])
                elif part.startswith("transform="):
                    kwargs["transform"] = part[10:]
                elif part.startswith("stream="):
                    kwargs["stream"] = part[7:]
                else:
                    kwargs["weight"] = float(part)
            except ValueError:
                raise ValueError(f"reward: cannot parse {part!r} in term {chunk!r}; expected a weight, norm=..., clip=..., transform=... or stream=...") from None
        terms.append(TermConfig(**kwargs))
    return tuple(terms)


def validate_terms(terms: tuple[TermConfig, ...], valid_names: list[str]) -> None:
    seen = set()
    for t in terms:
        if t.name not in valid_names:
            raise ValueError(f"unknown reward {t.name!r}. Valid rewards: {', '.join(valid_names)}")
        if t.name in seen:
            raise ValueError(f"reward {t.name!r} appears twice; give each term once")
        seen.add(t.name)
        if t.norm not in NORMALIZATIONS:
            raise ValueError(f"reward term {t.name!r}: norm must be one of {', '.join(NORMALIZATIONS)}, got {t.norm!r}")
        if t.clip < 0:
            raise ValueError(f"reward term {t.name!r}: clip must be >= 0, got {t.clip}")
        if t.transform not in TRANSFORMS:
            raise ValueError(f"reward term {t.name!r}: transform must be one of {', '.join(TRANSFORMS)}, got {t.transform!r}")
        if t.stream not in STREAMS:
            raise ValueError(f"reward term {t.name!r}: stream must be one of {', '.join(STREAMS)}, got {t.stream!r}")


@struct.dataclass
class CompositeState:
    terms: tuple  # each term model's state
    stats: tuple  # Normalizer(dim=1) per term: running statistics of its raw reward
    weights: jax.Array  # [n_terms], vmappable


class Composite(RewardModel):
    name = "composite"

    def __init__(self, spec: RewardSpec, terms: tuple[TermConfig, ...], models: tuple[RewardModel, ...]):
        super().__init__(spec)
        self.terms = terms
        models = tuple(m if t.transform == "none" else Transformed(m, TransformConfig(kind=t.transform)) for t, m in zip(terms, models))
        self.models = models
        self.learned = any(m.learned for m in models)
        #: Some term keeps per-env exploration state (episodic memories: on-policy rollouts only).
        self.intrinsic = any(m.intrinsic for m in models)
        #: Per term: does it reach the learner in the intrinsic stream?
        self.in_intrinsic_stream = tuple(m.intrinsic if t.stream == "auto" else t.stream == "int" for t, m in zip(terms, models))
        #: The learner needs two value heads.
        self.two_streams = any(self.in_intrinsic_stream)
        self.warmup_steps = max((m.warmup_steps for m in models), default=0)
        specs = {m.frames for m in models if m.frames is not None}
        if len(specs) > 1:
            raise ValueError(f"reward terms ask for different frames {sorted(map(str, specs))}; pixel terms must share one FrameSpec")
        self.frames = specs.pop() if specs else None

    def init(self, rng) -> CompositeState:
        keys = jax.random.split(rng, len(self.models))
        return CompositeState(
            terms=tuple(m.init(k) for m, k in zip(self.models, keys)),
            stats=tuple(Normalizer.create(1) for _ in self.models),
            weights=jnp.asarray([t.weight for t in self.terms], jnp.float32),
        )

    def _transform(self, term: TermConfig, stat: Normalizer, r):
        if term.norm == "scale":
            # RMS, not std: a term that is (nearly) constant, such as an episodic count on a
            # task where every state is new each episode, has std ~0, and dividing by it
            # multiplied the term by up to 1e4.
            r = r / jnp.sqrt(stat.var[0] + stat.mean[0] ** 2 + 1e-8)
        elif term.norm == "standard":
            r = (r - stat.mean[0]) / jnp.sqrt(stat.var[0] + 1e-8)
        if term.clip > 0:
            r = jnp.clip(r, -term.clip, term.clip)
        return r

    def reward(self, state: CompositeState, batch: TransitionBatch):
        extrinsic, intrinsic, info = self.split_reward(state, batch)
        # Without intrinsic terms `intrinsic` is exactly zero, so the total is bitwise the
        # plain weighted sum.
        return extrinsic + intrinsic, info

    def split_reward(self, state: CompositeState, batch: TransitionBatch):
        """The composed reward as two streams for learners with an intrinsic value head.

        Returns (extrinsic [T, B], intrinsic [T, B], info): the weighted, transformed sums of
        the terms of each stream (their sum is `reward`'s total); `info["term/<name>"]` is each
        term's raw reward [T, B], `info["term_info"][name]` the term's own info.
        """
        extrinsic = jnp.zeros_like(batch.gold_reward)
        intrinsic = jnp.zeros_like(batch.gold_reward)
        info = {"term_info": {}}
        for i, (term, model) in enumerate(zip(self.terms, self.models)):
            raw, term_info = model.reward(state.terms[i], batch)
            chex.assert_equal_shape([raw, batch.gold_reward])
            info[f"term/{term.name}"] = raw
            info["term_info"][term.name] = term_info
            weighted = state.weights[i] * self._transform(term, state.stats[i], raw)
            if self.in_intrinsic_stream[i]:
                intrinsic = intrinsic + weighted
            else:
                extrinsic = extrinsic + weighted
        return extrinsic, intrinsic, info

    def changed(self, old: CompositeState, new: CompositeState) -> jax.Array:
        out = jnp.asarray(False)
        for i, (term, model) in enumerate(zip(self.terms, self.models)):
            # A normalised term moves with its running statistics at every update.
            out = out | (term.norm != "none") | model.changed(old.terms[i], new.terms[i])
        return out

    def observe(self, state: CompositeState, batch: TransitionBatch) -> CompositeState:
        terms = tuple(m.observe(s, batch) for m, s in zip(self.models, state.terms))
        return state.replace(terms=terms)

    def update(self, state: CompositeState, batch: TransitionBatch, scored: Scored, rng):
        keys = jax.random.split(rng, len(self.models))
        new_terms, new_stats, metrics = [], [], {}
        for i, (term, model) in enumerate(zip(self.terms, self.models)):
            raw = scored.info[f"term/{term.name}"]
            stat = state.stats[i]
            if term.norm != "none":
                stat = stat.update(raw.reshape(-1, 1))
            new_state, m = model.update(state.terms[i], batch, Scored(raw, scored.info["term_info"][term.name]), keys[i])
            new_terms.append(new_state)
            new_stats.append(stat)
            metrics.update({f"reward_model/{term.name}/{k}": v for k, v in m.items()})
        return state.replace(terms=tuple(new_terms), stats=tuple(new_stats)), metrics
