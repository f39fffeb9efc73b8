"""Sweeps: a vmapped sweep equals its runs done one by one, chunking changes nothing,
static fields compile separately, the tables and plots agree, aggregation is right."""

import csv
import json
import os

import numpy as np
import pytest

from jaxreward.analysis import aggregate, plots
from jaxreward.sweeps import spec as sweep_spec
from jaxreward.sweeps.runner import run_sweep
from jaxreward.training import presets
from jaxreward.training.loop import train

TINY = {"env": "pendulum", "episode_length": 32, "num_envs": 8, "total_steps": 8 * 16 * 6, "num_log_points": 3,
        "ppo": {"unroll_length": 16, "num_minibatches": 4, "update_epochs": 2, "policy_hidden": [32], "value_hidden": [32]}}
WEIGHTS = ["gold:1.0", "gold:0.25"]
SWEEP = {"name": "weights", "base": TINY, "seeds": 2, "grid": {"reward.terms": WEIGHTS}}
# Columns that are timings, not results.
TIMING = {"steps_per_second", "wall_time_s"}


def _numeric(row):
    return {k: float(v) for k, v in row.items() if k not in TIMING and isinstance(v, (int, float))}


def _assert_rows_close(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        na, nb = _numeric(ra), _numeric(rb)
        shared = sorted(set(na) & set(nb))
        assert {"gold_return", "proxy_return", "ppo/approx_kl", "ppo/grad_norm"} <= set(shared)
        # Not bit for bit: XLA's CPU matmuls differ in the last bits between batch shapes
        # (see tests/test_training.py); seed-to-seed differences are orders larger.
        np.testing.assert_allclose([na[k] for k in shared], [nb[k] for k in shared], rtol=2e-3, atol=1e-4, err_msg=str(shared))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("sweep") / "s")
    return run_sweep(SWEEP, out, progress=False, compile_cache=False, quiet=True)


def test_grid_of_weights_is_one_compiled_group():
    groups = sweep_spec.groups(sweep_spec.parse(SWEEP))
    assert len(groups) == 1 and len(groups[0].runs) == 4
    assert [(r.labels["reward.terms"], r.seed) for r in groups[0].runs] == [(w, s) for w in WEIGHTS for s in (0, 1)]


def test_static_fields_split_into_groups():
    data = dict(SWEEP, grid={"ppo.update_epochs": [1, 2], "ppo.learning_rate": [1e-3, 3e-4]})
    groups = sweep_spec.groups(sweep_spec.parse(data))
    assert [len(g.runs) for g in groups] == [4, 4]
    assert {g.static_config.ppo.update_epochs for g in groups} == {1, 2}


def test_sweep_equals_runs_one_by_one(sweep, tmp_path):
    rows = sorted(sweep.rows, key=lambda r: (r["reward.terms"], r["seed"], r["env_steps"]))
    for terms in WEIGHTS:
        # Both seeds of a variant in one program (vmap over seeds is tested against single
        # runs in test_training.py)...
        settings = {k: v for k, v in TINY.items() if k != "env"}
        single = train(presets.config_for(TINY["env"], **settings, num_seeds=2, reward={"terms": terms}), str(tmp_path / terms.replace(":", "_")),
                       progress=False, compile_cache=False, quiet=True).rows
        mine = [r for r in rows if r["reward.terms"] == terms]
        _assert_rows_close(sorted(mine, key=lambda r: (r["seed"], r["env_steps"])), sorted(single, key=lambda r: (r["seed"], r["env_steps"])))
    # ...and the weights really change the result (the comparison above could fail).
    final = {(r["reward.terms"], r["seed"]): r["proxy_return"] for r in sweep.summary}
    assert not np.isclose(final[(WEIGHTS[0], 0)], final[(WEIGHTS[1], 0)], rtol=0.05)


def test_chunked_sweep_equals_unsplit(sweep, tmp_path):
    chunked = run_sweep(SWEEP, str(tmp_path / "c"), max_parallel_runs=3, progress=False, compile_cache=False, quiet=True)
    meta = json.load(open(os.path.join(chunked.out_dir, "sweep.json")))
    assert [len(c["runs"]) for c in meta["groups"]] == [2, 2]
    key = lambda r: (r["reward.terms"], r["seed"], r["env_steps"])
    _assert_rows_close(sorted(chunked.rows, key=key), sorted(sweep.rows, key=key))


def test_interrupted_sweep_continues_its_chunk_from_the_checkpoint(sweep, tmp_path):
    """A chunk stopped after its first checkpoint: rerunning the sweep with the same folder
    keeps the rows logged before the checkpoint (their wall times unchanged, so they were
    not recomputed) and continues to the same results as the uninterrupted sweep."""
    import shutil

    from jaxreward import checkpoint

    data = dict(SWEEP, base=dict(TINY, checkpoint_every=TINY["total_steps"] // 3))
    out = tmp_path / "s"
    run_sweep(data, str(out), progress=False, compile_cache=False, quiet=True)
    chunk = out / "groups" / "g00-c00"
    first, *later = checkpoint.steps(str(chunk / "checkpoints"))
    assert later, "the run saved only one checkpoint"
    # Make it the sweep a stop left behind: no chunk summary, no sweep tables, only the
    # first checkpoint, and the metrics written after it lost.
    for name in ("summary.csv", "sweep.json", "metrics.csv", "aggregate.csv"):
        os.remove(out / name)
    os.remove(chunk / "summary.json")
    for step in later:
        shutil.rmtree(chunk / "checkpoints" / str(step))
    with open(chunk / "metrics.csv") as f:
        kept = [r for r in csv.DictReader(f) if int(r["env_steps"]) <= first]
    assert kept and len(kept) < len(sweep.rows)

    resumed = run_sweep(data, str(out), progress=False, compile_cache=False, quiet=True)
    key = lambda r: (r["reward.terms"], r["seed"], r["env_steps"])
    _assert_rows_close(sorted(resumed.rows, key=key), sorted(sweep.rows, key=key))
    early = sorted((r for r in resumed.rows if r["env_steps"] <= first), key=key)
    assert [float(r["wall_time_s"]) for r in early] == [float(r["wall_time_s"]) for r in sorted(kept, key=lambda r: (r["reward.terms"], int(r["seed"]), int(r["env_steps"])))]


def test_tables_and_plots_agree(sweep):
    out = sweep.out_dir
    for name in ("metrics.csv", "summary.csv", "aggregate.csv", "learning_curves.png", "final_returns.png", "learning_curves.csv", "final_returns.csv"):
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    with open(os.path.join(out, "metrics.csv")) as f:
        table = list(csv.DictReader(f))
    assert len(table) == 4 * 3 and {"reward.terms", "seed", "variant", "env_steps", "gold_return"} <= set(table[0])
    # The curve figure's data is the per-log-point mean of the table.
    with open(os.path.join(out, "learning_curves.csv")) as f:
        drawn = [r for r in csv.DictReader(f) if r["column"] == "gold_return"]
    for d in drawn:
        vals = [float(r["gold_return"]) for r in table
                if f"reward.terms={r['reward.terms']}" == d["group"] and int(r["env_steps"]) == int(d["env_steps"])]
        vals = [v for v in vals if np.isfinite(v)]
        assert np.isclose(float(d["mean"]), np.mean(vals), rtol=1e-5)
        assert float(d["low"]) <= float(d["mean"]) <= float(d["high"])
    # The bar figure's data is the IQM of summary.csv's final returns per variant.
    with open(os.path.join(out, "final_returns.csv")) as f:
        bars = list(csv.DictReader(f))
    assert len(bars) == 2
    for b in bars:
        finals = [r["gold_return"] for r in sweep.summary if f"reward.terms={r['reward.terms']}" == b["group"]]
        assert np.isclose(float(b["iqm"]), aggregate.iqm(finals), rtol=1e-5)
    # Replotting from the folder (the `jaxreward plot` path) writes the same figures.
    assert [os.path.basename(p) for p in plots.plot(out)] == ["learning_curves.png", "final_returns.png"]


def test_chunk_summary_keeps_variants_that_share_a_seed_apart(sweep):
    """The chunk's summary.json has one final value per (variant, seed), equal to summary.csv's."""
    (chunk,) = json.load(open(os.path.join(sweep.out_dir, "sweep.json")))["groups"]
    with open(os.path.join(sweep.out_dir, chunk["dir"], "summary.json")) as f:
        summary = json.load(f)
    assert summary["seeds"] == [0, 1, 0, 1]
    for col in ("gold_return", "proxy_return", "eval/gold_return"):
        per_run = summary[col]["per_run"]
        assert sorted(per_run) == ["variant=0, seed=0", "variant=0, seed=1", "variant=1, seed=0", "variant=1, seed=1"]
        for r in sweep.summary:
            assert per_run[f"variant={r['variant']}, seed={r['seed']}"] == pytest.approx(r[col], rel=1e-6), col
    # The proxy is the weighted gold reward over the same episodes: each run's proxy return is
    # its variant's weight times its gold return, which a merge of two variants would break.
    gold, proxy = summary["gold_return"]["per_run"], summary["proxy_return"]["per_run"]
    for variant, weight in enumerate((1.0, 0.25)):
        for seed in (0, 1):
            run = f"variant={variant}, seed={seed}"
            assert proxy[run] == pytest.approx(weight * gold[run], rel=1e-4), run


def test_final_value_is_per_run_and_uses_the_single_run_window():
    from jaxreward import results
    from jaxreward.sweeps.runner import _final_rows

    # Two variants share seed 0; 15 log points -> the last round(1.5) = 2 are averaged.
    rows = [{"env_steps": step, "variant": v, "seed": 0, "gold_return": float(10 * v + step), "proxy_return": 0.0, "success": 0.0}
            for v in (0, 1) for step in range(1, 16)]
    assert results.final_value(rows, "gold_return") == {(0, 0): 14.5, (1, 0): 24.5}
    spec = sweep_spec.parse(SWEEP)
    assert [(r["variant"], r["gold_return"]) for r in _final_rows(rows, spec)] == [(0, 14.5), (1, 24.5)]
    # One config's seeds: keyed by seed alone, written under "per_seed".
    single = [{"env_steps": 1, "seed": s, "gold_return": float(s)} for s in (3, 4)]
    assert results.summarize(single, ["gold_return"], {})["gold_return"]["per_seed"] == {"3": 3.0, "4": 4.0}


def test_bad_sweep_specs_name_the_key():
    with pytest.raises(ValueError, match="grid.ppo.learning_rate"):
        sweep_spec.parse({"grid": {"ppo.learning_rate": 3e-4}})
    with pytest.raises(ValueError, match="unknown key"):
        sweep_spec.parse({"grdi": {}})
    with pytest.raises(ValueError, match="random.num_samples"):
        sweep_spec.parse({"random": {"ppo.learning_rate": {"uniform": [0, 1]}}})
    with pytest.raises(ValueError, match="ppo.learning_rat"):
        sweep_spec.groups(sweep_spec.parse({"base": TINY, "grid": {"ppo.learning_rat": [1.0]}}))


def test_random_search_is_reproducible():
    data = {"base": TINY, "random": {"num_samples": 5, "seed": 3, "ppo.learning_rate": {"log_uniform": [1e-4, 1e-2]},
                                     "ppo.update_epochs": {"choice": [1, 2]}}}
    a, b = sweep_spec.variants(sweep_spec.parse(data)), sweep_spec.variants(sweep_spec.parse(data))
    assert a == b and len(a) == 5
    assert all(1e-4 <= v["ppo.learning_rate"] <= 1e-2 and v["ppo.update_epochs"] in (1, 2) for v in a)
    # The samples come from the seed: another seed draws other learning rates.
    other = sweep_spec.variants(sweep_spec.parse(dict(data, random=dict(data["random"], seed=4))))
    assert [v["ppo.learning_rate"] for v in other] != [v["ppo.learning_rate"] for v in a]


# ---- aggregation ------------------------------------------------------------------------

FIXED = np.array([[0.1, 5.0], [0.4, 3.0], [0.35, 9.0], [0.8, 1.0], [0.55, 2.0], [0.2, 7.0], [0.9, 4.0], [0.65, 6.0]])


def test_iqm_matches_scipy_trimmed_mean():
    from scipy.stats import trim_mean

    assert np.isclose(aggregate.iqm(FIXED), trim_mean(FIXED.ravel(), 0.25))
    # By hand: 16 scores, the middle 8 after sorting.
    assert np.isclose(aggregate.iqm(FIXED), np.sort(FIXED.ravel())[4:12].mean())


def test_stratified_bootstrap_interval_against_reference():
    """Against rliable when installed; always against a plain-loop implementation of the
    same estimator (resample runs within each task, IQM of the pooled scores)."""
    low, high = aggregate.stratified_bootstrap_ci(FIXED, reps=4000, seed=1)
    rng = np.random.default_rng(7)
    stats = []
    for _ in range(4000):
        cols = [FIXED[rng.integers(0, 8, 8), t] for t in range(2)]
        stats.append(np.sort(np.concatenate(cols))[4:12].mean())
    ref_low, ref_high = np.percentile(stats, [2.5, 97.5])
    spread = ref_high - ref_low
    assert abs(low - ref_low) < 0.1 * spread and abs(high - ref_high) < 0.1 * spread
    assert low < aggregate.iqm(FIXED) < high
    try:
        from rliable import library as rly
        from rliable import metrics as rlm
    except ImportError:
        return
    point, ci = rly.get_interval_estimates({"x": FIXED}, lambda s: np.array([rlm.aggregate_iqm(s)]), reps=4000)
    assert np.isclose(point["x"][0], aggregate.iqm(FIXED))
    assert abs(ci["x"][0, 0] - low) < 0.1 * spread and abs(ci["x"][1, 0] - high) < 0.1 * spread


def test_cli_sweep_and_plot(tmp_path, capsys):
    from jaxreward.cli import main

    out = str(tmp_path / "cli")
    args = ["sweep", "--set", "env=pendulum", "--set", "episode_length=32", "--set", "num_envs=8", "--set", "total_steps=512",
            "--set", "num_log_points=2", "--set", "ppo.unroll_length=16", "--set", "ppo.policy_hidden=[16]",
            "--set", "ppo.value_hidden=[16]", "--grid", "ppo.learning_rate=0.001,0.0001", "--seeds", "1", "--out", out,
            "--no-progress", "--no-compile-cache"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "ppo.learning_rate=0.001" in printed and "gold IQM" in printed
    with open(os.path.join(out, "summary.csv")) as f:
        assert len(list(csv.DictReader(f))) == 2
    assert main(["plot", out, "--tensorboard"]) == 0
    assert os.listdir(os.path.join(out, "tensorboard"))
    # A chunk's run directory plots as a run.
    chunk = os.path.join(out, "groups", "g00-c00")
    assert main(["plot", chunk]) == 0 and os.path.isfile(os.path.join(chunk, "learning_curves.png"))


def test_cli_sweep_bad_field_fails_before_compiling(capsys):
    from jaxreward.cli import main

    assert main(["sweep", "--grid", "ppo.learning_rat=0.1,0.2", "--no-progress"]) == 2
    assert "ppo.learning_rat" in capsys.readouterr().err
    assert main(["plot", "/nonexistent/run"]) == 2


def test_multi_host_settings_are_checked(monkeypatch):
    from jaxreward.training import distributed

    for var in distributed.ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    assert distributed.initialize() is False  # single host: nothing to do
    with pytest.raises(ValueError, match="give all of coordinator address"):
        distributed.initialize(coordinator_address="10.0.0.1:1234")
    monkeypatch.setenv("JAXREWARD_NUM_PROCESSES", "two")
    with pytest.raises(ValueError, match="JAXREWARD_NUM_PROCESSES must be an integer"):
        distributed.initialize()
    with pytest.raises(ValueError, match=r"process id 3 is not in \[0, 2\)"):
        distributed.initialize(coordinator_address="10.0.0.1:1234", num_processes=2, process_id=3)


def test_example_sweep_file_is_one_program():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    groups = sweep_spec.groups(sweep_spec.parse(sweep_spec.load(os.path.join(here, "experiments", "sweeps", "pendulum_lr.yaml"))))
    assert len(groups) == 1 and len(groups[0].runs) == 3 * 2 * 4


def test_evaluation_videos_during_training(tmp_path):
    from jaxreward.video import read_gif

    settings = {k: v for k, v in TINY.items() if k != "env"}
    cfg = presets.config_for("pendulum", **dict(settings, total_steps=8 * 16 * 4, num_log_points=2, video_every=1, video_size=32))
    run = train(cfg, str(tmp_path / "run"), progress=False, compile_cache=False, quiet=True)
    names = sorted(os.listdir(os.path.join(run.run_dir, "videos")))
    assert names == ["env_steps_256.gif", "env_steps_512.gif"]
    frames = read_gif(os.path.join(run.run_dir, "videos", names[-1])).astype(np.int32)
    assert frames.shape == (32 + 1, 32, 32, 3)  # reset frame + one full episode
    assert np.abs(frames[0] - frames[16]).sum() > 0  # the pendulum moves
    with pytest.raises(ValueError, match="video_every must be >= 0"):
        presets.config_for("pendulum", video_every=-1)


def test_group_that_does_not_fit_in_memory_is_split_and_says_so(tmp_path, monkeypatch, capsys):
    from jaxreward.sweeps import runner

    # XLA's estimate says the 4-run program needs 4 GB; 2.5 GB are free -> 2 chunks of 2.
    monkeypatch.setattr(runner, "footprint_bytes", lambda compiled: 4 * 10**9)
    monkeypatch.setattr(runner, "available_memory_bytes", lambda device=None: int(2.5 * 10**9))
    result = run_sweep(SWEEP, str(tmp_path / "m"), progress=False, compile_cache=False)
    meta = json.load(open(os.path.join(result.out_dir, "sweep.json")))
    assert [len(c["runs"]) for c in meta["groups"]] == [2, 2]
    assert "running it in 2 chunks of up to 2 runs" in capsys.readouterr().err
