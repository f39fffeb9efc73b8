"""Reward-model overoptimisation in control: gold vs proxy return as PPO optimises a learned reward.

After Gao, Schulman, Hilton, "Scaling Laws for Reward Model Overoptimization" (ICML 2023):
the gold reward labels data for a proxy reward model; a policy optimises the proxy; with
d = sqrt(KL(π ‖ π_init)) the gold reward follows R(d) = d(α − β log d) for RL (and
d(α − β d) for best-of-n). Here the gold reward is the environment's task reward, the
proxy is the `preference` reward model (a Bradley–Terry ensemble) fitted once, on N
synthetic preferences from the oracle teacher over segments of the *initial* policy's
rollouts (all labels in the first feedback session, then frozen — Gao et al.'s setting),
and PPO optimises it while `ppo/kl_to_init` tracks the pressure. Ensembles: the proxy is
the members' mean − k·std, k = 0 (plain mean) and k = 1 ("Helping or Herding?",
Eisenstein et al. 2023: pessimism mitigates but does not remove overoptimisation).

Variants that differ only in vmappable leaves — the feedback budget N, the pessimism k,
the seed — are one compiled program. Reported: gold and proxy return vs env steps and vs
d, and the least-squares fit of the gold return to both functional forms (plus the
initial gold return c, since the first log point already has d > 0), with R².

Transforms: each reward-hacking transform of `rewards/transforms.py` (PAR sigmoid,
log-sigmoid centring, clipping, delta form) wraps the proxy as a term option
(`preference:1:transform=par`), centred on the initial policy's proxy reward.

Deviations: d is the square root of the *per-step* KL averaged over visited states (a
control policy has no sequence-level KL). Model sizes and transforms are static, so each
is its own program (`--scale paper` runs 3 sizes × 5 transforms).

    python -m experiments.overoptimisation --scale smoke   # pendulum, N in {30, 300}, k in {0, 1}: 1 program
    python -m experiments.overoptimisation --scale paper   # more N, 3 model sizes, 5 seeds, longer

Writes results/overoptimisation/: overoptimisation.png, curves.csv (every log point of every
run), fits.csv (α, β, R² per variant and form) and command.txt.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments import pbrl_runs
from jaxreward.rewards import transforms
from jaxreward.training import loop, presets
from jaxreward.training.trainer import Trainer

PREFERENCE = dict(initial_fraction=1.0, feedback_every=10_000, grad_steps=400, teacher="oracle",
                  aggregation="mean_minus_std", heldout_pairs=64)
SCALES = {
    "smoke": dict(env="pendulum", budgets=(30, 300), pessimism=(0.0, 1.0), seeds=1, sizes=((32, 32),),
                  transforms=("none",), total_steps=196_608, num_log_points=12),
    "paper": dict(env="pendulum", budgets=(10, 30, 100, 300, 1000, 3000), pessimism=(0.0, 1.0), seeds=5,
                  sizes=((16,), (64, 64), (256, 256)), transforms=("none", "par", "log_sigmoid", "clip", "delta"),
                  total_steps=2_000_000, num_log_points=40),
}


def run_size(cfg: dict, hidden: tuple[int, ...], transform: str = "none", total_steps: int | None = None) -> list[dict]:
    """Every budget × pessimism × seed for one reward-model size and transform, as one program."""
    runs = [(n, k, s) for n in cfg["budgets"] for k in cfg["pessimism"] for s in range(cfg["seeds"])]
    pref = dict(PREFERENCE, budget=max(cfg["budgets"]), hidden=hidden)
    tcfg = presets.config_for(cfg["env"], total_steps=total_steps or cfg["total_steps"], num_log_points=cfg["num_log_points"],
                              num_seeds=len(runs), ppo=dict(track_kl_to_init=True),
                              reward={"terms": f"preference:1:transform={transform}", "preference": pref})
    trainer = Trainer(tcfg)
    state = trainer.init_seeds(jnp.stack([jax.random.PRNGKey(s) for _, _, s in runs]))
    term = state.reward.terms[0]
    pstate = term.inner if transform != "none" else term  # a transform wraps the preference state
    pstate = pstate.replace(budget=jnp.asarray([n for n, _, _ in runs], jnp.int32),
                            pessimism=jnp.asarray([k for _, k, _ in runs], jnp.float32))
    term = term.replace(inner=pstate) if transform != "none" else pstate
    state = state.replace(reward=state.reward.replace(terms=(term,)))
    state = jax.device_put(state, trainer.shardings(state))
    chunk = trainer.chunk_fn(tcfg.iterations_per_log)
    rows, done, start = [], 0, time.perf_counter()
    while done < tcfg.num_iterations:
        state, metrics = chunk(state)
        metrics = jax.device_get(metrics)
        done += tcfg.iterations_per_log
        bad = loop._first_nonfinite(metrics, state)
        if bad is not None:
            raise loop.TrainingDiverged(f"non-finite {bad} at iteration {done}")
        for i, (n, k, seed) in enumerate(runs):
            rows.append(dict(model=",".join(map(str, hidden)), transform=transform, budget=n, pessimism=k, seed=seed,
                             env_steps=done * tcfg.steps_per_iteration,
                             gold_return=_episode_mean(metrics, "gold_return", i),
                             proxy_return=_episode_mean(metrics, "proxy_return", i),
                             kl_to_init=float(np.asarray(metrics["ppo/kl_to_init"])[i].mean()),
                             accuracy_heldout=float(np.asarray(metrics["reward_model/preference/accuracy_heldout"])[i, -1]),
                             queries=float(np.asarray(metrics["reward_model/preference/queries"])[i, -1])))
        print(f"  model {hidden}, transform {transform}: {done * tcfg.steps_per_iteration:,} steps/run, {time.perf_counter() - start:.0f}s",
              file=sys.stderr, flush=True)
    return rows


def _episode_mean(metrics: dict, name: str, run: int) -> float:
    """Run `run`'s episode return over the chunk, weighted by episodes that ended (NaN if none)."""
    count = np.asarray(metrics["episodes"])[run]
    value = np.asarray(metrics[name])[run]
    ended = count > 0
    return float((value[ended] * count[ended]).sum() / count[ended].sum()) if ended.any() else math.nan


def read_curves(path: str) -> list[dict]:
    """Rows of curves.csv with numbers parsed back."""
    import csv

    ints = {"budget", "seed", "env_steps"}
    with open(path, newline="") as f:
        return [{k: (v if k in ("model", "transform") else int(v) if k in ints else float(v)) for k, v in r.items()} for r in csv.DictReader(f)]


def fit_forms(d: np.ndarray, gold: np.ndarray) -> dict:
    """Least squares of gold(d) = c + d(α − β log d) (RL) and c + d(α − β d) (best-of-n).

    Gao et al. fit the gain over the initial policy, whose d is 0; our first log point is
    already some updates in (d > 0), so the initial gold return c is fitted too.
    """
    out = {}
    ok = np.isfinite(gold) & (d > 0)
    d, gold = d[ok], gold[ok]
    for form, feature in (("rl", -d * np.log(np.maximum(d, 1e-12))), ("bon", -d * d)):
        if len(d) < 4:
            out[form] = dict(alpha=math.nan, beta=math.nan, c=math.nan, r2=math.nan)
            continue
        X = np.stack([d, feature, np.ones_like(d)], 1)
        coef, *_ = np.linalg.lstsq(X, gold, rcond=None)
        resid = gold - X @ coef
        r2 = 1.0 - resid @ resid / max(((gold - gold.mean()) ** 2).sum(), 1e-12)
        out[form] = dict(alpha=float(coef[0]), beta=float(coef[1]), c=float(coef[2]), r2=float(r2))
    return out


def fits(rows: list[dict]) -> list[dict]:
    out = []
    for key in sorted({_variant(r) for r in rows}):
        sel = [r for r in rows if _variant(r) == key]
        d = np.array([math.sqrt(max(r["kl_to_init"], 0.0)) for r in sel])
        gold = np.array([r["gold_return"] for r in sel])
        peak = max(sel, key=lambda r: r["gold_return"] if np.isfinite(r["gold_return"]) else -math.inf)
        last = max(sel, key=lambda r: r["env_steps"])
        for form, f in fit_forms(d, gold).items():
            out.append(dict(model=key[0], transform=key[1], budget=key[2], pessimism=key[3], form=form, **f,
                            peak_gold_return=peak["gold_return"], peak_env_steps=peak["env_steps"],
                            final_gold_return=last["gold_return"], final_proxy_return=last["proxy_return"],
                            final_sqrt_kl=math.sqrt(max(last["kl_to_init"], 0.0))))
    return out


def _variant(r: dict) -> tuple:
    return r["model"], r.get("transform", "none"), r["budget"], r["pessimism"]


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = sorted({_variant(r) for r in rows})
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), dpi=110)
    for i, v in enumerate(variants):
        sel = [r for r in rows if _variant(r) == v]
        steps = sorted({r["env_steps"] for r in sel})
        mean = lambda key, s: np.nanmean([r[key] for r in sel if r["env_steps"] == s])  # noqa: E731
        label = (f"N={v[2]}, k={v[3]:g}" + (f", model {v[0]}" if len({x[0] for x in variants}) > 1 else "")
                 + (f", {v[1]}" if len({x[1] for x in variants}) > 1 else ""))
        style = dict(color=f"C{i}")
        axes[0].plot(steps, [mean("gold_return", s) for s in steps], label=label, **style)
        axes[1].plot(steps, [mean("proxy_return", s) for s in steps], **style)
        d = [math.sqrt(max(mean("kl_to_init", s), 0.0)) for s in steps]
        axes[2].plot(d, [mean("gold_return", s) for s in steps], marker=".", **style)
    for ax, (x, y) in zip(axes, (("env steps", "gold return"), ("env steps", "proxy return"), ("sqrt(KL to initial policy)", "gold return"))):
        ax.set_xlabel(x, fontsize=8)
        ax.set_ylabel(y, fontsize=8)
        ax.grid(alpha=0.3)
    pbrl_runs.style_axis(axes[0])
    pbrl_runs.style_axis(axes[1])
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="smoke")
    parser.add_argument("--total-steps", type=int, default=None, help="override the scale's env steps per run (tests)")
    parser.add_argument("--budgets", nargs="+", type=int, default=None, help="feedback budgets N (default: the scale's)")
    parser.add_argument("--transforms", nargs="+", choices=transforms.KINDS, default=None,
                        help="proxy transforms to run (default: the scale's)")
    parser.add_argument("--from-csv", action="store_true", help="refit and redraw from <out>/curves.csv without training")
    parser.add_argument("--out", default="results/overoptimisation")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    cfg = dict(SCALES[args.scale], **({"budgets": tuple(args.budgets)} if args.budgets else {}))
    if args.from_csv:
        rows = read_curves(os.path.join(args.out, "curves.csv"))
    else:
        rows = []
        for hidden in cfg["sizes"]:
            for transform in args.transforms or cfg["transforms"]:
                rows += run_size(cfg, hidden, transform, args.total_steps)
        pbrl_runs.write_csv(os.path.join(args.out, "curves.csv"), rows)
    fitted = fits(rows)
    for f in fitted:
        print(f"model {f['model']:<8} {f['transform']:<11} N={f['budget']:<5} k={f['pessimism']:<3g} {f['form']:<3}: α={f['alpha']:9.2f} β={f['beta']:9.2f} c={f['c']:8.1f} "
              f"R²={f['r2']:.2f}  peak gold {f['peak_gold_return']:8.1f} at {f['peak_env_steps']:,}  final gold {f['final_gold_return']:8.1f} "
              f"proxy {f['final_proxy_return']:7.2f}  sqrt(KL) {f['final_sqrt_kl']:.2f}")
    pbrl_runs.write_csv(os.path.join(args.out, "fits.csv"), fitted)
    plot(rows, os.path.join(args.out, "overoptimisation.png"))
    if not args.from_csv:
        pbrl_runs.write_command(args.out, "experiments.overoptimisation", sys.argv[1:] if argv is None else argv)
    return fitted


if __name__ == "__main__":
    main()
