"""Runs a sweep: one compiled program per static group, its runs vmapped together.

For each group (see `sweeps.spec`) the runs' initial states are built from their own
variant configs (so hyperparameters and reward weights differ per run) and stacked on the
leading "runs" axis the trainer vmaps over. Before running, the program is compiled for
the whole group and XLA's memory estimate is compared with the memory available on the
device; a group that would not fit is split into chunks that run in turn (and the sweep
says so). Every chunk is an ordinary run directory; the sweep folder adds the tidy table,
per-run summary, aggregates and plots:

    <out>/
      sweep.json          the sweep spec and how it was grouped and chunked
      metrics.csv         one row per run x log point, a column per swept field
      summary.csv         one row per run: final gold/proxy return, success, evaluation return
                          and success (eval/*, when evaluation is on), swept values
      aggregate.csv       per variant: IQM and mean with stratified bootstrap 95% intervals
      learning_curves.png, final_returns.png
      groups/gGG-cCC/     the run directory of each compiled chunk
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time

import jax
import numpy as np

from jaxreward import checkpoint, results
from jaxreward.sweeps import spec as sweep_spec
from jaxreward.training.compile_cache import enable_compile_cache
from jaxreward.training.loop import train
from jaxreward.training.trainer import Trainer

#: Fraction of the available memory a chunk's estimated footprint may use.
MEMORY_HEADROOM = 0.8


@dataclasses.dataclass
class SweepResult:
    out_dir: str
    rows: list[dict]  # metrics.csv
    summary: list[dict]  # summary.csv
    aggregate: list[dict]  # aggregate.csv


def available_memory_bytes(device=None) -> int | None:
    """Free memory of `device`: the allocator's limit minus use on GPU/TPU, MemAvailable on CPU."""
    device = device or jax.devices()[0]
    try:
        stats = device.memory_stats()
    except Exception:
        stats = None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def footprint_bytes(compiled) -> int | None:
    """XLA's estimate of a compiled program's memory: arguments + outputs + temporaries."""
    try:
        m = compiled.memory_analysis()
    except Exception:
        return None
    if m is None:
        return None
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes)


def _stack(states: list):
    return jax.tree.map(lambda *xs: np.stack(xs), *states)


def _take(tree, idx):
    return jax.tree.map(lambda x: x[idx], tree)


def _initial_states(group: sweep_spec.Group) -> list:
    """Each run's state, built by its own variant's trainer (cached per variant config)."""
    trainers: dict = {}
    states = []
    for run in group.runs:
        cfg = dataclasses.replace(run.config, seed=0)
        if cfg not in trainers:
            trainers[cfg] = jax.jit(Trainer(cfg).init)
        states.append(jax.device_get(trainers[cfg](jax.random.PRNGKey(run.seed))))
    reference = jax.tree.structure(states[0])
    for run, state in zip(group.runs, states):
        if jax.tree.structure(state) != reference or any(
            np.shape(a) != np.shape(b) for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(states[0]))
        ):
            raise ValueError(f"sweep: run {run.labels} does not share its group's state layout; a swept field is static")
    return states


def _chunk_sizes(total: int, per_chunk: int) -> list[int]:
    """Split `total` runs into near-equal chunks of at most `per_chunk`."""
    n = math.ceil(total / per_chunk)
    base, extra = divmod(total, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def run_sweep(
    data: dict,
    out_dir: str | None = None,
    max_parallel_runs: int | None = None,
    progress: bool = True,
    compile_cache: bool = True,
    quiet: bool = False,
) -> SweepResult:
    """Runs every run of the sweep `data` (see `sweeps.spec`) and writes `out_dir`."""
    spec = sweep_spec.parse(data)
    groups = sweep_spec.groups(spec)  # validates every variant's config before compiling
    if max_parallel_runs is not None and max_parallel_runs <= 0:
        raise ValueError(f"max_parallel_runs must be positive, got {max_parallel_runs}")
    out_dir = out_dir or os.path.join("runs", f"sweep-{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    if os.path.exists(os.path.join(out_dir, "summary.csv")):
        raise FileExistsError(f"{out_dir!r} already holds a finished sweep; choose another --out")
    os.makedirs(out_dir, exist_ok=True)
    if compile_cache:
        enable_compile_cache()
    say = (lambda *a: None) if quiet else (lambda msg: print(msg, file=sys.stderr))
    total_runs = sum(len(g.runs) for g in groups)
    say(f"sweep {spec.name}: {total_runs} runs in {len(groups)} compiled group(s) "
        f"({len(spec.seeds)} seed(s) x {total_runs // len(spec.seeds)} variant(s))")

    bar = None
    if progress:
        from tqdm.auto import tqdm

        total_steps = sum(g.static_config.num_iterations * g.static_config.steps_per_iteration * len(g.runs) for g in groups)
        bar = tqdm(total=total_steps, unit="step", unit_scale=True, dynamic_ncols=True, file=sys.stderr, desc=f"sweep {spec.name}")

    layout = []
    rows: list[dict] = []
    compile_s = train_s = 0.0
    try:
        for gi, group in enumerate(groups):
            states = _initial_states(group)
            sizes = _chunk_sizes(len(states), max_parallel_runs or len(states))
            compiled = None
            if max_parallel_runs is None:
                t0 = time.perf_counter()
                sizes, compiled = _fit_memory(group, states, say, gi)
                compile_s += time.perf_counter() - t0  # the chunk reuses this executable
            start = 0
            for ci, size in enumerate(sizes):
                runs = group.runs[start : start + size]
                cfg = dataclasses.replace(group.static_config, seed=runs[0].seed, num_seeds=size)
                chunk_dir = os.path.join(out_dir, "groups", f"g{gi:02d}-c{ci:02d}")
                chunk_state = _stack(states[start : start + size])
                result = _run_chunk(cfg, chunk_dir, chunk_state, [r.labels for r in runs], bar, compile_cache,
                                    compiled if ci == 0 and size == len(states) else None)
                rows.extend(result["rows"])
                compile_s += result["compile_time_s"]
                train_s += result["train_time_s"]
                layout.append({"group": gi, "chunk": ci, "dir": os.path.relpath(chunk_dir, out_dir), "runs": [r.labels for r in runs]})
                start += size
    finally:
        if bar is not None:
            bar.close()

    summary = _final_rows(rows, spec)
    aggregate = _aggregate(summary, spec)
    with open(os.path.join(out_dir, "sweep.json"), "w") as f:
        json.dump({"spec": data, "groups": layout, "compile_time_s": round(compile_s, 2), "train_time_s": round(train_s, 2),
                   "device": str(jax.devices()[0].device_kind), "num_devices": jax.device_count()}, f, indent=2, default=str)
    _write_csv(os.path.join(out_dir, "metrics.csv"), rows)
    _write_csv(os.path.join(out_dir, "summary.csv"), summary)
    _write_csv(os.path.join(out_dir, "aggregate.csv"), aggregate)
    from jaxreward.analysis import plots

    plots.plot_sweep(out_dir)
    if not quiet:
        print(format_aggregate(aggregate, spec, out_dir, compile_s, train_s))
    return SweepResult(out_dir, rows, summary, aggregate)


def _fit_memory(group, states, say, gi):
    """Chunk sizes for the group, from XLA's memory estimate of the whole group's program."""
    cfg = group.static_config
    trainer = Trainer(cfg)
    full = jax.device_put(_stack(states), trainer.shardings(_stack(states)))
    compiled = trainer.chunk_fn(cfg.iterations_per_log).lower(full).compile()
    need, have = footprint_bytes(compiled), available_memory_bytes()
    if need is None or have is None or need <= MEMORY_HEADROOM * have:
        return [len(states)], compiled
    per_chunk = max(1, int(len(states) * MEMORY_HEADROOM * have / need))
    sizes = _chunk_sizes(len(states), per_chunk)
    say(f"sweep: group {gi} needs about {need / 2**30:.1f} GiB for {len(states)} runs but {have / 2**30:.1f} GiB are "
        f"free; running it in {len(sizes)} chunks of up to {max(sizes)} runs")
    return sizes, None


def _run_chunk(cfg, chunk_dir, state, labels, bar, compile_cache, compiled) -> dict:
    """One chunk as a run directory. Rerunning an interrupted sweep reuses a finished chunk,
    continues an unfinished one from its newest checkpoint (the base config's
    `checkpoint_every`), and restarts one that has none."""
    if os.path.exists(os.path.join(chunk_dir, "summary.json")):
        with open(os.path.join(chunk_dir, "summary.json")) as f:
            s = json.load(f)
        chunk_rows = results.read_metrics(os.path.join(chunk_dir, "metrics.csv"))
        if bar is not None:
            bar.update(cfg.num_iterations * cfg.steps_per_iteration * len(labels))
        return {"rows": chunk_rows, "compile_time_s": 0.0, "train_time_s": s.get("train_time_s", 0.0)}
    saved = checkpoint.steps(os.path.join(chunk_dir, "checkpoints"))
    resume = bool(saved)
    if os.path.exists(chunk_dir) and not resume:
        import shutil

        shutil.rmtree(chunk_dir)  # an unfinished chunk without a checkpoint restarts from scratch
    trainer = Trainer(cfg)
    state = jax.device_put(state, trainer.shardings(state))
    if resume and bar is not None:
        bar.update(int(saved[-1]) * len(labels))
    r = train(cfg, chunk_dir, resume=resume, progress=bar is not None, compile_cache=compile_cache, quiet=True,
              initial_state=state, run_labels=labels, bar=bar, precompiled=None if resume else compiled)
    return {"rows": r.rows, "compile_time_s": r.summary["compile_time_s"], "train_time_s": r.summary["train_time_s"], "state": r.state}


def _final_rows(rows: list[dict], spec) -> list[dict]:
    """Per run (variant, seed): its final values by `results.final_value`, the rule single-run
    and chunk summaries use, so summary.csv and the chunks' summary.json agree."""
    keys = ["variant", "seed"] + spec.swept_fields
    columns = ("gold_return", "proxy_return", "success", "eval/gold_return", "eval/success")
    finals = {col: results.final_value(rows, col) for col in columns if rows and col in rows[0]}
    by_run: dict = {}
    for r in rows:
        by_run.setdefault(results.run_key(r), []).append(r)
    out = []
    for run, run_rows in sorted(by_run.items()):
        row = {k: run_rows[0].get(k) for k in keys}
        row["env_steps"] = max(r["env_steps"] for r in run_rows)
        for col in columns:
            if col.startswith("eval/") and col not in finals:
                continue  # evaluation off: no column rather than a column of NaN
            row[col] = finals[col][run] if col in finals else float("nan")
        out.append(row)
    return out


def _aggregate(summary: list[dict], spec) -> list[dict]:
    """Per variant: IQM / mean of the final gold, proxy and evaluation returns over seeds, with
    95% intervals."""
    from jaxreward.analysis.aggregate import summarize_scores

    out = []
    for variant in sorted({r["variant"] for r in summary}):
        runs = [r for r in summary if r["variant"] == variant]
        row = {"variant": variant, **{k: runs[0].get(k) for k in spec.swept_fields}}
        for col in ("gold_return", "proxy_return", "eval/gold_return"):
            if col not in runs[0]:
                continue
            scores = np.array([r[col] for r in runs], np.float64)
            scores = scores[np.isfinite(scores)]
            if scores.size:
                stats = summarize_scores(scores)
                row |= {f"{col}_{k}": v for k, v in stats.items()}
        out.append(row)
    return out


def _write_csv(path: str, rows: list[dict]) -> None:
    import csv

    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def format_aggregate(aggregate: list[dict], spec, out_dir: str, compile_s: float, train_s: float) -> str:
    lines = [f"\n== sweep {spec.name}: {len(aggregate)} variant(s) x {len(spec.seeds)} seed(s) =="]
    for row in aggregate:
        swept = ", ".join(f"{k}={row[k]}" for k in spec.swept_fields) or "(base)"
        if "gold_return_iqm" in row:
            lines.append(f"  {swept:<48} gold IQM {row['gold_return_iqm']:9.2f} "
                         f"[{row['gold_return_iqm_low']:.2f}, {row['gold_return_iqm_high']:.2f}]")
        else:
            lines.append(f"  {swept:<48} no finished episodes")
    lines.append(f"  compile {compile_s:.1f}s   train {train_s:.1f}s")
    lines.append(f"  results in {out_dir}/ (metrics.csv, summary.csv, aggregate.csv, *.png, groups/)")
    return "\n".join(lines)
