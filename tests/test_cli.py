"""The command line: help, listings, bad input named before compiling, an end-to-end run,
and data-parallel training over simulated devices."""

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from jaxreward import cli
from jaxreward.agents.ppo import PPOConfig
from jaxreward.agents.sac import SACConfig
from jaxreward.rewards.regression import RegressionConfig
from jaxreward.training import presets


def run_cli(argv, capsys):
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = capsys.readouterr().out
    for flag in ("--env", "--reward", "--learner", "--steps", "--seeds", "--out", "--resume", "--checkpoint-every"):
        assert flag in text
    for f in dataclasses.fields(PPOConfig):
        assert f"--ppo.{f.name}" in text
    for f in dataclasses.fields(SACConfig):
        assert f"--sac.{f.name}" in text
    for f in dataclasses.fields(RegressionConfig):
        assert f"--regression.{f.name}" in text


def test_envs_and_rewards_listings(capsys):
    code, out, _ = run_cli(["envs"], capsys)
    assert code == 0
    for name in ("pendulum", "cartpole", "point_maze", "point_maze_sparse", "reacher"):
        assert name in out
    code, out, _ = run_cli(["rewards"], capsys)
    assert code == 0 and "gold" in out and "regression" in out


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--env", "pendulm"], "Valid names: "),
        (["--reward", "golden"], "unknown reward 'golden'. Valid rewards: "),
        (["--learner", "dqn"], "Valid learners: ppo, sac"),
        (["--learner", "sac", "--env", "cartpole"], "needs continuous actions"),
        (["--learner", "sac", "--sac.relabel", "sometimes"], "sac.relabel must be one of"),
        (["--steps", "-5"], "total_steps must be positive"),
        (["--num-envs", "10", "--ppo.unroll_length", "3", "--ppo.num_minibatches", "4"], "ppo.num_minibatches (4) must divide"),
        (["--ppo.gamma", "1.5"], "ppo.gamma must be in [0, 1]"),
        (["--reward", "gold:norm=bogus"], "norm must be one of"),
        (["--env-option", "sparse=true"], "unknown option 'sparse' for environment 'pendulum'"),
        (["--ppo.action_dist", "beta"], "ppo.action_dist must be one of"),
    ],
)
def test_bad_input_names_the_field(argv, expected, capsys, tmp_path):
    code, _, err = run_cli(["train", "--out", str(tmp_path / "r"), "--no-progress", *argv], capsys)
    assert code == 2
    assert expected in err
    assert not (tmp_path / "r").exists()  # nothing was created, nothing compiled


def test_end_to_end_run_writes_results(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--steps", "2048", "--num-envs", "8", "--ppo.unroll_length", "16", "--seeds", "2",
            "--log-points", "4", "--reward", "gold,regression:0.5", "--out", str(out), "--no-progress", "--no-compile-cache"]
    code, stdout, err = run_cli(argv, capsys)
    assert code == 0, err
    for name in ("config.json", "metrics.csv", "summary.json", "learning_curve.png"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["num_seeds"] == 2 and set(summary["gold_return"]["per_seed"]) == {"0", "1"}
    assert summary["env_steps_per_seed"] == 2048 and summary["env_steps_this_process"] == 2 * 2048
    assert summary["compile_time_s"] > 0
    # Both seeds' steps over the training time (rounded to 1e-4 s, and training takes > 10 ms).
    assert summary["steps_per_second"] == pytest.approx(2 * 2048 / summary["train_time_s"], rel=1e-2)
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    for col in ("env_steps", "seed", "gold_return", "proxy_return", "term_return/gold", "term_return/regression",
                "loss/policy", "loss/value", "reward_model/regression/loss", "steps_per_second"):
        assert col in header, col
    assert len((out / "metrics.csv").read_text().splitlines()) == 1 + 4 * 2
    assert "gold_return" in stdout and "compile" in stdout
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["reward"]["terms"] == "gold,regression:0.5" and cfg["num_seeds"] == 2

    # The trained run's video: `jaxreward render --policy checkpoint --run DIR`.
    video = tmp_path / "trained.gif"
    code, _, err = run_cli(["render", "--policy", "checkpoint", "--run", str(out), "--steps", "3", "--height", "16",
                            "--width", "16", "--out", str(video)], capsys)  # fmt: skip
    assert code == 0, err
    from jaxreward.video import read_gif

    # The reset state and 3 steps (counted by playing time: Pillow merges identical frames).
    assert read_gif(str(video)).shape == (4, 16, 16, 3)
    # The policy acts with the checkpoint's weights, not freshly initialised ones.
    import jax
    import numpy as np

    from jaxreward.training.config import TrainConfig
    from jaxreward.training.trainer import Trainer
    from jaxreward.video import checkpoint_policy

    name, env, act = checkpoint_policy(str(out))
    assert name == "pendulum"
    obs = env.reset(jax.random.PRNGKey(3)).obs
    trainer = Trainer(TrainConfig.from_dict(cfg))
    fresh = trainer.evaluate_policy_fn()(jax.tree.map(lambda x: x[0], trainer.init_seeds(trainer.seed_keys())), obs[None])[0]
    assert not np.allclose(np.asarray(act(obs, jax.random.PRNGKey(0))), np.asarray(fresh))


def test_data_parallel_over_four_simulated_devices(tmp_path):
    """The env batch sharded over 4 devices trains like 1 device (up to float reassociation)."""
    script = (
        "import json,sys,jax,numpy as np;"
        "from jaxreward.training import presets;from jaxreward.training.trainer import Trainer;"
        "cfg=presets.config_for('pendulum',num_envs=8,total_steps=8*64*2,num_log_points=1);"
        "t=Trainer(cfg);s=t.init_seeds(t.seed_keys());s,m=t.chunk_fn(cfg.num_iterations)(s);"
        "print(json.dumps({'devices':jax.device_count(),'shards':len(s.env.obs.addressable_shards),"
        "'w':np.asarray(jax.tree.leaves(s.learner.params)[0]).ravel()[:8].tolist()}))"
    )

    def run(devices):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
        res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        return json.loads(res.stdout.strip().splitlines()[-1])

    one, four = run(1), run(4)
    assert four["devices"] == 4 and four["shards"] == 4
    import numpy as np

    np.testing.assert_allclose(four["w"], one["w"], rtol=1e-4, atol=1e-5)


def test_num_envs_must_divide_over_devices(monkeypatch):
    import jax

    monkeypatch.setattr(jax, "device_count", lambda: 4)
    with pytest.raises(ValueError, match=r"num_envs \(6\) must be divisible by the number of devices \(4\)"):
        presets.config_for("pendulum", num_envs=6)
