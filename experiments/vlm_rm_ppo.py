"""VLM-RM with RL: PPO on the VLM reward in CartPole, scored by the gold return it reaches.

Rocamonde et al., "Vision-Language Models are Zero-Shot Reward Models for RL" (ICLR 2024),
Sec. 4.2 (CartPole): the policy is trained only on the goal-baseline CLIP reward of the frame
(goal "pole vertically upright on top of the cart", baseline "pole and cart", α = 0.5 as
their config) in CartPole with termination removed (`cartpole` with `terminate=False`,
200-step episodes as their config). The env's gold reward — 1 per step with |θ| ≤ 12° and
|x| ≤ 2.4, so a gold return of at most 200 — is logged beside the VLM (proxy) return but never
reaches the learner. Baseline: the same PPO, env, seeds and env steps trained on the gold
reward. Reported: fraction of gold = (final gold return of the VLM-trained policy) / (final
gold return of the gold-trained one), "final" meaning the mean over the last 10% of log
points, averaged over seeds.

    python -m experiments.vlm_rm_ppo --standin                 # smoke: minutes on a 2-core CPU
    python -m experiments.vlm_rm_ppo --standin --scale paper   # 5 seeds × α ∈ {0, 0.5, 1}, 307k steps
    python -m experiments.vlm_rm_ppo --clip-checkpoint FOLDER  # a real CLIP (not run here)

`--standin` uses tests/data/vlm_standin_cartpole, a tiny model trained on captions made from
the true pole angle: a fraction measured with it is a pipeline result, never a zero-shot one,
and every output says so. Without a checkpoint or `--standin` it stops with instructions.

Deliberate deviations from the paper: PPO rather than their off-policy learner and 3M steps;
frames of 64×64 (the stand-in's input size; the paper renders 400×600 for a 224 px CLIP) from
our ray-cast renderer; PPO settings tuned here on the gold reward (16 envs × 64 steps, 8
epochs, γ = 0.98) and used unchanged for the VLM reward. With a real CLIP checkpoint, frames
are rendered at the model's resolution (224 px for ViT-B/32), which on this CPU is far
slower; that run needs an accelerator.

Rendering, not the image tower, bounds the speed of the VLM runs. Frames stay at 64 px
rather than 32 px although smaller frames render faster, because at 32 px the stand-in
tells "upright" from the rest markedly worse; the smoke scale cuts env steps instead.
Results, speeds and compile times of the smoke run: docs/reproductions.md, "Vision-language
rewards".

Writes results/vlm_rm_ppo/: curves.csv (per reward, α, seed, log point: gold and proxy
return, success), summary.csv (per reward and α: final gold return, fraction of gold, env
steps/s, compile time), vlm_rm_ppo.png and command.txt; the training runs' own directories
(metrics, checkpoints) go to runs/.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.vlm_rm import INSTRUCTIONS, STANDIN
from jaxreward import results
from jaxreward.training import loop, presets
from jaxreward.training.trainer import Trainer

SCALES = {
    "smoke": dict(total_steps=40_960, num_seeds=2, alphas=(0.5,), num_log_points=20),
    "paper": dict(total_steps=307_200, num_seeds=5, alphas=(0.0, 0.5, 1.0), num_log_points=30),
}
EPISODE_LENGTH = 200
#: PPO for CartPole without termination, tuned on the gold reward (see the module docstring).
SETTINGS = dict(
    env_options=(("terminate", False),),
    episode_length=EPISODE_LENGTH,
    num_envs=16,
    ppo=dict(unroll_length=64, num_minibatches=4, update_epochs=8, learning_rate=2.5e-3, gamma=0.98, entropy_coef=0.01),
)
COLUMNS = ("gold_return", "proxy_return", "success")


def train_on(reward: str, checkpoint: str, scale: dict, seed: int, run_dir: Path, total_steps: int) -> tuple[list[dict], dict]:
    """PPO on `reward` ("gold" or "vlm"): every α × seed in one compiled program.

    Returns (rows, timing): rows carry reward, alpha, seed, env_steps and `COLUMNS`; timing
    has the compile time and the env steps per second of the whole program (all runs).
    """
    alphas = scale["alphas"] if reward == "vlm" else (None,)
    seeds = [seed + i for i in range(scale["num_seeds"])]
    runs = [(a, s) for a in alphas for s in seeds]
    cfg = presets.config_for(
        "cartpole", **SETTINGS, total_steps=total_steps, num_log_points=scale["num_log_points"], num_seeds=len(runs),
        reward={"terms": reward, "vlm": {"checkpoint": checkpoint, "alpha": 0.5, "frame_size": 0}},
    )
    trainer = Trainer(cfg)
    # Seed s of every α starts from the same key; α is a leaf of the reward state.
    state = trainer.init_seeds(jnp.stack([jax.random.PRNGKey(s) for _, s in runs]))
    if reward == "vlm":
        vlm = dict(state.reward.terms[0], alpha=jnp.asarray([a for a, _ in runs], jnp.float32))
        state = state.replace(reward=state.reward.replace(terms=(vlm,)))
        state = jax.device_put(state, trainer.shardings(state))
    # α joins the run directory's metrics.csv columns (its summary.json pools the α by seed).
    labels = [{"run": i, "seed": s, **({"alpha": a} if reward == "vlm" else {})} for i, (a, s) in enumerate(runs)]
    out = loop.train(cfg, run_dir=str(run_dir), progress=False, quiet=True, initial_state=state, run_labels=labels)
    rows = [
        {"reward": reward, "alpha": runs[r["run"]][0], "seed": r["seed"], "env_steps": r["env_steps"],
         **{c: r[c] for c in COLUMNS}}
        for r in out.rows
    ]  # fmt: skip
    timing = {"compile_s": out.summary["compile_time_s"], "train_s": out.summary["train_time_s"],
              "env_steps_per_s": out.summary["steps_per_second"]}
    print(f"{reward}: compile {timing['compile_s']:.0f}s, train {timing['train_s']:.0f}s, "
          f"{timing['env_steps_per_s']:,.0f} env steps/s over {len(runs)} runs", flush=True)
    return rows, timing


def summarize(rows: list[dict], timings: dict) -> list[dict]:
    """Per (reward, α): final gold / proxy return and success (over seeds), the fraction of
    the gold-trained final gold return, the gold return at the first log point where an
    episode had ended (about an untrained policy's), and timing."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["reward"], r["alpha"]), []).append(r)
    final = {key: {c: np.array(list(results.final_value(g, c).values())) for c in COLUMNS} for key, g in groups.items()}
    gold_final = float(final[("gold", None)]["gold_return"].mean())
    out = []
    for (reward, alpha), f in final.items():
        # Early log points may hold no finished episode (NaN); the first that does.
        first = min(r["env_steps"] for r in groups[(reward, alpha)] if np.isfinite(r["gold_return"]))
        out.append({
            "reward": reward, "alpha": alpha, "seeds": len(f["gold_return"]),
            "final_gold_return": float(f["gold_return"].mean()), "final_gold_return_std": float(f["gold_return"].std()),
            "fraction_of_gold": float(f["gold_return"].mean()) / gold_final,
            "final_proxy_return": float(f["proxy_return"].mean()), "final_success": float(f["success"].mean()),
            "first_log_gold_return": float(np.mean([r["gold_return"] for r in groups[(reward, alpha)] if r["env_steps"] == first])),
            **timings[reward],
        })  # fmt: skip
    return out


def plot(rows: list[dict], label: str, path: Path) -> None:
    """Gold return (left) and VLM proxy return (right) against env steps, mean over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    for (reward, alpha) in dict.fromkeys((r["reward"], r["alpha"]) for r in rows):
        sel = [r for r in rows if r["reward"] == reward and r["alpha"] == alpha]
        steps = sorted({r["env_steps"] for r in sel if np.isfinite(r["gold_return"])})
        mean = lambda c: [np.mean([r[c] for r in sel if r["env_steps"] == s]) for s in steps]
        name = "PPO on gold" if reward == "gold" else f"PPO on VLM reward, α={alpha:g}"
        left.plot(steps, mean("gold_return"), label=name, color="k" if reward == "gold" else None)
        if reward == "vlm":
            right.plot(steps, mean("proxy_return"), label=name)
    left.set(xlabel="env steps", ylabel=f"gold return (upright steps of {EPISODE_LENGTH})", title="gold return")
    right.set(xlabel="env steps", ylabel="VLM (proxy) return", title="what the VLM-trained policy optimises")
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    fig.suptitle(f"CartPole, no termination — {label}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _write_csv(path: Path, rows: list[dict], note: str) -> None:
    with open(path, "w", newline="") as f:
        f.write(f"# {note}\n")
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip-checkpoint", type=Path, default=None)
    parser.add_argument("--standin", action="store_true", help="use the in-project stand-in model (not zero-shot)")
    parser.add_argument("--scale", choices=sorted(SCALES), default="smoke")
    parser.add_argument("--total-steps", type=int, default=None, help="override the scale's env steps per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/vlm_rm_ppo"))
    parser.add_argument("--runs", type=Path, default=Path("runs/vlm_rm_ppo"), help="training run directories")
    args = parser.parse_args(argv)
    if args.clip_checkpoint is None and not args.standin:
        sys.exit(INSTRUCTIONS.replace("experiments.vlm_rm", "experiments.vlm_rm_ppo"))
    checkpoint = str(STANDIN if args.standin else args.clip_checkpoint)
    label = "STAND-IN model (not CLIP, not zero-shot)" if args.standin else f"CLIP {checkpoint}"
    scale = SCALES[args.scale]
    total_steps = args.total_steps or scale["total_steps"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "command.txt").write_text("python -m experiments.vlm_rm_ppo " + " ".join(sys.argv[1:] if argv is None else argv) + "\n")

    stamp = time.strftime("%Y%m%d-%H%M%S")
    rows, timings = [], {}
    for reward in ("gold", "vlm"):
        r, timings[reward] = train_on(reward, checkpoint, scale, args.seed, args.runs / f"{stamp}-{reward}", total_steps)
        rows += r
    summary = summarize(rows, timings)
    note = f"{label}; cartpole terminate=False, {EPISODE_LENGTH}-step episodes, {total_steps} env steps per run"
    _write_csv(args.out / "curves.csv", rows, note)
    _write_csv(args.out / "summary.csv", summary, note)
    plot(rows, label, args.out / "vlm_rm_ppo.png")
    for s in summary:
        name = "gold" if s["reward"] == "gold" else f"vlm α={s['alpha']:g}"
        print(f"{name:<12} final gold return {s['final_gold_return']:6.1f} ± {s['final_gold_return_std']:5.1f} "
              f"({s['fraction_of_gold']:.2f} of gold)  proxy {s['final_proxy_return']:7.2f}  success {s['final_success']:.2f}  "
              f"{s['env_steps_per_s']:,.0f} env steps/s  compile {s['compile_s']:.0f}s")
    print(f"wrote {args.out}/ ({label})")
    return summary


if __name__ == "__main__":
    main()
