"""`preference`: a reward learned from comparisons of segments, inside the training step.

The loop of Christiano et al. (2017) and PEBBLE (Lee et al., ICML 2021), all of it in the
compiled step: every `update` pushes the rollout into the segment window; at a feedback
session (every `feedback_every` updates) it draws candidate pairs of segments that lie
within one episode (`segments.py`), selects the queries (uniform / disagreement / entropy),
has the synthetic teacher label them (or, on the human path, uses the pairs of a labels
file), stores them in the bounded pair buffer and fits the Bradley–Terry ensemble with a
few gradient steps. `reward` scores transitions with the aggregated ensemble. With SAC,
`relabel=all` (the trainer's "auto" for learned rewards is per-batch scoring, which gives
the same rewards) re-scores the replay buffer with the updated model: PEBBLE's relabelling.

Reward output normalisation is the composite's term transform, not a second copy here:
`--reward preference:1:norm=standard` (running mean and std of the learned reward), or
`norm=scale`; a tanh output (`output_activation`, PEBBLE's choice) bounds each member.

Optional PEBBLE unsupervised pre-training: for the first `pretrain_iterations` updates
no queries are asked and `reward` is the kNN state-entropy bonus (`entropy.py`) of each
observation against the window, divided by the running std of the bonuses given so far.
The bonus is computed only while pre-training: `reward` and `update` branch on
"no feedback session yet" with `lax.cond`, the predicate reduced over the trainer's runs
axis (`any_run`) so that under its `vmap` the branch stays a branch (a batched predicate
would turn it into a select that computes the bonus in every iteration). `update` fits the
std on the bonus of the window *before* its push, the values `reward` gave the agent.

Mixture of users (`teacher_users`, `teacher_user_probs`): instead of one teacher scoring
the gold reward, each query goes to one user drawn with the given probabilities, and user
u scores segments by a weighting of the env's reward terms (`metrics["reward/<term>"]`,
e.g. "forward=1,control=1; forward=-1,control=1": one user wants to go forward, the other
backward). The segment window then also keeps those terms' per-step rewards, and the
users' weights and probabilities are state leaves (vmappable). Term names are checked
against the env's (`RewardSpec.env_reward_terms`) when the model is built. Without users
the state holds no extra arrays and the compiled step is the single-teacher one.

Logged always (as reward_model/preference/<name>): the Bradley–Terry loss and accuracy
on the stored pairs, the accuracy on fresh held-out pairs against the gold reward's
ranking (measured every FEEDBACK_ENV_STEPS env steps, rounded to whole updates, and
carried in between: 2·heldout_pairs segments of H steps each iteration are more rows for
the ensemble than the rollout itself),
queries asked, pairs stored, and `segments_across_episodes`: asked segments that contain an
episode end before their last step (0 unless episodes are too short for within-episode
segments, see `segments.py`); with users also `accuracy_heldout_user<u>`, the held-out
accuracy against user u's ranking.

Deviations from PEBBLE, for a fixed-shape compiled step: the ensemble trains a fixed
number of gradient steps per session (PEBBLE trains epochs until 97% training accuracy);
each member draws its own minibatches (PEBBLE: its own permutation).

Defaults and the published schedules they follow (B-Pref, Lee et al. 2021, repository
rll-research/BPref): PEBBLE's `config/train_PEBBLE.yaml` asks for feedback every
`num_interact` = 5000 env steps, `reward_batch` = 128 queries at a time, segments of 50
steps, 3 members, reward lr 3e-4, minibatches of 128 pairs, and trains the reward for up to
`reward_update` = 200 epochs per session; its DeepMind Control scripts (walker_walk,
quadruped_walk, budgets 500 to 2000) use feedback every 20000 / 30000 env steps with 100
queries and 50 epochs per session, its Meta-World scripts every 5000 steps with 50 queries
and 10 epochs; PrefPPO (`train_PrefPPO.py`) defaults to feedback every 16000 env steps and
128 queries. Here `feedback_every` = 0 holds a session every `FEEDBACK_ENV_STEPS` = 5000 env
steps (rounded up to whole iterations: 3 iterations of 64 envs × 32 steps), 100 queries a
session (10 sessions for the default budget of 1000, the first of them the 10% asked up
front), and `grad_steps` Adam steps per session instead of epochs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxreward.nets.mlp import ACTIVATIONS
from jaxreward.nets.normalizer import Normalizer
from jaxreward.rewards.base import RewardModel, RewardSpec, TransitionBatch
from jaxreward.rewards.preference import queries, teachers
from jaxreward.rewards.preference.entropy import knn_distance
from jaxreward.rewards.preference.model import AGGREGATIONS, OUTPUT_ACTIVATIONS, RewardEnsemble, aggregate, bradley_terry_loss
from jaxreward.rewards.preference.segments import PairBuffer, Segments, SegmentWindow
from jaxreward.runs import any_run

#: Most memory entries the entropy bonus compares against (the cost is batch × memory).
ENTROPY_MEMORY = 1024
#: Env steps between feedback sessions when `feedback_every` = 0 (PEBBLE's `num_interact`).
FEEDBACK_ENV_STEPS = 5000
#: Default window, in segment lengths: 4H steps give each env 3H + 1 start positions, so the
#: candidates of a session (up to 2 · oversample · queries of them) rarely repeat and two
#: segments of one env can be disjoint. Memory: L × num_envs × input_size floats.
WINDOW_SEGMENTS = 4
@dataclass(frozen=True)
class PreferenceConfig:
    """Settings of the `preference` reward. Defaults follow PEBBLE where the CPU allows."""

    # -- segments and queries
    segment_length: int = 50
    #: Steps of each env kept to draw segments from, >= 2 * segment_length (two disjoint
    #: segments); 0: max(4 * segment_length, unroll_length) (see WINDOW_SEGMENTS).
    window_length: int = 0
    #: Total queries over the run (skipped ones count, as in B-Pref).
    budget: int = 1000
    #: Fraction of the budget asked at the first feedback session.
    initial_fraction: float = 0.1
    #: B-Pref's DeepMind Control scripts: 100 (`reward_batch`).
    queries_per_session: int = 100
    schedule: str = "constant"
    decay_rate: float = 1.0
    #: Training iterations between feedback sessions; 0: every FEEDBACK_ENV_STEPS = 5000 env
    #: steps (PEBBLE's `num_interact`), rounded up to whole iterations of num_envs × unroll_length.
    feedback_every: int = 0
    selection: str = "uniform"
    oversample: int = 10
    #: Pair-buffer capacity; 0: the budget (or the labels file's size).
    pair_capacity: int = 0
    # -- synthetic teacher: a B-Pref preset, each parameter optionally overridden
    teacher: str = "oracle"
    teacher_beta: float | None = None
    teacher_gamma: float | None = None
    teacher_eps_mistake: float | None = None
    teacher_eps_skip: float | None = None
    teacher_eps_equal: float | None = None
    #: Mixture of users, each a weighting of the env's reward terms, users separated by
    #: ";": "forward=1,control=1; forward=-1,control=1". Empty: one teacher on the gold reward.
    teacher_users: str = ""
    #: Probability that a query goes to each user (one per user, summing to 1); (): uniform.
    teacher_user_probs: tuple[float, ...] = ()
    # -- reward model
    use_action: bool = True
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    output_activation: str = "tanh"
    ensemble_size: int = 3
    learning_rate: float = 3e-4
    batch_size: int = 128
    #: Gradient steps of every member per feedback session.
    grad_steps: int = 32
    aggregation: str = "mean"
    #: k of mean − k·std (vmappable).
    pessimism: float = 1.0
    #: Fresh pairs scored against the gold ranking at each update (accuracy_heldout).
    heldout_pairs: int = 64
    # -- PEBBLE unsupervised pre-training (0: off)
    pretrain_iterations: int = 0
    entropy_k: int = 5
    # -- human labels (both set: no synthetic teacher; see labels_file.py)
    labels_file: str = ""
    segments_file: str = ""

    def validate(self) -> None:
        p = "preference."
        for name in ("segment_length", "budget", "queries_per_session", "oversample", "ensemble_size",
                     "learning_rate", "batch_size", "grad_steps", "heldout_pairs", "entropy_k"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{p}{name} must be positive, got {getattr(self, name)}")
        for name in ("window_length", "feedback_every", "pair_capacity", "pretrain_iterations", "decay_rate"):
            if getattr(self, name) < 0:
                raise ValueError(f"{p}{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.initial_fraction <= 1.0:
            raise ValueError(f"{p}initial_fraction must be in [0, 1], got {self.initial_fraction}")
        choices = {"schedule": queries.SCHEDULES, "selection": queries.SELECTIONS, "teacher": tuple(teachers.PRESETS),
                   "aggregation": AGGREGATIONS, "output_activation": OUTPUT_ACTIVATIONS, "activation": tuple(ACTIVATIONS)}
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise ValueError(f"{p}{name} must be one of {', '.join(valid)}, got {getattr(self, name)!r}")
        if self.window_length and self.window_length < 2 * self.segment_length:
            raise ValueError(f"{p}window_length ({self.window_length}) must hold two disjoint segments: >= 2 * "
                             f"{p}segment_length = {2 * self.segment_length} (or 0 for the default, "
                             f"max({WINDOW_SEGMENTS} * segment_length, unroll_length))")
        if self.pair_capacity and self.pair_capacity < self.session_capacity:
            raise ValueError(f"{p}pair_capacity ({self.pair_capacity}) must hold one feedback session ({self.session_capacity} queries)")
        if bool(self.labels_file) != bool(self.segments_file):
            raise ValueError(f"{p}labels_file and {p}segments_file go together (the labels name segments of the segments file)")
        self._validate_users()

    def _validate_users(self) -> None:
        p = "preference."
        if not self.teacher_users:
            if self.teacher_user_probs:
                raise ValueError(f"{p}teacher_user_probs needs {p}teacher_users (the users the probabilities are over)")
            return
        if self.labels_file:
            raise ValueError(f"{p}teacher_users is a synthetic teacher; it cannot be combined with {p}labels_file")
        users = teachers.parse_users(self.teacher_users, f"{p}teacher_users")
        probs = self.teacher_user_probs
        if not probs:
            return
        if len(probs) != len(users):
            raise ValueError(f"{p}teacher_user_probs has {len(probs)} probabilities for {len(users)} users in {p}teacher_users")
        if not all(math.isfinite(q) and q >= 0 for q in probs):
            raise ValueError(f"{p}teacher_user_probs must be non-negative, got {probs}")
        if abs(sum(probs) - 1.0) > 1e-6:
            raise ValueError(f"{p}teacher_user_probs must sum to 1, got {probs} (sum {sum(probs)})")

    @property
    def session_capacity(self) -> int:
        return queries.session_capacity(self.budget, self.initial_fraction, self.queries_per_session)

    def teacher_params(self) -> teachers.TeacherParams:
        base = dict(teachers.PRESETS[self.teacher])
        for field in ("beta", "gamma", "eps_mistake", "eps_skip", "eps_equal"):
            value = getattr(self, f"teacher_{field}")
            if value is not None:
                base[field] = value
        return teachers.TeacherParams.create(**base)

    def user_probs(self) -> tuple[float, ...]:
        """Each user's probability of being asked (uniform unless `teacher_user_probs`)."""
        num_users = len(teachers.parse_users(self.teacher_users)) if self.teacher_users else 0
        return tuple(self.teacher_user_probs) or (1.0 / num_users,) * num_users


@struct.dataclass
class PreferenceState:
    params: dict  # ensemble parameters, leading axis K
    opt_state: optax.OptState
    window: SegmentWindow
    pairs: PairBuffer
    teacher: teachers.TeacherParams  # vmappable
    pessimism: jax.Array  # [] vmappable
    budget: jax.Array  # [] int32 total queries, vmappable up to the config's budget (which sizes the arrays)
    gold_step_mean: jax.Array  # [] running mean gold reward per step (scales teacher thresholds)
    gold_steps: jax.Array  # [] steps averaged
    entropy_stats: Normalizer  # running statistics of the entropy bonus
    queries_asked: jax.Array  # [] int32
    sessions: jax.Array  # [] int32 feedback sessions held
    updates: jax.Array  # [] int32 calls of `update`
    last_loss: jax.Array  # [] carried between sessions so every log row has a value
    last_accuracy: jax.Array  # []
    #: held-out accuracies ([] each, keys as in `heldout_accuracy`), measured every
    #: `heldout_every` updates and carried between
    last_heldout: dict
    segments_across_episodes: jax.Array  # [] int32 asked segments containing an episode end before their last step
    users: teachers.Users | None = None  # mixture-of-users teacher (vmappable), None: gold teacher
    term_step_mean: jax.Array | None = None  # [M] running mean reward per step of the users' terms


class PreferenceReward(RewardModel):
    name = "preference"
    learned = True

    def __init__(self, spec: RewardSpec, cfg: PreferenceConfig = PreferenceConfig()):
        super().__init__(spec)
        cfg.validate()
        self.cfg = cfg
        self.input_size = spec.observation_size + (spec.action_size if cfg.use_action else 0)
        self.window_length = cfg.window_length or max(WINDOW_SEGMENTS * cfg.segment_length, spec.unroll_length)
        # Updates per FEEDBACK_ENV_STEPS env steps: the default feedback interval, and how often
        # the held-out accuracy is measured whatever the feedback interval.
        self.heldout_every = max(1, math.ceil(FEEDBACK_ENV_STEPS / (spec.num_envs * spec.unroll_length)))
        self.feedback_every = cfg.feedback_every or self.heldout_every
        self.ensemble = RewardEnsemble(self.input_size, cfg.hidden, cfg.activation, cfg.ensemble_size, cfg.output_activation)
        self.optimizer = optax.inject_hyperparams(optax.adam)(learning_rate=cfg.learning_rate)
        self.file_pairs = None
        if cfg.labels_file:
            from jaxreward.rewards.preference.labels_file import load_pairs

            self.file_pairs = load_pairs(cfg.labels_file, cfg.segments_file, cfg.segment_length, spec.observation_size,
                                         spec.action_size, spec.discrete, cfg.use_action)
        n_file = 0 if self.file_pairs is None else len(self.file_pairs[2])
        self.pair_capacity = max(cfg.pair_capacity or cfg.budget, n_file, cfg.session_capacity)
        # Mixture of users: the env reward terms some user weighs (the window's M columns).
        self.user_terms: tuple[str, ...] = ()
        self.user_weights = None
        if cfg.teacher_users:
            users = teachers.parse_users(cfg.teacher_users, "preference.teacher_users")
            env_terms = spec.env_reward_terms()
            self.user_terms = tuple(t for t in env_terms if any(t in u for u in users))
            self.user_weights = teachers.user_weights(users, self.user_terms, env_terms, "preference.teacher_users")

    # ---- inputs -------------------------------------------------------------------
    def inputs(self, batch: TransitionBatch) -> jax.Array:
        """[T, B, input_size]: obs, and the action (one-hot if discrete) when `use_action`."""
        if not self.cfg.use_action:
            return batch.obs
        action = batch.action
        if self.spec.discrete:
            action = jax.nn.one_hot(action, self.spec.action_size)
        return jnp.concatenate([batch.obs, action.astype(batch.obs.dtype)], axis=-1)

    def term_rewards(self, batch: TransitionBatch) -> jax.Array:
        """[T, B, M] per-step rewards of the users' terms, from the env's `reward/<term>` metrics."""
        missing = [t for t in self.user_terms if f"reward/{t}" not in batch.metrics]
        if missing:
            raise ValueError(f"preference.teacher_users: the batch lacks metrics {', '.join('reward/' + t for t in missing)}; "
                             f"it has {', '.join(sorted(batch.metrics)) or 'none'}")
        return jnp.stack([batch.metrics[f"reward/{t}"] for t in self.user_terms], axis=-1).astype(jnp.float32)

    # ---- contract -----------------------------------------------------------------
    def init(self, rng: jax.Array) -> PreferenceState:
        cfg = self.cfg
        params = self.ensemble.init(rng)
        pairs = PairBuffer.create(self.pair_capacity, cfg.segment_length, self.input_size)
        if self.file_pairs is not None:
            pairs = pairs.insert(*(jnp.asarray(a) for a in self.file_pairs))
        zero = jnp.zeros(())
        users = term_step_mean = None
        if self.user_weights is not None:
            users = teachers.Users(self.user_weights, jnp.asarray(cfg.user_probs(), jnp.float32))
            term_step_mean = jnp.zeros((len(self.user_terms),))
        return PreferenceState(
            params=params, opt_state=self.optimizer.init(params),
            window=SegmentWindow.create(self.window_length, self.spec.num_envs, self.input_size, len(self.user_terms)),
            pairs=pairs, teacher=cfg.teacher_params(), pessimism=jnp.asarray(cfg.pessimism, jnp.float32),
            budget=jnp.asarray(cfg.budget, jnp.int32),
            gold_step_mean=zero, gold_steps=zero, entropy_stats=Normalizer.create(1),
            queries_asked=jnp.zeros((), jnp.int32), sessions=jnp.zeros((), jnp.int32), updates=jnp.zeros((), jnp.int32),
            last_loss=jnp.asarray(jnp.log(2.0)), last_accuracy=jnp.asarray(0.5),
            last_heldout={k: jnp.asarray(0.5) for k in self.heldout_names()},
            segments_across_episodes=jnp.zeros((), jnp.int32), users=users, term_step_mean=term_step_mean,
        )

    def predict(self, state: PreferenceState, x: jax.Array) -> jax.Array:
        """x: [..., input_size] -> [...] the aggregated learned reward."""
        return aggregate(self.ensemble.member_rewards(state.params, x), self.cfg.aggregation, state.pessimism)

    def reward(self, state: PreferenceState, batch: TransitionBatch):
        r = self.predict(state, self.inputs(batch))
        if self.cfg.pretrain_iterations == 0:
            return r, {}
        pretraining = self.pretraining(state)

        def bonus_where_pretraining(r):
            bonus = self._entropy_bonus(state.window, batch.obs)
            return jnp.where(pretraining, bonus / jnp.sqrt(state.entropy_stats.var[0] + 1e-8), r), bonus

        # info["entropy_bonus"]: the raw bonus (zeros after pre-training), which `update`
        # fits the bonus's normaliser on.
        r, bonus = jax.lax.cond(any_run(pretraining), bonus_where_pretraining, lambda r: (r, jnp.zeros_like(r)), r)
        return r, {"entropy_bonus": bonus}

    def pretraining(self, state: PreferenceState) -> jax.Array:
        """[] bool: PEBBLE's unsupervised phase, before the first feedback session."""
        return (self.cfg.pretrain_iterations > 0) & (state.sessions == 0)

    def update(self, state: PreferenceState, batch: TransitionBatch, scored, rng: jax.Array):
        cfg = self.cfg
        k_session, k_eval = jax.random.split(rng)
        terms = self.term_rewards(batch) if self.user_terms else None
        if cfg.pretrain_iterations > 0:
            # The bonuses `reward` gave the agent (against the window before the push).
            stats, bonus = state.entropy_stats, scored.info["entropy_bonus"]
            fitted = stats.update(bonus.reshape(-1, 1))
            state = state.replace(entropy_stats=jax.tree.map(lambda a, b: jnp.where(self.pretraining(state), a, b), fitted, stats))
        window = state.window.push(self.inputs(batch), batch.gold_reward, batch.done, terms)
        n = batch.gold_reward.size
        gold_steps = state.gold_steps + n
        gold_mean = state.gold_step_mean + (jnp.mean(batch.gold_reward) - state.gold_step_mean) * n / gold_steps
        if terms is not None:
            term_mean = terms.reshape(-1, terms.shape[-1]).mean(0)
            state = state.replace(term_step_mean=state.term_step_mean + (term_mean - state.term_step_mean) * n / gold_steps)
        state = state.replace(window=window, gold_step_mean=gold_mean, gold_steps=gold_steps)

        since_pretrain = state.updates - cfg.pretrain_iterations
        due = (since_pretrain >= 0) & (since_pretrain % self.feedback_every == 0) & window.ready(cfg.segment_length)
        if self.file_pairs is None:
            due = due & (state.queries_asked < state.budget)

        def session_where_due(s, key):
            new = self._session(s, key)
            return jax.tree.map(lambda a, b: jnp.where(due, a, b), new, s)

        state = jax.lax.cond(any_run(due), session_where_due, lambda s, k: s, state, k_session)

        # The same in every run (a counter), so the cond stays a branch under the runs vmap.
        evaluate = state.updates % self.heldout_every == 0
        heldout = jax.lax.cond(any_run(evaluate), lambda s, k: self.heldout_accuracy(s, k), lambda s, k: s.last_heldout,
                               state, k_eval)
        heldout = jax.tree.map(lambda a, b: jnp.where(evaluate, a, b), heldout, state.last_heldout)
        state = state.replace(last_heldout=heldout)

        metrics = {
            "loss": state.last_loss,
            "accuracy_train": state.last_accuracy,
            **heldout,
            "queries": state.queries_asked.astype(jnp.float32),
            "pairs": state.pairs.size.astype(jnp.float32),
            "segments_across_episodes": state.segments_across_episodes.astype(jnp.float32),
        }
        return state.replace(updates=state.updates + 1), metrics

    def changed(self, old: PreferenceState, new: PreferenceState) -> jax.Array:
        # The ensemble moves only in feedback sessions; before the first one the reward is
        # the entropy bonus, which moves with the segment window every update.
        return (new.sessions != old.sessions) | self.pretraining(new)

    # ---- pieces -------------------------------------------------------------------
    def _session(self, state: PreferenceState, rng: jax.Array) -> PreferenceState:
        """One feedback session: ask (unless labels come from a file), then fit."""
        k_ask, k_fit = jax.random.split(rng)
        if self.file_pairs is None:
            state = self._ask(state, k_ask)
        params, opt_state, loss, accuracy = self.fit(state.params, state.opt_state, state.pairs, k_fit)
        return state.replace(params=params, opt_state=opt_state, last_loss=loss, last_accuracy=accuracy,
                             sessions=state.sessions + 1)

    def candidates(self, state: PreferenceState, rng: jax.Array) -> tuple[Segments, Segments]:
        """A session's candidate pairs from the window: (a, b), N segments each, N = the
        session capacity, times `oversample` unless selection is uniform."""
        cfg = self.cfg
        num = cfg.session_capacity * (1 if cfg.selection == "uniform" else cfg.oversample)
        return state.window.sample_pairs(rng, num, cfg.segment_length)

    def _ask(self, state: PreferenceState, rng: jax.Array) -> PreferenceState:
        cfg = self.cfg
        k_cand, k_label = jax.random.split(rng)
        capacity = cfg.session_capacity
        seg_a, seg_b = self.candidates(state, k_cand)
        if cfg.selection != "uniform":
            returns_a = self.ensemble.segment_returns(state.params, seg_a.inputs)
            returns_b = self.ensemble.segment_returns(state.params, seg_b.inputs)
            pick = queries.select(cfg.selection, returns_a, returns_b, capacity)
            seg_a, seg_b = jax.tree.map(lambda x: x[pick], (seg_a, seg_b))
        num = queries.session_size(state.sessions, state.queries_asked, budget=state.budget,
                                   initial_fraction=cfg.initial_fraction, queries_per_session=cfg.queries_per_session,
                                   schedule=cfg.schedule, decay_rate=cfg.decay_rate, capacity=capacity)
        # What the teacher sees of each segment: the gold reward, or the users' term rewards.
        seen = lambda seg: seg.utility if seg.terms is None else seg.terms
        y, keep = self.teacher_labels(state, k_label, seen(seg_a), seen(seg_b))
        asked = jnp.arange(capacity) < num
        crossing = jnp.sum(seg_a.crosses & asked) + jnp.sum(seg_b.crosses & asked)
        return state.replace(pairs=state.pairs.insert(seg_a.inputs, seg_b.inputs, y, keep & asked),
                             queries_asked=state.queries_asked + num,
                             segments_across_episodes=state.segments_across_episodes + crossing.astype(jnp.int32))

    def teacher_labels(self, state: PreferenceState, rng: jax.Array, seen_a: jax.Array, seen_b: jax.Array):
        """The synthetic teacher's answers to N queries: (y [N], keep [N]).

        seen_a, seen_b: [N, H] gold reward per step, or with users [N, H, M] the users'
        term rewards; then each query is answered by one user drawn from `state.users`,
        every user with the teacher parameters of `state.teacher`.
        """
        H = self.cfg.segment_length
        if state.users is None:
            return teachers.label(state.teacher, rng, seen_a, seen_b, state.gold_step_mean * H)
        users = state.users
        num_users = users.probs.shape[0]
        per_user = jax.tree.map(lambda x: jnp.broadcast_to(x, (num_users,) + x.shape), state.teacher)
        y, keep, _ = teachers.mixture_label(per_user, users.probs, rng, teachers.user_utilities(users.weights, seen_a),
                                            teachers.user_utilities(users.weights, seen_b), users.weights @ state.term_step_mean * H)
        return y, keep

    def fit(self, params: dict, opt_state, pairs: PairBuffer, rng: jax.Array):
        """`grad_steps` Adam steps of every member on its own minibatches of stored pairs.

        Returns (params, opt_state, mean loss, accuracy) — loss and accuracy of the last
        step's minibatches, averaged over members. An empty buffer leaves params as they are.
        """
        cfg = self.cfg
        one = lambda p, seg: self.ensemble.member_rewards(jax.tree.map(lambda x: x[None], p), seg)[0].sum(-1)

        def member_loss(p, seg_a, seg_b, y):
            ra, rb = one(p, seg_a), one(p, seg_b)
            agree = jnp.where(y == 0.5, 0.5, ((ra > rb) == (y > 0.5)).astype(jnp.float32))
            return bradley_terry_loss(ra, rb, y), jnp.mean(agree)

        def total_loss(params, batches):
            losses, accs = jax.vmap(member_loss)(params, *batches)
            return losses.sum(), (losses.mean(), accs.mean())

        def step(carry, key):
            params, opt_state = carry
            batches = jax.vmap(lambda k: pairs.sample(k, cfg.batch_size))(jax.random.split(key, cfg.ensemble_size))
            grads, (loss, acc) = jax.grad(total_loss, has_aux=True)(params, batches)
            updates, new_opt = self.optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), new_opt), (loss, acc)

        (new_params, new_opt), (losses, accs) = jax.lax.scan(step, (params, opt_state), jax.random.split(rng, cfg.grad_steps))
        has_pairs = pairs.size > 0
        keep_old = lambda new, old: jax.tree.map(lambda a, b: jnp.where(has_pairs, a, b), new, old)
        return keep_old(new_params, params), keep_old(new_opt, opt_state), losses[-1], accs[-1]

    def heldout_names(self) -> tuple[str, ...]:
        """Keys of `heldout_accuracy`."""
        num_users = 0 if self.user_weights is None else self.user_weights.shape[0]
        return ("accuracy_heldout",) + tuple(f"accuracy_heldout_user{u}" for u in range(num_users))

    def heldout_accuracy(self, state: PreferenceState, rng: jax.Array) -> dict[str, jax.Array]:
        """Fraction of fresh window pairs the aggregated model orders as a reference does
        (pairs the reference rates equal excluded); 0.5 until two segments fit the window.

        {"accuracy_heldout": against the gold reward} and, with users, for each user u
        "accuracy_heldout_user<u>": against that user's utility. Values are [].
        """
        seg_a, seg_b = state.window.sample_pairs(rng, self.cfg.heldout_pairs, self.cfg.segment_length)
        pred_diff = self.predict(state, seg_a.inputs).sum(-1) - self.predict(state, seg_b.inputs).sum(-1)

        def accuracy(utility_a, utility_b):  # [n, H] each
            ref_diff = utility_a.sum(-1) - utility_b.sum(-1)
            counted = ref_diff != 0
            right = jnp.sum(((pred_diff > 0) == (ref_diff > 0)) & counted) / jnp.maximum(jnp.sum(counted), 1)
            return jnp.where(state.window.ready(self.cfg.segment_length), right, 0.5)

        out = {"accuracy_heldout": accuracy(seg_a.utility, seg_b.utility)}
        if state.users is not None:
            users_a = teachers.user_utilities(state.users.weights, seg_a.terms)
            users_b = teachers.user_utilities(state.users.weights, seg_b.terms)
            for u in range(users_a.shape[0]):
                out[f"accuracy_heldout_user{u}"] = accuracy(users_a[u], users_b[u])
        return out

    def _entropy_bonus(self, window: SegmentWindow, obs: jax.Array) -> jax.Array:
        """obs [T, B, D] -> [T, B] distance to the k-th nearest state in the window."""
        memory = window.inputs[..., : self.spec.observation_size].reshape(-1, self.spec.observation_size)
        memory = memory[:: max(1, memory.shape[0] // ENTROPY_MEMORY)]
        flat = obs.reshape(-1, obs.shape[-1])
        return knn_distance(flat, memory, self.cfg.entropy_k).reshape(obs.shape[:-1])
