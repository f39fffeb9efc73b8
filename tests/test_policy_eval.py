"""Deterministic-policy evaluation at log points (`training/policy_eval.py`): returns on probes
with known values, training untouched by it, and its columns in metrics.csv and summary.json."""

import json
import os

import jax
import numpy as np
import pytest

from jaxreward import results
from jaxreward.training import presets
from jaxreward.training.loop import train
from jaxreward.training.policy_eval import PolicyEvaluation
from jaxreward.training.trainer import Trainer

TINY = dict(num_envs=8, num_seeds=2, ppo=dict(unroll_length=16, num_minibatches=4, update_epochs=2, policy_hidden=(32,),
                                               value_hidden=(32,)))


def tiny(env, **kw):
    return presets.config_for(env, **presets._merge(TINY, kw))


def _deterministic_action(trainer, state, run):
    """The env action run `run`'s deterministic policy takes at observation 0."""
    one = jax.tree.map(lambda x: x[run], state)
    return float(np.asarray(trainer.evaluate_policy_fn()(one, np.zeros((1, 1), np.float32)))[0, 0])


def test_eval_return_on_action_reward_is_the_deterministic_action():
    """probe/action_reward: one step, reward = action, so each episode's return is the action."""
    trainer = Trainer(tiny("probe/action_reward", eval_episodes=3))
    state = trainer.init_seeds(trainer.seed_keys())
    # A freshly initialised policy's mean action is 0 in every run: perturb the parameters,
    # differently per run, for a fixed policy with a non-trivial action.
    leaves, treedef = jax.tree.flatten(state.learner)
    keys = jax.random.split(jax.random.PRNGKey(7), len(leaves))
    noisy = [x + 0.3 * jax.random.normal(k, x.shape, x.dtype) if np.issubdtype(x.dtype, np.floating) else x
             for x, k in zip(leaves, keys)]
    state = state.replace(learner=jax.tree.unflatten(treedef, noisy))
    out = PolicyEvaluation(trainer, [0, 1])(state, env_steps=0)
    expected = [_deterministic_action(trainer, state, i) for i in range(2)]
    assert expected[0] != expected[1]  # the runs' policies differ, so a mixed-up run axis shows
    np.testing.assert_allclose([o["eval/gold_return"] for o in out], expected, rtol=1e-6)
    assert [o["eval/success"] for o in out] == [0.0, 0.0]


def test_eval_episodes_run_to_the_time_limit():
    """probe/continuous_constant never terminates and pays 1 per step: the return is the time limit."""
    trainer = Trainer(tiny("probe/continuous_constant", episode_length=7, eval_episodes=2))
    state = trainer.init_seeds(trainer.seed_keys())
    out = PolicyEvaluation(trainer, [0, 1])(state, env_steps=128)
    assert [o["eval/gold_return"] for o in out] == [7.0, 7.0]


def test_negative_eval_episodes_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="eval_episodes must be >= 0"):
        tiny("probe/action_reward", eval_episodes=-1)


#: Columns that legitimately differ between two runs of one config: timings and the evaluation.
NOT_TRAINING = {"steps_per_second", "wall_time_s", "eval/gold_return", "eval/success"}


def test_evaluation_is_logged_summarised_and_leaves_training_unchanged(tmp_path):
    """The run optimises 3 x gold, so its proxy return is three times the gold return; the
    evaluation reports the gold return of the final policy."""
    kw = dict(total_steps=8 * 16 * 4, num_log_points=2, reward={"terms": "gold:3"})
    on = train(tiny("probe/action_reward", eval_episodes=2, **kw), str(tmp_path / "on"), progress=False, quiet=True)
    off = train(tiny("probe/action_reward", eval_episodes=0, **kw), str(tmp_path / "off"), progress=False, quiet=True)

    on_rows = results.read_metrics(str(tmp_path / "on" / "metrics.csv"))
    off_rows = results.read_metrics(str(tmp_path / "off" / "metrics.csv"))
    with open(tmp_path / "on" / "metrics.csv") as f:
        header = f.readline().strip().split(",")
    assert header.index("eval/gold_return") == header.index("success") + 1  # beside the training returns
    assert "eval/success" in header
    assert not any(k.startswith("eval/") for k in off_rows[0])
    # Training is bit-identical with the evaluation on or off (the CSV keeps 6 digits; the
    # final states are compared whole).
    assert len(on_rows) == len(off_rows) == 4
    for a, b in zip(on_rows, off_rows):
        assert {k: v for k, v in a.items() if k not in NOT_TRAINING} == {k: v for k, v in b.items() if k not in NOT_TRAINING}
    assert all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(jax.device_get(on.state)),
                                                    jax.tree.leaves(jax.device_get(off.state))))

    assert on_rows[-1]["proxy_return"] == pytest.approx(3 * on_rows[-1]["gold_return"], rel=1e-4)
    # The last log point evaluates the final policy on gold: its return is that policy's action.
    trainer = Trainer(tiny("probe/action_reward", eval_episodes=2, **kw))
    final = [_deterministic_action(trainer, on.state, i) for i in range(2)]
    last = {r["seed"]: r["eval/gold_return"] for r in on.rows if r["env_steps"] == on_rows[-1]["env_steps"]}
    np.testing.assert_allclose([last[0], last[1]], final, rtol=1e-6)

    with open(tmp_path / "on" / "summary.json") as f:
        summary = json.load(f)
    s = summary["eval/gold_return"]
    # With 2 log points the final window is the last one.
    assert s["per_seed"] == pytest.approx({"0": final[0], "1": final[1]}, rel=1e-6)
    assert s["mean"] == pytest.approx(np.mean(final), rel=1e-6) and {"std", "min", "max"} <= set(s)
    assert summary["eval/success"]["mean"] == 0.0
    assert not any(k.startswith("eval/") for k in off.summary)
    assert os.path.exists(tmp_path / "on" / "learning_curve.png")
