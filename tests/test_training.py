"""The compiled training step: vmap-over-seeds equivalence, resume equivalence, NaN stop,
checkpoint errors, and the regression reward training inside the step."""

import json
import logging
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.core import Env, State, info_defaults
from jaxreward import checkpoint
from jaxreward.training import presets
from jaxreward.training.loop import TrainingDiverged, train
from jaxreward.training.trainer import Trainer

TINY = dict(num_envs=8, ppo=dict(unroll_length=16, num_minibatches=4, update_epochs=2, policy_hidden=(32,), value_hidden=(32,)))


def tiny(env="pendulum", **kw):
    return presets.config_for(env, **presets._merge(TINY, kw))


def _leaves_equal(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb)
    return all(np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True) for x, y in zip(la, lb))


def _leaves_close(a, b, rtol, atol):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(la) == len(lb)
    return all(np.allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol, equal_nan=True) for x, y in zip(la, lb))


def test_seed_k_of_vmapped_run_equals_single_run():
    cfg4 = tiny(total_steps=8 * 16 * 6, num_seeds=4, num_log_points=1, reward={"terms": "regression"})
    t4 = Trainer(cfg4)
    s4, _ = t4.chunk_fn(cfg4.num_iterations)(t4.init_seeds(t4.seed_keys()))
    k = 2
    cfg1 = tiny(total_steps=8 * 16 * 6, num_seeds=1, seed=k, num_log_points=1, reward={"terms": "regression"})
    t1 = Trainer(cfg1)
    s1, _ = t1.chunk_fn(cfg1.num_iterations)(t1.init_seeds(t1.seed_keys()))
    pick = lambda s, i: jax.tree.map(lambda x: x[i], s)
    # Agent and reward-model parameters, optimiser states, env state all agree. Not bit for
    # bit: XLA's CPU matmul kernels differ between batch shapes in the last float bits
    # (seen: ~1e-6 relative after 6 iterations), so the comparison uses a tolerance that is
    # orders of magnitude below the seed-to-seed differences checked next.
    assert _leaves_close(pick(s4, k), pick(s1, 0), rtol=1e-4, atol=1e-5)
    # ...and different seeds really differ (the comparison could fail).
    assert not _leaves_close(pick(s4, k).learner.params, pick(s4, k - 1).learner.params, rtol=1e-2, atol=1e-3)


def test_resume_equals_uninterrupted(tmp_path):
    steps = 8 * 16 * 8
    full = train(tiny(total_steps=steps, num_log_points=4, reward={"terms": "regression"}), str(tmp_path / "full"), progress=False, quiet=True, compile_cache=False)
    half_dir = str(tmp_path / "half")
    train(tiny(total_steps=steps // 2, num_log_points=2, reward={"terms": "regression"}), half_dir, progress=False, quiet=True, compile_cache=False)
    assert checkpoint.steps(os.path.join(half_dir, "checkpoints")) == [steps // 2]
    resumed = train(tiny(total_steps=steps, num_log_points=4, reward={"terms": "regression"}), half_dir, resume=True, progress=False, quiet=True, compile_cache=False)
    assert int(resumed.state.iteration[0]) == int(full.state.iteration[0]) == 8
    assert _leaves_equal(jax.device_get(resumed.state), jax.device_get(full.state))
    # The CSV continues where the first half stopped: one row per log point, no duplicates.
    assert [r["env_steps"] for r in resumed.rows] == [r["env_steps"] for r in full.rows]


def test_resumed_run_reports_the_throughput_of_its_own_steps(tmp_path):
    """After a resume, steps/s counts only the env steps this process trained, and the CSV's
    wall time continues from the first process's instead of restarting at zero."""
    steps = 8 * 16 * 8
    run_dir = str(tmp_path / "run")
    first = train(tiny(total_steps=steps // 2, num_log_points=2, reward={"terms": "regression"}), run_dir, progress=False, quiet=True, compile_cache=False)
    resumed = train(tiny(total_steps=steps, num_log_points=4, reward={"terms": "regression"}), run_dir, resume=True, progress=False, quiet=True, compile_cache=False)
    s = resumed.summary
    assert s["env_steps_per_seed"] == steps and s["env_steps_this_process"] == steps - steps // 2
    # steps_per_second is rounded to 0.1 and train_time_s to 1e-4 s; their product is the
    # steps trained here up to that rounding (dividing all `steps` would give twice as many).
    slack = 0.05 * s["train_time_s"] + 0.5e-4 * s["steps_per_second"] + 1e-9
    assert abs(s["steps_per_second"] * s["train_time_s"] - s["env_steps_this_process"]) <= slack, s
    wall = [r["wall_time_s"] for r in resumed.rows]
    assert len(wall) == 4 and wall == sorted(wall) and wall[2] > first.rows[-1]["wall_time_s"], wall


def test_checkpoint_round_trip_of_mjx_state_with_empty_arrays(tmp_path):
    """MJX data holds zero-size arrays (reacher has no actuator activations), which orbax
    refuses to write; the checkpoint leaves them out and restore takes them from the template."""
    tr = Trainer(tiny("reacher", total_steps=8 * 16, num_log_points=1))
    state = tr.init_seeds(tr.seed_keys())
    empty = [x for x in jax.tree.leaves(state) if np.size(x) == 0]
    assert empty, "the test needs a state with zero-size leaves"
    checkpoint.save(str(tmp_path), 128, state)
    restored = checkpoint.restore(str(tmp_path), state)
    assert jax.tree.structure(restored) == jax.tree.structure(jax.device_get(state))
    assert _leaves_equal(restored, jax.device_get(state))


def test_resume_refuses_mismatched_config_and_changes_nothing(tmp_path):
    run_dir = str(tmp_path / "run")
    train(tiny(total_steps=8 * 16 * 2, num_log_points=1), run_dir, progress=False, quiet=True, compile_cache=False)
    before = {f: os.path.getmtime(os.path.join(run_dir, f)) for f in ("config.json", "metrics.csv", "summary.json")}
    with pytest.raises(checkpoint.CheckpointError, match="num_envs"):
        train(tiny(total_steps=8 * 16 * 4, num_envs=16), run_dir, resume=True, progress=False, quiet=True, compile_cache=False)
    after = {f: os.path.getmtime(os.path.join(run_dir, f)) for f in before}
    assert before == after
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny(total_steps=8 * 16 * 2, num_log_points=1), run_dir, progress=False, quiet=True, compile_cache=False)


def test_corrupt_checkpoint_is_reported(tmp_path):
    run_dir = str(tmp_path / "run")
    train(tiny(total_steps=8 * 16 * 2, num_log_points=1), run_dir, progress=False, quiet=True, compile_cache=False)
    ckpt_root = os.path.join(run_dir, "checkpoints")
    (step,) = checkpoint.steps(ckpt_root)
    damaged = 0
    for root, _, files in os.walk(os.path.join(ckpt_root, str(step))):
        for name in files:
            if name in ("_METADATA", "manifest.ocdbt") or root.endswith("/d"):
                with open(os.path.join(root, name), "wb") as f:
                    f.write(b"\x00garbage")
                damaged += 1
    assert damaged
    with pytest.raises(checkpoint.CheckpointError):
        train(tiny(total_steps=8 * 16 * 4, num_log_points=2), run_dir, resume=True, progress=False, quiet=True, compile_cache=False)


def _truncate_array_files(checkpoint_dir: str) -> None:
    """Halves every array data file (orbax keeps them in `d/` folders), as an interrupted copy would."""
    for root, _, names in os.walk(checkpoint_dir):
        if os.path.basename(root) == "d":
            for name in names:
                path = os.path.join(root, name)
                with open(path, "r+b") as f:
                    f.truncate(os.path.getsize(path) // 2)


def test_resume_falls_back_past_an_unreadable_newest_checkpoint(tmp_path, capsys):
    """A truncated array file in the newest checkpoint: --resume-strict refuses and moves
    nothing; --resume reports it in one line, moves it aside, says which checkpoint it
    resumes from, and trains on from there."""
    steps = 8 * 16
    run_dir = str(tmp_path / "run")
    ckpt_dir = os.path.join(run_dir, "checkpoints")
    train(tiny(total_steps=2 * steps, num_log_points=2, checkpoint_every=steps), run_dir, progress=False, quiet=True, compile_cache=False)
    assert checkpoint.steps(ckpt_dir) == [steps, 2 * steps]
    _truncate_array_files(os.path.join(ckpt_dir, str(2 * steps)))
    longer = tiny(total_steps=3 * steps, num_log_points=3, checkpoint_every=steps)

    with pytest.raises(checkpoint.CheckpointError, match=f"checkpoint {2 * steps} .* is unreadable.*--resume-strict") as err:
        train(longer, run_dir, resume="strict", progress=False, quiet=True, compile_cache=False)
    assert "\n" not in str(err.value)
    assert checkpoint.steps(ckpt_dir) == [steps, 2 * steps]
    capsys.readouterr()

    resumed = train(longer, run_dir, resume=True, progress=False, quiet=True, compile_cache=False)
    moved = os.path.join(f"{ckpt_dir}-unreadable", str(2 * steps))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"jaxreward: checkpoint {2 * steps} is unreadable (") and lines[0].endswith(f"moved it to {moved}")
    assert lines[1] == f"jaxreward: resuming from checkpoint {steps}, the newest readable one in {ckpt_dir}"
    assert os.path.isdir(moved)  # kept for inspection, not deleted
    # Checkpoint 256 was written afresh by the resumed run and is readable.
    assert checkpoint.steps(ckpt_dir) == [steps, 2 * steps, 3 * steps]
    checkpoint.restore(ckpt_dir, resumed.state, 2 * steps)
    # It trained from checkpoint 128 on (not from scratch); that a restored state continues
    # bit for bit is test_resume_equals_uninterrupted's.
    assert resumed.summary["env_steps_this_process"] == 2 * steps
    assert [r["env_steps"] for r in resumed.rows] == [steps, 2 * steps, 3 * steps]


def test_a_checkpoint_of_another_configuration_is_an_error_not_a_fallback(tmp_path):
    """A readable newest checkpoint whose shapes differ from the run's means another
    configuration's state: restore names the leaf and shapes, and nothing is moved."""
    small, wide = Trainer(tiny(num_envs=8)), Trainer(tiny(num_envs=16))
    template = small.init_seeds(small.seed_keys())
    checkpoint.save(str(tmp_path), 128, template)
    checkpoint.save(str(tmp_path), 256, wide.init_seeds(wide.seed_keys()))
    with pytest.raises(checkpoint.CheckpointError, match=r"checkpoint 256 .* has shape \(1, 16.*expected \(1, 8") as err:
        checkpoint.restore_newest_readable(str(tmp_path), template)
    assert not isinstance(err.value, checkpoint.CheckpointUnreadable)
    assert checkpoint.steps(str(tmp_path)) == [128, 256]
    assert not os.path.exists(f"{tmp_path}-unreadable")


def test_full_disk_while_checkpointing_stops_with_one_line_and_keeps_the_last_checkpoint(tmp_path, monkeypatch, caplog):
    """ENOSPC injected while the second checkpoint's metadata is written (its arrays are
    already in orbax's temporary directory, as on a real full disk): the run stops with one
    line naming the path and the space needed, no partial directory remains, orbax's
    writer-thread traceback is not logged, and --resume continues from the first checkpoint."""
    import errno

    from orbax.checkpoint._src.path import async_path

    steps = 8 * 16
    run_dir = str(tmp_path / "run")
    ckpt_dir = os.path.join(run_dir, "checkpoints")
    write_text = async_path.write_text
    injected = []

    async def full_disk_for_second_checkpoint(path, text):
        if path.name == "_METADATA" and f"{2 * steps}.orbax-checkpoint-tmp" in str(path):
            injected.append(str(path))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return await write_text(path, text)

    monkeypatch.setattr(async_path, "write_text", full_disk_for_second_checkpoint)
    cfg = tiny(total_steps=3 * steps, num_log_points=3, checkpoint_every=steps)
    with pytest.raises(checkpoint.CheckpointError) as err:
        train(cfg, run_dir, progress=False, quiet=True, compile_cache=False)
    assert injected
    message = str(err.value)
    assert "\n" not in message and len(message) < 400, message
    assert message.startswith(f"no space left to write checkpoint {2 * steps} to {ckpt_dir} (it needs about ")
    assert f"the last complete checkpoint, step {steps}, is kept" in message and "--resume" in message
    assert os.listdir(ckpt_dir) == [str(steps)]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]

    monkeypatch.undo()
    resumed = train(cfg, run_dir, resume=True, progress=False, quiet=True, compile_cache=False)
    assert checkpoint.steps(ckpt_dir) == [steps, 2 * steps, 3 * steps]
    assert [r["env_steps"] for r in resumed.rows] == [steps, 2 * steps, 3 * steps]


class _NaNAfter(Env):
    """Pendulum-like env whose reward turns NaN at episode step 40 (to test the NaN stop)."""

    default_episode_length = 1000

    @property
    def observation_size(self):
        return 2

    @property
    def action_size(self):
        return 1

    def reset(self, rng):
        z = jnp.zeros(())
        return State(jnp.zeros((), jnp.int32), jax.random.normal(rng, (2,)), z, z, {"reward/x": z, "success": z}, info_defaults())

    def step(self, state, action):
        t = state.pipeline_state + 1
        r = jnp.where(t >= 40, jnp.nan, -jnp.sum(state.obs**2))
        obs = 0.9 * state.obs + 0.1 * action[0]
        return state.replace(pipeline_state=t, obs=obs, reward=r, metrics={"reward/x": r, "success": jnp.zeros(())})


def test_nan_stops_the_run_and_keeps_last_good_checkpoint(tmp_path):
    if "test/nan_after" not in envs.names():
        envs.register("test/nan_after", _NaNAfter, "test only")
    run_dir = str(tmp_path / "run")
    # 16 env steps per iteration and per env; chunks of 1 iteration; NaN during iteration 3.
    cfg = tiny("test/nan_after", total_steps=8 * 16 * 6, num_log_points=6, checkpoint_every=8 * 16)
    with pytest.raises(TrainingDiverged) as err:
        train(cfg, run_dir, progress=False, quiet=True, compile_cache=False)
    message = str(err.value)
    assert "env step 384" in message and "non-finite" in message and "step 256" in message
    kept = checkpoint.steps(os.path.join(run_dir, "checkpoints"))
    assert kept == [128, 256]
    trainer = Trainer(cfg)
    restored = checkpoint.restore(os.path.join(run_dir, "checkpoints"), trainer.init_seeds(trainer.seed_keys()))
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(restored.learner.params))


def test_regression_reward_learns_inside_the_training_step():
    cfg = tiny(total_steps=8 * 16 * 40, num_log_points=1, reward={"terms": "regression"})
    trainer = Trainer(cfg)
    state0 = trainer.init_seeds(trainer.seed_keys())
    params0 = jax.device_get(state0.reward.terms[0].params)
    state, metrics = trainer.chunk_fn(cfg.num_iterations)(state0)
    loss = np.asarray(metrics["reward_model/regression/loss"][0])
    assert loss[-5:].mean() < 0.2 * loss[:3].mean(), loss
    assert not _leaves_equal(params0, state.reward.terms[0].params)
    # The learned reward tracks the gold reward on fresh transitions: each episode is scored
    # as it is played, before the model trains on it. The 8 episodes ending at iteration 12
    # (scored mostly by a barely trained model) get a proxy return far from their gold return;
    # the 8 ending last get one within 10% of it (measured: 58% off, then 1.6%).
    ended = np.flatnonzero(np.asarray(metrics["episodes"][0]) > 0)
    gold = np.asarray(metrics["gold_return"][0])[ended]
    proxy = np.asarray(metrics["proxy_return"][0])[ended]
    assert len(ended) == 3, ended
    error = np.abs(proxy - gold) / np.abs(gold)
    assert error[0] > 0.3 and error[-1] < 0.1, dict(gold=gold, proxy=proxy)


def test_hyperparameters_are_vmappable_leaves():
    """A learning-rate variant is a different array in the state, not a recompile: with
    learning rate 0 for seed 0 its parameters stay put while seed 1 (same program) learns."""
    cfg = tiny(total_steps=8 * 16 * 2, num_seeds=2, num_log_points=1)
    trainer = Trainer(cfg)
    state = trainer.init_seeds(trainer.seed_keys())
    params0 = jax.device_get(state.learner.params)
    hyper = state.learner.hyper.replace(learning_rate=jnp.array([0.0, 3e-3]))
    state = state.replace(learner=state.learner.replace(hyper=hyper))
    state, _ = trainer.chunk_fn(cfg.num_iterations)(state)
    pick = lambda t, i: jax.tree.map(lambda x: np.asarray(x)[i], t)
    assert _leaves_equal(pick(state.learner.params, 0), pick(params0, 0))
    assert not _leaves_close(pick(state.learner.params, 1), pick(params0, 1), rtol=1e-3, atol=1e-4)


def _threefry2x32_reference(key, count):
    """Threefry-2x32 with 20 rounds in numpy (Salmon et al. 2011): key [2], count [2, N] uint32."""
    rotl = lambda v, r: (v << np.uint32(r)) | (v >> np.uint32(32 - r))
    ks = [np.uint32(key[0]), np.uint32(key[1]), np.uint32(key[0] ^ key[1] ^ 0x1BD11BDA)]
    x0, x1 = count[0] + ks[0], count[1] + ks[1]
    for group in range(5):
        for r in ((13, 15, 26, 6), (17, 29, 16, 24))[group % 2]:
            x0 = x0 + x1
            x1 = rotl(x1, r) ^ x0
        x0 = x0 + ks[(group + 1) % 3]
        x1 = x1 + ks[(group + 2) % 3] + np.uint32(group + 1)
    return np.stack([x0, x1])


def test_straight_line_threefry_computes_the_same_bits():
    """The trainer's CPU Threefry lowering has no loop and hashes exactly as Threefry-2x32
    does (Random123's known answer and a numpy reference), so runs are bit-for-bit unchanged."""
    from jax.extend.random import threefry_2x32

    from jaxreward.training.threefry_cpu import use_straight_line_threefry

    assert use_straight_line_threefry()
    hash_fn = jax.jit(lambda key, count: threefry_2x32(key, count))  # a fresh function: not lowered before
    if jax.default_backend() == "cpu":
        assert "stablehlo.while" not in hash_fn.lower(jnp.zeros(2, jnp.uint32), jnp.zeros(8, jnp.uint32)).as_text()
    known = hash_fn(jnp.array([0x13198A2E, 0x03707344], jnp.uint32), jnp.array([0x243F6A88, 0x85A308D3], jnp.uint32))
    np.testing.assert_array_equal(np.asarray(known), np.array([0xC4923A9C, 0x483DF7A0], np.uint32))
    rng = np.random.default_rng(0)
    key = rng.integers(0, 2**32, 2, dtype=np.uint32)
    count = rng.integers(0, 2**32, 64, dtype=np.uint32)
    got = np.asarray(hash_fn(jnp.asarray(key), jnp.asarray(count)))
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(got, _threefry2x32_reference(key, count.reshape(2, -1)).reshape(-1))
