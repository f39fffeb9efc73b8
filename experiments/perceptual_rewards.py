"""Perceptual rewards vs the hand-designed dense reward: along held-out demonstrations
(part 1), and as the reward PPO trains on (part 2).

The quantitative evaluation of Sermanet, Xu & Levine, "Unsupervised Perceptual Rewards for
Imitation Learning" (RSS 2017): a reward learned from a few demonstration videos, scored
against the task's hand-designed dense reward on demonstrations it has not seen. For each
task: scripted demonstrations with action noise (`jaxreward demos`), a time-contrastive
encoder trained on the training demos' frames (`rewards/perceptual/tcn.py`), then the
perceptual reward and the three embedding-distance baselines (`rewards/perceptual/models.py`)
evaluated on held-out demos. Per held-out trajectory and reward: the Pearson correlation
with the env's dense reward, and whether the reward is higher where the task first succeeds
than at the start.

Part 2 (`--part rl`): PPO trained on each of the four demo rewards, on the env's dense
(gold) reward and on the sparse success reward (`success`: 1 on a transition into a solved
state), scored by the success rate at episode end (the env's `success` metric on the last
step of each finished episode) against env steps. Demos, TCN and fit as part 1, on the
train demos only, with episodes of the env's own length. All rewards × seeds of a task run in
one compiled program: the six rewards are terms of one composite and each run weights one
of them by 1 (the weights are a vmapped leaf), so every run renders frames and runs the
encoder whatever it trains on, and the env steps/s it reports are for the whole program. The
gold return is logged beside every run's proxy return. Deliberate deviations from the paper
(which trains a real robot with PI² on its reward): PPO, simulated tasks, small frames, no
reward tuning per task (every reward enters unscaled; PPO normalises advantages).

    python -m experiments.perceptual_rewards --scale smoke              # part 1: minutes, 2-core CPU
    python -m experiments.perceptual_rewards --scale smoke --part rl    # part 2: reach
    python -m experiments.perceptual_rewards --scale paper --part all   # both, 3 tasks (needs an accelerator)

Scales of part 2: smoke — reach, 2 seeds × 6 rewards, 8 envs each, 49,152 env steps per
run, 32x32 frames; paper — reach, push, drawer_open, 5 seeds, 32 envs, 2M env steps per
run, 64x64 frames (180M env steps in all; not run, it needs an accelerator).

Results of both parts, with their commands, dates and speeds: docs/reproductions.md,
"Perceptual rewards".

Writes results/perceptual_rewards/: part 1 — perceptual_rewards.png (per task: mean of
each reward along held-out trajectories, min-max scaled, beside the dense reward;
correlation bars), trajectories.csv (per task, demo, step: dense reward and each learned
reward), correlation.csv (per task, reward, held-out demo: Pearson r, increase flag),
summary.csv (per task and reward: mean and std of r, increase rate) and command.txt;
part 2 — perceptual_rl.png (per task: success rate vs env steps per reward, mean over
seeds and min-max band), rl_curves.csv (per task, reward, seed, log point: success, gold
and proxy return), rl_summary.csv (per task and reward: final success, gold and proxy return,
mean and std over seeds of the last 10% of log points; the train demos' gold and proxy
returns; compile time and env steps/s),
rl_<task>_demos.npz and rl_<task>_tcn.msgpack (what the rewards were fitted on) and
rl_command.txt; the training runs' own directories go to runs/perceptual_rewards/.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxreward import demos as demo_io
from jaxreward.rewards.base import RewardSpec, TransitionBatch
from jaxreward.rewards.perceptual import models, tcn
from jaxreward.training import loop, presets
from jaxreward.training.compile_cache import enable_compile_cache
from jaxreward.training.trainer import Trainer

ENVS = ("reach", "push", "drawer_open")
#: Task variants: name -> (registered env, its options). `reach_fixed_goal` is reach with one
#: goal for every episode, (0.3, 0, 0.3) m, 0.23 m from the arm's rest pose: the paper's
#: setting, one task per reward. On `reach` the goal is drawn per episode, and a reward made
#: from demo frames without the goal (the mean success-frame embedding; step classifiers
#: pooled over all goals) does not say which goal this episode has.
VARIANTS = {
    "reach_fixed_goal": ("reach", (("goal_height", (0.3, 0.3)), ("goal_radius", (0.3, 0.3)), ("goal_yaw", 0.0))),
}


def task_env(task: str) -> tuple[str, tuple]:
    """(registered env name, env options) of an experiment task name."""
    return VARIANTS.get(task, (task, ()))
SCALES = {
    # Smoke episodes are cut to about twice the scripted controllers' time to success (reach's
    # 24 steps and TCN settings are those of tests/test_perceptual.py, so the tests share
    # their compiled programs). `rl`: part 2 (PPO) on episodes of the env's own length;
    # total_steps are env steps per run (one reward, one seed).
    "smoke": dict(train_demos=6, test_demos=6, size=32, episode_length={"reach": 24, "push": 60, "drawer_open": 40},
                  tcn_steps=150, num_steps=3,
                  rl=dict(envs=("reach",), num_seeds=2, num_envs=8, total_steps=49_152)),
    "paper": dict(train_demos=16, test_demos=16, size=64, episode_length={}, tcn_steps=2000, num_steps=3,
                  rl=dict(envs=ENVS, num_seeds=5, num_envs=32, total_steps=2_000_000)),
}
NOISE = 0.1
NUM_FEATURES = 8


def evaluate(test: demo_io.Demos, encoder: tcn.Encoder, fitted: models.DemoRewardState) -> dict:
    """{kind: [N, T] reward of each held-out transition} for every model kind, each
    scoring the demos as one rollout batch of N envs from their episodes' start."""
    zeros = jnp.zeros((test.length, test.num_demos))
    batch = TransitionBatch(zeros, zeros, zeros, jnp.asarray(test.reward.T), zeros, zeros, {},
                            jnp.asarray(models.pixel_batch(test)))
    spec = RewardSpec(test.obs.shape[-1], test.actions.shape[-1], False, test.num_demos, test.length)
    out = {}
    for kind in models.KINDS:
        model = models.make_demo_reward(spec, kind, encoder, fitted, models.frame_spec(test))
        r, _ = jax.jit(model.reward)(model.init(jax.random.PRNGKey(0)), batch)
        out[kind] = np.asarray(r).T
    return out


def increase_flags(rewards: np.ndarray, test: demo_io.Demos) -> np.ndarray:
    """[N] bool: reward of the transition into the first success above the first transition's.
    (goal_potential is 0 on an episode's first transition by construction, so for it this
    asks whether the step into success made progress.) Demos that never succeed, or
    succeed within a step, count as False."""
    first = test.first_success()
    return np.array([f >= 2 and rewards[i, f - 1] > rewards[i, 0] for i, f in enumerate(first)])


def run_env(env: str, scale: dict, seed: int) -> tuple[list[dict], list[dict]]:
    """(correlation rows, trajectory rows) of one task."""
    size = scale["size"]
    name, options = task_env(env)
    collect = lambda n, s: demo_io.collect(name, n, seed=s, noise_scale=NOISE, height=size, width=size,
                                           episode_length=scale["episode_length"].get(env, scale["episode_length"].get(name)),
                                           env_options=dict(options))
    both = collect(scale["train_demos"] + scale["test_demos"], seed)
    train, test = both.subset(slice(0, scale["train_demos"])), both.subset(slice(scale["train_demos"], None))
    cfg = tcn.TCNConfig(channels=(8, 16, 16), batch_size=32, train_steps=scale["tcn_steps"])
    encoder, losses = models.train_demo_encoder(train, jax.random.PRNGKey(seed), cfg)
    fitted = models.fit_demo_rewards(train, encoder, scale["num_steps"], NUM_FEATURES)
    learned = evaluate(test, encoder, fitted)
    rows, traj = [], []
    for kind, r in learned.items():
        flags = increase_flags(r, test)
        for i in range(test.num_demos):
            rho = np.corrcoef(r[i], test.reward[i])[0, 1]
            rows.append(dict(env=env, reward=kind, demo=i, pearson=float(rho), increases=bool(flags[i])))
    for i in range(test.num_demos):
        for t in range(test.length):
            traj.append(dict(env=env, demo=i, step=t + 1, dense=float(test.reward[i, t]),
                             **{k: float(v[i, t]) for k, v in learned.items()}))
    print(f"{env}: {train.num_demos} train / {test.num_demos} held-out demos, TCN loss {losses[:10].mean():.3f} -> "
          f"{losses[-10:].mean():.3f}", flush=True)
    return rows, traj


def summarize(rows: list[dict]) -> list[dict]:
    out = []
    for env in dict.fromkeys(r["env"] for r in rows):
        for kind in models.KINDS:
            sel = [r for r in rows if r["env"] == env and r["reward"] == kind]
            rho = np.array([r["pearson"] for r in sel])
            out.append(dict(env=env, reward=kind, demos=len(sel), pearson_mean=float(np.nanmean(rho)),
                            pearson_std=float(np.nanstd(rho)), increase_rate=float(np.mean([r["increases"] for r in sel]))))
    return out


def plot(traj: list[dict], summary: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    env_names = list(dict.fromkeys(r["env"] for r in traj))
    fig, axes = plt.subplots(2, len(env_names), figsize=(4.5 * len(env_names), 7), squeeze=False)
    scale01 = lambda v: (v - v.min()) / (v.max() - v.min() + 1e-12)
    for j, env in enumerate(env_names):
        rows = [r for r in traj if r["env"] == env]
        steps = np.array(sorted({r["step"] for r in rows}))
        ax = axes[0, j]
        for key, style in [("dense", dict(color="k", lw=2.5))] + [(k, {}) for k in models.KINDS]:
            mean = np.array([np.mean([r[key] for r in rows if r["step"] == s]) for s in steps])
            ax.plot(steps, scale01(mean), label="dense (gold)" if key == "dense" else key, **style)
        ax.set(title=f"{env}: held-out mean, min-max scaled", xlabel="env step", ylabel="reward (scaled)")
        ax.legend(fontsize=7)
        ax = axes[1, j]
        sel = [s for s in summary if s["env"] == env]
        ax.bar(range(len(sel)), [s["pearson_mean"] for s in sel], yerr=[s["pearson_std"] for s in sel], color="C0")
        ax.set_xticks(range(len(sel)), [s["reward"] for s in sel], rotation=20, fontsize=7)
        ax.set(ylabel="Pearson r with dense reward", ylim=(-1, 1), title=f"{env}: per held-out trajectory")
        ax.axhline(0, color="grey", lw=0.5)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- part 2: PPO on each reward, scored by the env's success ---------------------------------

#: Every reward of part 2 is a term of one composite; each run weights one of them by 1 and
#: the rest by 0 (the weights are a vmapped leaf), so all rewards × seeds of a task are one
#: compiled program. "gold" is the env's dense reward, "success" the sparse one.
RL_REWARDS = models.KINDS + ("gold", "success")
#: PPO for the manipulation tasks: the reacher preset's update (`training/presets.py`) on
#: fewer envs, so that a short smoke budget still makes hundreds of updates.
RL_PPO = dict(unroll_length=32, num_minibatches=4, update_epochs=4, learning_rate=1e-3, gamma=0.95)
#: Training iterations per log point, fixed so that runs of any length compile the same chunk
#: (a short timing run fills the compile cache for the long one).
RL_ITERATIONS_PER_LOG = 4


def rl_config(env: str, rl: dict, demos_path: str, encoder_path: str, num_runs: int, total_steps: int):
    """The TrainConfig of part 2 for `env`: all `RL_REWARDS` as terms, `num_runs` runs."""
    per_log = RL_ITERATIONS_PER_LOG * rl["num_envs"] * RL_PPO["unroll_length"]
    name, options = task_env(env)
    return presets.config_for(
        name, env_options=options, num_envs=rl["num_envs"], total_steps=total_steps, num_log_points=max(1, total_steps // per_log),
        num_seeds=num_runs, ppo=RL_PPO,
        reward={"terms": ",".join(RL_REWARDS),
                "demo": {"demos": demos_path, "encoder": f"tcn:{encoder_path}", "num_features": NUM_FEATURES}},
    )


def run_rl(env: str, scale: dict, seed: int, out: str, runs_dir: str, total_steps: int) -> tuple[list[dict], dict]:
    """PPO on every reward of `RL_REWARDS` × seed for one task, in one compiled program.

    The perceptual rewards are fitted to `scale["train_demos"]` noisy scripted demos of the
    env's episode length, rendered at `scale["size"]`, with a TCN trained on them (as part 1).
    Returns (rows: env, reward, seed, env_steps, success, gold_return, proxy_return; timing).
    """
    rl, size = scale["rl"], scale["size"]
    enable_compile_cache()  # before the demo collection and the TCN, not only the training (loop.train)
    name, options = task_env(env)
    demos = demo_io.collect(name, scale["train_demos"], seed=seed, noise_scale=NOISE, height=size, width=size,
                            env_options=dict(options))
    cfg_tcn = tcn.TCNConfig(channels=(8, 16, 16), batch_size=32, train_steps=scale["tcn_steps"])
    encoder, _ = models.train_demo_encoder(demos, jax.random.PRNGKey(seed), cfg_tcn)
    demos_path, encoder_path = os.path.join(out, f"rl_{env}_demos.npz"), os.path.join(out, f"rl_{env}_tcn.msgpack")
    demo_io.save(demos_path, demos)
    tcn.save_encoder(encoder_path, encoder)
    # What the demonstrations themselves score under each reward (the training builds the
    # same fit from the same files): a policy whose proxy return exceeds its demos' while its
    # gold return stays below theirs has found states the reward overrates.
    fitted = models.fit_demo_rewards(demos, encoder, models.DemoRewardConfig().num_steps, NUM_FEATURES)
    demo_returns = {kind: float(r.sum(1).mean()) for kind, r in evaluate(demos, encoder, fitted).items()}
    demo_returns["gold"] = float(demos.reward.sum(1).mean())
    demo_returns["success"] = float(demos.success[:, 1:].sum(1).mean())

    runs = [(reward, seed + i) for reward in RL_REWARDS for i in range(rl["num_seeds"])]
    cfg = rl_config(env, rl, demos_path, encoder_path, len(runs), total_steps)
    trainer = Trainer(cfg)
    # Seed s starts from the same key under every reward.
    state = trainer.init_seeds(jnp.stack([jax.random.PRNGKey(s) for _, s in runs]))
    weights = jnp.asarray([[float(reward == term) for term in RL_REWARDS] for reward, _ in runs], jnp.float32)
    state = state.replace(reward=state.reward.replace(weights=weights))
    state = jax.device_put(state, trainer.shardings(state))
    labels = [{"run": i, "seed": s} for i, (_, s) in enumerate(runs)]
    print(f"{env} PPO: {len(runs)} runs ({', '.join(RL_REWARDS)} x {len(set(s for _, s in runs))} seeds) in one program; "
          f"compiling (about a minute here), then a progress bar", flush=True)
    result = loop.train(cfg, run_dir=runs_dir, progress=True, quiet=True, initial_state=state, run_labels=labels)
    rows = [{"env": env, "reward": runs[r["run"]][0], "seed": r["seed"], "env_steps": r["env_steps"],
             "success": r["success"], "gold_return": r["gold_return"], "proxy_return": r["proxy_return"]}
            for r in result.rows]
    timing = {"compile_s": result.summary["compile_time_s"], "train_s": result.summary["train_time_s"],
              "env_steps_per_s": result.summary["steps_per_second"], "demo_returns": demo_returns,
              "demo_gold_return": demo_returns["gold"]}
    print(f"{env} PPO: {len(runs)} runs x {cfg.num_iterations * cfg.steps_per_iteration:,} env steps, compile "
          f"{timing['compile_s']:.0f}s, train {timing['train_s']:.0f}s, {timing['env_steps_per_s']:,.0f} env steps/s "
          f"(all runs)", flush=True)
    return rows, timing


def summarize_rl(rows: list[dict], timings: dict) -> list[dict]:
    """Per (env, reward): final success rate, gold and proxy return (mean and std over seeds
    of each seed's mean over the last 10% of log points), the train demos' return under the
    same reward (`demo_proxy_return`) and gold reward, and the task's timing."""
    out = []
    for env, reward in dict.fromkeys((r["env"], r["reward"]) for r in rows):
        finals = {c: [] for c in ("success", "gold_return", "proxy_return")}
        seeds = sorted({r["seed"] for r in rows if r["env"] == env and r["reward"] == reward})
        for seed in seeds:
            curve = [r for r in rows if (r["env"], r["reward"], r["seed"]) == (env, reward, seed)]
            last = curve[-max(1, round(len(curve) * 0.1)):]
            for c in finals:
                finals[c].append(np.nanmean([r[c] for r in last]))
        out.append({"env": env, "reward": reward, "seeds": len(seeds),
                    "final_success": float(np.mean(finals["success"])),
                    "final_success_std": float(np.std(finals["success"])),
                    "final_gold_return": float(np.mean(finals["gold_return"])),
                    "final_gold_return_std": float(np.std(finals["gold_return"])),
                    "final_proxy_return": float(np.mean(finals["proxy_return"])),
                    "demo_proxy_return": timings[env]["demo_returns"].get(reward, float("nan")),
                    **{k: v for k, v in timings[env].items() if k != "demo_returns"}})
    return out


def plot_rl(rows: list[dict], path: str) -> None:
    """Per task: success rate vs env steps for each reward, mean over seeds with a min-max band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    env_names = list(dict.fromkeys(r["env"] for r in rows))
    styles = {"gold": dict(color="k", lw=2, label="gold (dense)"),
              "success": dict(color="grey", ls="--", label="success (sparse)")}
    fig, axes = plt.subplots(1, len(env_names), figsize=(4.8 * len(env_names), 3.6), squeeze=False)
    for ax, env in zip(axes[0], env_names):
        for reward in dict.fromkeys(r["reward"] for r in rows if r["env"] == env):
            sel = [r for r in rows if r["env"] == env and r["reward"] == reward]
            steps = sorted({r["env_steps"] for r in sel})
            per_seed = np.array([[r["success"] for r in sel if r["env_steps"] == s] for s in steps])  # [steps, seeds]
            line, = ax.plot(steps, np.nanmean(per_seed, 1), **styles.get(reward, dict(label=reward)))
            ax.fill_between(steps, np.nanmin(per_seed, 1), np.nanmax(per_seed, 1), color=line.get_color(), alpha=0.15)
        ax.set(title=f"{env}: PPO on each reward", xlabel="env steps", ylabel="success rate (episode end)",
               ylim=(-0.02, 1.02))
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _write_csv(path: str, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="smoke")
    parser.add_argument("--part", choices=("eval", "rl", "all"), default="eval",
                        help="eval: part 1 (held-out correlation); rl: part 2 (PPO success vs env steps); all: both")
    parser.add_argument("--envs", default=None,
                        help="comma-separated tasks with scripted controllers, or variants "
                             f"({', '.join(VARIANTS)}) (default: all three for part 1, the scale's tasks for part 2)")
    parser.add_argument("--rl-steps", type=int, default=None, help="override the scale's env steps per PPO run")
    parser.add_argument("--frame-size", type=int, default=None, help="override the scale's frame height and width (pixels)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/perceptual_rewards")
    parser.add_argument("--runs", default="runs/perceptual_rewards", help="part 2's training run directories")
    args = parser.parse_args(argv)
    scale = SCALES[args.scale]
    if args.frame_size is not None:
        if args.frame_size < 16:
            parser.error(f"--frame-size must be at least 16, got {args.frame_size}")
        scale = dict(scale, size=args.frame_size)
    os.makedirs(args.out, exist_ok=True)
    command = "python -m experiments.perceptual_rewards " + " ".join(argv if argv is not None else sys.argv[1:]) + "\n"
    start = time.time()
    summary = []
    # Each part names the command that wrote its files (a later `--part rl` keeps part 1's).
    if args.part in ("eval", "all"):
        with open(os.path.join(args.out, "command.txt"), "w") as f:
            f.write(command)
        summary += run_eval(args.envs.split(",") if args.envs else ENVS, scale, args.seed, args.out)
    if args.part in ("rl", "all"):
        with open(os.path.join(args.out, "rl_command.txt"), "w") as f:
            f.write(command)
        summary += run_rl_part(args.envs.split(",") if args.envs else scale["rl"]["envs"], scale, args, start)
    print(f"done in {time.time() - start:.0f} s; wrote {args.out}")
    return summary


def run_eval(env_names, scale: dict, seed: int, out: str) -> list[dict]:
    """Part 1 for `env_names`: writes its CSVs and figure, returns the summary rows."""
    rows, traj = [], []
    for env in env_names:
        r, t = run_env(env.strip(), scale, seed)
        rows += r
        traj += t
    summary = summarize(rows)
    _write_csv(os.path.join(out, "correlation.csv"), rows)
    _write_csv(os.path.join(out, "trajectories.csv"), traj)
    _write_csv(os.path.join(out, "summary.csv"), summary)
    plot(traj, summary, os.path.join(out, "perceptual_rewards.png"))
    for s in summary:
        print(f"{s['env']:<12} {s['reward']:<18} pearson {s['pearson_mean']:+.2f} ± {s['pearson_std']:.2f}   "
              f"increase rate {s['increase_rate']:.2f} ({s['demos']} held-out demos)")
    return summary


def run_rl_part(env_names, scale: dict, args, start: float) -> list[dict]:
    """Part 2 for `env_names`: writes rl_curves.csv, rl_summary.csv and perceptual_rl.png."""
    total_steps = args.rl_steps or scale["rl"]["total_steps"]
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(start))
    rows, timings = [], {}
    for env in env_names:
        env = env.strip()
        r, timings[env] = run_rl(env, scale, args.seed, args.out, os.path.join(args.runs, f"{stamp}-{env}"), total_steps)
        rows += r
    summary = summarize_rl(rows, timings)
    _write_csv(os.path.join(args.out, "rl_curves.csv"), rows)
    _write_csv(os.path.join(args.out, "rl_summary.csv"), summary)
    plot_rl(rows, os.path.join(args.out, "perceptual_rl.png"))
    for s in summary:
        print(f"{s['env']:<12} PPO on {s['reward']:<18} final success {s['final_success']:.2f} ± "
              f"{s['final_success_std']:.2f}   gold return {s['final_gold_return']:7.2f} ± "
              f"{s['final_gold_return_std']:.2f} (demos {s['demo_gold_return']:7.2f})   proxy return "
              f"{s['final_proxy_return']:8.2f} (demos {s['demo_proxy_return']:8.2f}) ({s['seeds']} seeds)")
    return summary


if __name__ == "__main__":
    main()
