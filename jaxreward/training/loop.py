"""The host loop: compile once, run chunks, log, check for NaNs, checkpoint, summarise.

Between chunks of `iterations_per_log` compiled iterations the host updates the progress
bar, evaluates the deterministic policy on the gold reward (`policy_eval`), appends to
metrics.csv, checks every loss and parameter for non-finite values, and saves a checkpoint
when one is due. A non-finite value stops the run with
`TrainingDiverged`, naming the env step and the quantity; the last good checkpoint is
kept untouched.

Throughput is a property of the process that measured it. A resumed run's summary divides
the env steps this process trained (`env_steps_this_process`, all runs together) by this
process's training time (`train_time_s`, compiled chunks only): dividing all the run's env
steps by it would credit the resumed process with the steps of the one before. metrics.csv's
`steps_per_second` is each log chunk's own throughput; its `wall_time_s` is the host loop's
wall time summed over the processes that trained the run, so it keeps rising across a resume.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

import jax
import numpy as np

from jaxreward import checkpoint, results
from jaxreward.analysis import plots
from jaxreward.training.compile_cache import enable_compile_cache
from jaxreward.training.config import TrainConfig
from jaxreward.training.policy_eval import PolicyEvaluation
from jaxreward.training.trainer import Trainer, TrainState

#: Config fields a resumed run may change (they do not alter the compiled program's state).
RESUMABLE_CHANGES = {"total_steps", "num_log_points", "checkpoint_every", "video_every", "video_size", "eval_episodes"}


class TrainingDiverged(RuntimeError):
    """A loss or parameter became NaN or infinite."""


@dataclasses.dataclass
class RunResult:
    run_dir: str
    state: TrainState
    rows: list[dict]
    summary: dict


def default_run_dir(cfg: TrainConfig) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    reward = cfg.reward.terms.replace(",", "+").replace(":", "_").replace("=", "")
    return os.path.join("runs", f"{cfg.env}-{reward}-{cfg.learner}-{stamp}")


def _check_resume_config(run_dir: str, cfg: TrainConfig) -> None:
    try:
        saved = results.read_config(run_dir)
    except (OSError, ValueError) as e:
        raise checkpoint.CheckpointError(f"cannot resume: {run_dir}/config.json is missing or unreadable ({e})") from e
    now = cfg.to_dict()
    now_json = results.json.loads(results.json.dumps(now, default=str))
    diff = sorted(k for k in now_json if k not in RESUMABLE_CHANGES and now_json[k] != saved.get(k))
    if diff:
        details = "; ".join(f"{k}: saved {saved.get(k)!r}, now {now_json[k]!r}" for k in diff)
        raise checkpoint.CheckpointError(f"cannot resume {run_dir}: the config differs from the saved run ({details})")


def _restore_for_resume(ckpt_dir: str, template: TrainState, strict: bool) -> TrainState:
    if strict:
        try:
            return checkpoint.restore(ckpt_dir, template)
        except checkpoint.CheckpointUnreadable as e:
            raise checkpoint.CheckpointError(
                f"{e}; without --resume-strict, --resume falls back to the newest readable checkpoint"
            ) from e
    restored, step, notes = checkpoint.restore_newest_readable(ckpt_dir, template)
    for note in notes:
        print(f"jaxreward: {note}", file=sys.stderr)
    if notes:
        print(f"jaxreward: resuming from checkpoint {step}, the newest readable one in {ckpt_dir}", file=sys.stderr)
    return restored


def _episode_stream(name: str) -> bool:
    return name.endswith("_return") or name.startswith("term_return/") or name in ("success", "episode_length")


def _first_nonfinite(metrics: dict, state: TrainState) -> str | None:
    """Names the first non-finite metric (with its iteration in the chunk) or parameter.

    Episode statistics are NaN by design until the first episode ends; they are skipped.
    """
    for name, values in metrics.items():
        if _episode_stream(name) or name == "episodes":
            continue
        arr = np.asarray(values)
        if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
            bad_iter = int(np.argwhere(~np.isfinite(arr))[0][-1])
            return f"metric {name!r} (iteration {bad_iter} of the chunk)"
    for path, leaf in jax.tree_util.tree_flatten_with_path((state.learner, state.reward))[0]:
        arr = np.asarray(leaf)
        if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
            return f"parameter or optimiser state {jax.tree_util.keystr(path)}"
    return None


def _rows(metrics: dict, env_steps: int, labels: list[dict], sps: float, wall: float) -> list[dict]:
    """Per-run CSV rows from chunk metrics ([S, n_iter] each); `labels[i]` (seed, swept
    values) leads run i's row.

    Episode statistics are averaged over the episodes that ended in the chunk (weighted by
    each iteration's count; the last carried value if none ended); "episodes" is summed;
    everything else is the chunk mean.
    """
    rows = []
    counts = np.asarray(metrics["episodes"])
    for i, label in enumerate(labels):
        row = {"env_steps": env_steps, **label, "steps_per_second": sps, "wall_time_s": wall}
        for name, values in metrics.items():
            v = np.asarray(values)[i]
            if name == "episodes":
                row[name] = float(v.sum())
            elif _episode_stream(name):
                c = counts[i]
                ended = c > 0
                row[name] = float((v[ended] * c[ended]).sum() / c[ended].sum()) if ended.any() else float(v[-1])
            else:
                row[name] = float(v.mean())
        rows.append(row)
    return rows


def train(
    cfg: TrainConfig,
    run_dir: str | None = None,
    resume: bool | str = False,
    progress: bool = True,
    compile_cache: bool = True,
    quiet: bool = False,
    initial_state: TrainState | None = None,
    run_labels: list[dict] | None = None,
    bar=None,
    precompiled=None,
) -> RunResult:
    """Trains `cfg.num_seeds` seeds in one compiled program and writes the run directory.

    Sweeps pass `initial_state` (runs stacked on the leading axis, each initialised from its
    own variant's config), `run_labels` (one dict of swept values per run, written as CSV
    columns), a shared progress `bar`, and the executable they compiled for that state
    (`precompiled`, for chunks of `cfg.iterations_per_log` iterations).

    `resume=True` continues the run in `run_dir` from its newest readable checkpoint: newer
    unreadable ones are moved aside and reported on stderr, one line each, with the step
    resumed from. `resume="strict"` insists on the newest and raises CheckpointError if it
    cannot be read. A checkpoint that cannot be written stops the run with CheckpointError.
    """
    trainer = Trainer(cfg)  # validates the config before anything compiles
    if resume not in (False, True, "strict"):
        raise ValueError(f"resume must be False, True or 'strict', got {resume!r}")
    run_dir = run_dir or default_run_dir(cfg)
    ckpt_dir = os.path.join(run_dir, "checkpoints")
    if compile_cache:
        enable_compile_cache()

    labels = run_labels or [{"seed": cfg.seed + i} for i in range(cfg.num_seeds)]
    if initial_state is not None:
        state = initial_state
    else:
        state = trainer.init_seeds(trainer.seed_keys())
    if len(labels) != int(np.shape(state.iteration)[0]):
        raise ValueError(f"run_labels has {len(labels)} entries for {np.shape(state.iteration)[0]} runs")
    metrics_csv_path = os.path.join(run_dir, "metrics.csv")
    if resume:
        if not checkpoint.steps(ckpt_dir):
            raise checkpoint.CheckpointError(f"cannot resume: no checkpoint in {ckpt_dir!r}")
        _check_resume_config(run_dir, cfg)
        restored = _restore_for_resume(ckpt_dir, state, strict=resume == "strict")
        state = jax.device_put(restored, trainer.shardings(restored))
    else:
        if os.path.exists(metrics_csv_path) or checkpoint.steps(ckpt_dir):
            raise FileExistsError(f"{run_dir!r} already holds a run; pass --resume to continue it or choose another --out")
        os.makedirs(run_dir, exist_ok=True)
        results.write_config(run_dir, cfg.to_dict())

    videos = None
    if cfg.video_every:
        from jaxreward.training.eval_video import EvalVideo

        videos = EvalVideo(trainer, cfg.video_size)  # checks the env can render before compiling
    evaluation = PolicyEvaluation(trainer, [label["seed"] for label in labels]) if cfg.eval_episodes else None

    per_iter = cfg.steps_per_iteration
    done_iters = int(np.asarray(state.iteration)[0])
    csv_out = results.MetricsCSV(metrics_csv_path)
    csv_out.truncate_after(done_iters * per_iter)
    rows = results.read_metrics(metrics_csv_path) if os.path.exists(metrics_csv_path) else []
    start_steps = done_iters * per_iter
    # The kept rows end at the restored checkpoint; wall time continues from the last of them.
    earlier_wall = float(rows[-1].get("wall_time_s", 0.0)) if rows else 0.0
    earlier_wall = earlier_wall if np.isfinite(earlier_wall) else 0.0

    # Compile ahead of time so compile time is measured and reported on its own.
    t0 = time.perf_counter()
    compiled: dict[int, object] = {cfg.iterations_per_log: precompiled} if precompiled is not None else {}

    def compiled_chunk(n: int):
        if n not in compiled:
            compiled[n] = trainer.chunk_fn(n).lower(state).compile()
        return compiled[n]

    remaining = cfg.num_iterations - done_iters
    if remaining > 0:
        compiled_chunk(min(cfg.iterations_per_log, remaining))
        if evaluation is not None:
            evaluation.compile(state)
    compile_time = time.perf_counter() - t0

    own_bar = bar is None
    if progress and own_bar:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.num_iterations * per_iter, initial=done_iters * per_iter, unit="step", unit_scale=True,
                   dynamic_ncols=True, file=sys.stderr, desc=f"{cfg.env}/{cfg.reward.terms}")

    last_ckpt = start_steps
    train_time = 0.0
    run_start = time.perf_counter()
    try:
        while done_iters < cfg.num_iterations:
            n = min(cfg.iterations_per_log, cfg.num_iterations - done_iters)
            fn = compiled_chunk(n)  # a shorter last chunk compiles once more
            t = time.perf_counter()
            state, metrics = fn(state)
            metrics = jax.device_get(metrics)
            dt = time.perf_counter() - t
            train_time += dt
            done_iters += n
            env_steps = done_iters * per_iter
            bad = _first_nonfinite(metrics, state)
            if bad is not None:
                last_good = checkpoint.steps(ckpt_dir)
                kept = f"last good checkpoint: step {last_good[-1]} in {ckpt_dir}" if last_good else "no checkpoint was saved yet"
                raise TrainingDiverged(
                    f"non-finite {bad} in the chunk ending at env step {env_steps}; training stopped ({kept})"
                )
            sps = n * per_iter * len(labels) / dt
            # Outside the timed chunk: evaluation counts in wall time, not in training throughput.
            evals = evaluation(state, env_steps) if evaluation is not None else [{}] * len(labels)
            new_rows = _rows(metrics, env_steps, labels, sps, earlier_wall + time.perf_counter() - run_start)
            for row, ev in zip(new_rows, evals):
                row.update(ev)
            csv_out.append(new_rows)
            rows.extend(new_rows)
            if bar is not None:
                # A sweep's shared bar counts the env steps of all its runs.
                bar.update(n * per_iter * (1 if own_bar else len(labels)))
                bar.set_postfix(
                    sps=f"{sps:,.0f}",
                    gold=f"{np.mean([r['gold_return'] for r in new_rows]):.1f}",
                    proxy=f"{np.mean([r['proxy_return'] for r in new_rows]):.1f}",
                )
            log_index = done_iters // cfg.iterations_per_log
            if videos is not None and (log_index % cfg.video_every == 0 or done_iters >= cfg.num_iterations):
                videos.write(state, os.path.join(run_dir, "videos", f"env_steps_{env_steps}.gif"))
            if cfg.checkpoint_every and env_steps - last_ckpt >= cfg.checkpoint_every:
                checkpoint.save(ckpt_dir, env_steps, state)
                last_ckpt = env_steps
    finally:
        if bar is not None and own_bar:
            bar.close()

    final_steps = done_iters * per_iter
    steps_here = (final_steps - start_steps) * len(labels)
    if final_steps not in checkpoint.steps(ckpt_dir):
        checkpoint.save(ckpt_dir, final_steps, state)

    columns = ["gold_return", "proxy_return", "success", "eval/gold_return", "eval/success"] + sorted(
        k for k in (rows[0] if rows else {}) if k.startswith("term_return/")
    )
    summary = results.summarize(
        rows,
        columns,
        {
            "env": cfg.env,
            "reward": cfg.reward.terms,
            "learner": cfg.learner,
            "num_seeds": cfg.num_seeds,
            "seeds": [label["seed"] for label in labels],
            "env_steps_per_seed": final_steps,
            "env_steps_this_process": steps_here,
            "compile_time_s": round(compile_time, 2),
            "train_time_s": round(train_time, 4),
            "steps_per_second": round(steps_here / train_time, 1) if train_time else None,
            "device": str(jax.devices()[0].device_kind),
            "final_window": "mean over the last 10% of log points",
        },
    )
    results.write_summary(run_dir, summary)
    if rows:
        results.plot_learning_curve(rows, os.path.join(run_dir, "learning_curve.png"), plots.run_title(cfg.to_dict()))
    if not quiet:
        print(format_summary(summary, run_dir))
    return RunResult(run_dir, state, rows, summary)


def format_summary(summary: dict, run_dir: str) -> str:
    lines = [f"\n== {summary['env']} | reward {summary['reward']} | {summary['learner']} | {summary['num_seeds']} seed(s) =="]
    for col in ("gold_return", "proxy_return", "success", "eval/gold_return", "eval/success"):
        if col in summary:
            s = summary[col]
            lines.append(f"  {col:<16} {s['mean']:10.2f} ± {s['std']:.2f}   (min {s['min']:.2f}, max {s['max']:.2f})")
    lines.append(
        f"  env steps/seed {summary['env_steps_per_seed']:,}   compile {summary['compile_time_s']:.1f}s   "
        f"train {summary['train_time_s']:.1f}s   {summary['steps_per_second'] or 0:,.0f} steps/s"
    )
    lines.append(f"  results in {run_dir}/ (metrics.csv, summary.json, learning_curve.png, checkpoints/)")
    return "\n".join(lines)
