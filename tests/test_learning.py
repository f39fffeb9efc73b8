"""Learning thresholds within the CI budget: PPO on pendulum and cartpole, and PPO on the
learned `regression` and `preference` rewards against PPO on the gold reward (same budget;
the gold runs are shared).

Runs use the env presets (the `jaxreward train` defaults) with several seeds vmapped.
Measured here (2-core CPU): pendulum gold -250 ± 24 over 3 seeds, regression -218 ± 54;
cartpole 500 (the maximum) on 2 seeds; a random pendulum policy scores about -1200.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from jaxreward.training import presets
from jaxreward.training.loop import train

SEEDS = 3


def _final_gold(env, tmp_path_factory, **overrides):
    cfg = presets.config_for(env, **{"num_seeds": SEEDS, **overrides})
    result = train(cfg, str(tmp_path_factory.mktemp(env)), progress=False, quiet=True, compile_cache=False)
    return np.array(list(result.summary["gold_return"]["per_seed"].values()))


@pytest.fixture(scope="module")
def pendulum_gold(tmp_path_factory):
    return _final_gold("pendulum", tmp_path_factory)


def _random_return(env_name, episodes=64):
    env = envs.training_wrap(envs.make(env_name))
    length = env.default_episode_length if not hasattr(env, "episode_length") else env.episode_length

    @jax.jit
    def run(key):
        k_reset, k_act = jax.random.split(key)
        state = env.reset(jax.random.split(k_reset, episodes))

        def step(s, k):
            a = jax.random.uniform(k, (episodes, env.action_size), minval=-1, maxval=1)
            s = env.step(s, a)
            return s, s.reward

        _, rewards = jax.lax.scan(step, state, jax.random.split(k_act, 200))
        return rewards.sum(0).mean()

    return float(run(jax.random.PRNGKey(123)))


@pytest.fixture(scope="module")
def pendulum_random():
    return _random_return("pendulum")


def test_ppo_pendulum_mean_gold_return_exceeds_minus_400(pendulum_gold):
    # Not "solved" (Gymnasium's Pendulum-v1 is usually called solved around -200): measured
    # here -250 ± 24 over 3 seeds (module docstring); random is about -1200.
    assert pendulum_gold.mean() > -400, pendulum_gold


def test_ppo_solves_cartpole(tmp_path_factory):
    """Every seed reaches at least 475 of the maximum 500 (random: about 22) at some log
    point. Not the final window: without learning-rate annealing PPO sometimes collapses
    after solving cartpole — measured with `jaxreward sweep` (6 seeds, preset config): 1 of 6
    to 12 seeds ends near 200 after reaching 500, and which seed does changes with the
    vmapped batch shape (XLA's last-bit differences grow chaotically)."""
    cfg = presets.config_for("cartpole", num_seeds=SEEDS)
    result = train(cfg, str(tmp_path_factory.mktemp("cartpole")), progress=False, quiet=True, compile_cache=False)
    best = {}
    for r in result.rows:
        if np.isfinite(r["gold_return"]):
            best[r["seed"]] = max(best.get(r["seed"], -np.inf), r["gold_return"])
    assert len(best) == SEEDS and min(best.values()) >= 475, best


def test_regression_reward_reaches_90_percent_of_gold(pendulum_gold, pendulum_random, tmp_path_factory):
    """Pendulum returns are negative, so "90% of the gold-trained return" is measured as a
    normalised score: (R_regression - R_random) / (R_gold - R_random) >= 0.9."""
    learned = _final_gold("pendulum", tmp_path_factory, reward={"terms": "regression"})
    random_return = pendulum_random
    assert random_return < -900, random_return
    score = (learned.mean() - random_return) / (pendulum_gold.mean() - random_return)
    assert score >= 0.9, dict(score=score, learned=learned, gold=pendulum_gold, random=random_return)


#: PPO on pendulum learning from 1000 oracle labels. Measured here (1 seed, 410k steps):
#: preference -183 vs gold -227 (random about -1200).
PENDULUM_PREFERENCE = dict(feedback_every=4, initial_fraction=0.3, queries_per_session=50, budget=1000)


def test_ppo_on_oracle_preferences_reaches_80_percent_of_gold(pendulum_gold, pendulum_random, tmp_path_factory):
    """Issue: PPO on the reward learned from oracle preferences reaches >= 80% of the
    gold-trained return, as a normalised score (pendulum returns are negative)."""
    learned = _final_gold("pendulum", tmp_path_factory, num_seeds=1,
                          reward={"terms": "preference", "preference": PENDULUM_PREFERENCE})  # fmt: skip
    random_return = pendulum_random
    score = (learned.mean() - random_return) / (pendulum_gold.mean() - random_return)
    assert score >= 0.8, dict(score=score, learned=learned, gold=pendulum_gold, random=random_return)


def test_ppo_hopper_evaluation_return_rises_above_the_untrained_policy(tmp_path_factory):
    """Locomotion at a tiny budget: the hopper preset, 2 seeds, 81,920 env steps. Each seed's
    deterministic evaluation return ends at least 200 above the untrained policy's (the same
    evaluation on the initial state). Measured here: untrained 144 and 120; after 40,960
    steps 231 and 232; one seed of the preset at 81,920 steps 726."""
    from jaxreward.training.policy_eval import PolicyEvaluation
    from jaxreward.training.trainer import Trainer

    cfg = presets.config_for("hopper", num_seeds=2, total_steps=81_920, num_log_points=1)
    trainer = Trainer(cfg)
    start = trainer.init_seeds(trainer.seed_keys())
    untrained = PolicyEvaluation(trainer, [0, 1])(start, 0)
    result = train(cfg, str(tmp_path_factory.mktemp("hopper")), progress=False, quiet=True, compile_cache=False,
                   initial_state=start)
    before = np.array([e["eval/gold_return"] for e in untrained])
    after = np.array([r["eval/gold_return"] for r in result.rows if r["env_steps"] == result.rows[-1]["env_steps"]])
    assert np.all(after > before + 200), (before, after)
