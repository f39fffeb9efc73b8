"""Command line: `jaxreward train | sweep | plot | render | demos | envs | rewards`.

Every field of the typed config is an option; `jaxreward train --help` documents them all.
Per-environment presets (`training/presets.py`) fill what the command line leaves out.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import typing

# XLA:CPU logs an error-level line for every program it loads from the persistent
# compilation cache ("machine feature +prefer-no-gather is not supported"), about tuning
# hints it records, not real CPU features. Silence XLA's C++ logging unless the user set a
# level; Python-side errors are unaffected.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

#: Help of config fields by name, shared by the learners and the reward sections; a reward
#: section documents its own fields in its registration (`rewards.registry.Section.field_help`).
FIELD_HELP = {
    "unroll_length": "env steps per rollout before each update (T)",
    "num_minibatches": "minibatches per epoch; must divide num_envs * unroll_length",
    "update_epochs": "passes over each rollout",
    "learning_rate": "Adam step size (vmappable)",
    "gamma": "discount (vmappable)",
    "gae_lambda": "GAE lambda (vmappable)",
    "clip_eps": "PPO ratio clip (vmappable)",
    "entropy_coef": "entropy bonus weight (vmappable)",
    "value_coef": "value-loss weight (vmappable)",
    "max_grad_norm": "global gradient-norm clip",
    "normalize_advantages": "normalise advantages per minibatch",
    "clip_value": "PPO-style value clipping",
    "policy_hidden": "policy MLP widths, comma separated",
    "value_hidden": "value MLP widths, comma separated",
    "hidden": "MLP widths, comma separated",
    "activation": "tanh | relu | silu | elu",
    "action_dist": "normal_clip (Gaussian, clipped by the env) | tanh_normal (tanh-squashed Gaussian)",
    "init_log_std": "initial log standard deviation of the Gaussian policy",
    "grad_updates_per_step": "gradient updates per vectorised env step (update-to-data ratio)",
    "batch_size": "transitions per gradient update",
    "buffer_size": "replay capacity per seed, in transitions",
    "learning_starts": "env steps per seed of random actions before updates start",
    "alpha_learning_rate": "step size of the entropy temperature (vmappable)",
    "tau": "Polyak rate of the target critics (vmappable)",
    "init_alpha": "initial entropy temperature",
    "target_entropy": "entropy target (default: -action_size)",
    "actor_hidden": "actor MLP widths, comma separated",
    "critic_hidden": "critic MLP widths, comma separated",
    "layer_norm": "LayerNorm in the critics",
    "int_gamma": "discount of the intrinsic stream (two value heads; vmappable)",
    "ext_coef": "weight of the extrinsic advantage when an intrinsic term is present (vmappable)",
    "int_coef": "weight of the intrinsic advantage (vmappable)",
    "int_episodic": "cut the intrinsic return at episode ends (default: non-episodic, as RND)",
    "track_kl_to_init": "keep the initial policy and log ppo/kl_to_init, KL(pi || pi_init) on the rollout's states",
    "kl_to_init_coef": "weight of KL(pi || pi_init) in the PPO loss (needs --ppo.track_kl_to_init true)",
    "embedding_size": "size of the inverse-dynamics embedding",
    "relabel": "auto | all (re-score the whole buffer after each reward update) | batch (score sampled batches) | none",
}


def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _field_parser(annotation, default):
    if isinstance(default, bool):
        return _parse_bool
    if isinstance(default, tuple):
        if default and all(isinstance(x, str) for x in default):
            # Text tuples (vlm prompts) contain commas, so they are separated by "|".
            return lambda s: tuple(x.strip() for x in s.split("|") if x.strip())
        number = float if typing.get_args(annotation)[:1] == (float,) else int  # (teacher_user_probs)
        return lambda s: tuple(number(x) for x in s.split(",") if x)
    if isinstance(default, int):
        return int
    if default is None and str in typing.get_args(annotation):  # an optional name (vlm.camera)
        return str
    if isinstance(default, float) or default is None:  # None: an optional number
        return float
    return str


def _add_dataclass_options(parser: argparse.ArgumentParser, prefix: str, cls, heading: str,
                           field_help: dict | None = None, vmappable: tuple[str, ...] = ()) -> None:
    """`--<prefix>.<field>` for every field of `cls`; `field_help` before FIELD_HELP."""
    group = parser.add_argument_group(f"{prefix} options ({heading})")
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        text = (field_help or {}).get(f.name) or FIELD_HELP.get(f.name, f.name.replace("_", " "))
        if f.name in vmappable and "(vmappable)" not in text:
            text += " (vmappable)"
        group.add_argument(
            f"--{prefix}.{f.name}",
            dest=f"{prefix}.{f.name}",
            type=_field_parser(hints[f.name], default),
            default=None,
            metavar="FLOAT" if default is None else type(default).__name__.upper(),
            help=f"{text} (default: {shown}, or the env preset)",
        )


def reward_sections() -> dict:
    """The registered reward config sections' defaults by section name (each gets `--<name>.*`)."""
    from jaxreward.rewards import registry

    return {name: section.config_class() for name, section in registry.sections().items()}


def build_parser() -> argparse.ArgumentParser:
    from jaxreward.agents import registry as learners
    from jaxreward.agents.ppo import PPOConfig
    from jaxreward.agents.sac import SACConfig

    parser = argparse.ArgumentParser(prog="jaxreward", description="RL with learned reward functions, in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser(
        "train",
        help="train a policy (and the reward model) and write a run directory",
        description="Train a policy on an environment with a gold or learned reward. Seeds run as one vmapped program.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    t.add_argument("--env", default="pendulum", help="environment name (see `jaxreward envs`)")
    t.add_argument(
        "--reward",
        default="gold",
        help="reward terms: name[:weight][:norm=scale|standard][:clip=C], comma separated (see `jaxreward rewards`)",
    )
    t.add_argument("--learner", default="ppo", help=f"learner: {' | '.join(learners.names())}")
    t.add_argument("--steps", type=int, default=None, help="env steps per seed (default: the env preset)")
    t.add_argument("--seeds", type=int, default=1, help="number of seeds, run in one vmapped program")
    t.add_argument("--seed", type=int, default=0, help="first seed; seeds are seed, seed+1, ...")
    t.add_argument("--num-envs", type=int, default=None, help="parallel environments per seed (default: the env preset)")
    t.add_argument("--episode-length", type=int, default=None, help="time limit in steps (default: the env's)")
    t.add_argument("--env-option", action="append", default=[], metavar="KEY=VALUE", help="environment option (repeatable), e.g. sparse=true")
    t.add_argument("--out", default=None, help="run directory (default: runs/<env>-<reward>-<learner>-<time>)")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its newest readable checkpoint (newer unreadable ones are reported and moved aside)")
    t.add_argument("--resume-strict", action="store_true",
                   help="like --resume, but stop with an error if the newest checkpoint cannot be read")
    t.add_argument("--checkpoint-every", type=int, default=0, help="checkpoint every N env steps (0: only at the end)")
    t.add_argument("--video-every", type=int, default=0, help="GIF of an evaluation episode every N log points and at the end (0: none)")
    t.add_argument("--video-size", type=int, default=64, help="height and width of those videos in pixels")
    t.add_argument("--eval-episodes", type=int, default=None,
                   help="deterministic-policy episodes per seed at each log point, on the gold reward (default 4; 0: none)")
    t.add_argument("--log-points", type=int, default=None, help="number of progress/CSV log points (default 30)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--no-compile-cache", action="store_true", help="do not use the persistent compilation cache")
    t.add_argument("--print-config", action="store_true", help="print the resolved config as JSON and exit")
    _add_distributed_options(t)
    _add_dataclass_options(t, "ppo", PPOConfig, "PPO learner")
    _add_dataclass_options(t, "sac", SACConfig, "SAC learner")
    from jaxreward.rewards import registry

    for name, section in registry.sections().items():
        _add_dataclass_options(t, name, section.config_class, section.heading, section.field_help, section.vmappable)

    _add_sweep_parser(sub)
    _add_plot_parser(sub)
    from jaxreward.video import add_parser as _add_render_parser

    _add_render_parser(sub)
    from jaxreward.demos import add_parser as _add_demos_parser

    _add_demos_parser(sub)
    from jaxreward.evaluation.command import add_parser as _add_eval_reward_parser

    _add_eval_reward_parser(sub)
    sub.add_parser("envs", help="list environments")
    sub.add_parser("rewards", help="list reward models")
    return parser


def _env_option_value(text: str):
    try:
        return json.loads(text.lower() if text.lower() in ("true", "false") else text)
    except json.JSONDecodeError:
        return text


def config_from_args(args) -> "TrainConfig":  # noqa: F821
    import envs
    from jaxreward.training import presets

    overrides: dict = {"seed": args.seed, "num_seeds": args.seeds, "learner": args.learner, "checkpoint_every": args.checkpoint_every,
                         "video_every": args.video_every, "video_size": args.video_size}
    overrides["reward"] = {"terms": args.reward}
    for name, value in (("total_steps", args.steps), ("num_envs", args.num_envs), ("episode_length", args.episode_length), ("num_log_points", args.log_points),
                        ("eval_episodes", args.eval_episodes)):
        if value is not None:
            overrides[name] = value
    env_options = []
    for item in args.env_option:
        if "=" not in item:
            raise ValueError(f"--env-option expects KEY=VALUE, got {item!r}")
        env_options.append(envs.parse_option(item))
    if env_options:
        overrides["env_options"] = tuple(env_options)
    from jaxreward.rewards import registry

    reward_groups = registry.sections()
    for key, value in vars(args).items():
        if value is None or "." not in key:
            continue
        group, name = key.split(".", 1)
        target = overrides.setdefault("reward", {}) if group in reward_groups else overrides
        target.setdefault(group, {})[name] = value
    return presets.config_for(args.env, **overrides)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("sweep", "plot"):
        return _run_sweep(args) if args.command == "sweep" else _run_plot(args)
    if args.command == "render":
        from jaxreward.video import run_command

        return run_command(args)
    if args.command == "demos":
        from jaxreward.demos import run_command as run_demos

        return run_demos(args)
    if args.command == "eval-reward":
        from jaxreward.evaluation.command import run_command as run_eval_reward

        try:
            return run_eval_reward(args)
        except ValueError as e:
            print(f"jaxreward: error: {e}", file=sys.stderr)
            return 2
    if args.command == "envs":
        import envs

        for name in envs.names():
            s = envs.spec(name)
            print(f"{name:<22} {s.description}")
        return 0
    if args.command == "rewards":
        from jaxreward import rewards

        for name, text in rewards.describe().items():
            print(f"{name:<14} {text}")
        return 0

    from jaxreward.checkpoint import CheckpointError
    from jaxreward.training.loop import TrainingDiverged, train

    try:
        _initialize_distributed(args)
        cfg = config_from_args(args)
        if args.print_config:
            print(json.dumps(cfg.to_dict(), indent=2, default=str))
            return 0
        train(cfg, run_dir=args.out, resume="strict" if args.resume_strict else args.resume, progress=not args.no_progress, compile_cache=not args.no_compile_cache)
    except (ValueError, CheckpointError, FileExistsError, TrainingDiverged) as e:
        print(f"jaxreward: error: {e}", file=sys.stderr)
        return 2
    return 0


def _add_sweep_parser(sub) -> None:
    s = sub.add_parser(
        "sweep",
        help="run seeds x variants: one compiled program per static config",
        description=(
            "Run a sweep from a YAML/TOML/JSON/Python file (keys: name, base, seeds, grid, random; see "
            "jaxreward/sweeps/spec.py) and/or command-line ranges. Vmappable fields (learner hyperparameters, "
            "reward weights) of all variants and seeds run together in one program; static fields compile once "
            "per combination. Writes metrics.csv, summary.csv, aggregate.csv (IQM with bootstrap intervals) and plots."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    s.add_argument("config", nargs="?", default=None, help="sweep file (.yaml, .yml, .toml, .json, .py)")
    s.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="base config field (dotted, repeatable), e.g. env=cartpole or ppo.update_epochs=2")
    s.add_argument("--grid", action="append", default=[], metavar="FIELD=V1,V2,...", help="grid over a field (repeatable), e.g. ppo.learning_rate=1e-3,3e-4")
    s.add_argument("--seeds", type=int, default=None, help="seeds per variant (overrides the file)")
    s.add_argument("--out", default=None, help="sweep folder (default: runs/sweep-<name>-<time>)")
    s.add_argument("--max-parallel-runs", type=int, default=None, help="runs per compiled program at most (default: as many as fit in memory)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--no-compile-cache", action="store_true", help="do not use the persistent compilation cache")
    _add_distributed_options(s)


def _add_distributed_options(p) -> None:
    g = p.add_argument_group("multi-host", "one process per host, same command (see jaxreward/training/distributed.py)")
    g.add_argument("--distributed", action="store_true", help="initialise jax.distributed (cluster auto-detection on TPU pods / SLURM)")
    g.add_argument("--coordinator-address", default=None, metavar="HOST:PORT", help="coordinator of a multi-host job (or $JAXREWARD_COORDINATOR_ADDRESS)")
    g.add_argument("--num-processes", type=int, default=None, help="processes in the job (or $JAXREWARD_NUM_PROCESSES)")
    g.add_argument("--process-id", type=int, default=None, help="this process's index (or $JAXREWARD_PROCESS_ID)")


def _initialize_distributed(args) -> None:
    from jaxreward.training import distributed

    distributed.initialize(args.distributed, args.coordinator_address, args.num_processes, args.process_id)


def _add_plot_parser(sub) -> None:
    p = sub.add_parser("plot", help="plot a run directory or a sweep folder",
                       description="Learning curves (gold and proxy, 95% bands over seeds) and final-return IQM bars; "
                                   "one PNG per figure, with the plotted numbers beside it as CSV.")
    p.add_argument("path", help="run directory (with metrics.csv) or sweep folder (with sweep.json)")
    p.add_argument("--tensorboard", action="store_true", help="also write TensorBoard event files under PATH/tensorboard/")


def _dotted_to_nested(items: dict) -> dict:
    out: dict = {}
    for key, value in items.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _sweep_data(args) -> dict:
    from jaxreward.sweeps import spec as sweep_spec

    data = sweep_spec.load(args.config) if args.config else {"name": "cli"}
    base_items = {}
    for item in args.set:
        if "=" not in item:
            raise ValueError(f"--set expects FIELD=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        base_items[key] = _env_option_value(value)
    if base_items:
        from jaxreward.training.presets import _merge

        data["base"] = _merge(dict(data.get("base") or {}), _dotted_to_nested(base_items))
    for item in args.grid:
        if "=" not in item:
            raise ValueError(f"--grid expects FIELD=V1,V2,..., got {item!r}")
        key, values = item.split("=", 1)
        # Reward terms contain commas themselves: separate their values with ';'.
        sep = ";" if key == "reward.terms" else ","
        data.setdefault("grid", {})[key] = [_env_option_value(v) for v in values.split(sep)]
    if args.seeds is not None:
        data["seeds"] = args.seeds
    return data


def _run_sweep(args) -> int:
    from jaxreward.checkpoint import CheckpointError
    from jaxreward.sweeps.runner import run_sweep
    from jaxreward.training.loop import TrainingDiverged

    try:
        _initialize_distributed(args)
        run_sweep(_sweep_data(args), out_dir=args.out, max_parallel_runs=args.max_parallel_runs,
                  progress=not args.no_progress, compile_cache=not args.no_compile_cache)
    except (ValueError, CheckpointError, FileExistsError, TrainingDiverged) as e:
        print(f"jaxreward: error: {e}", file=sys.stderr)
        return 2
    return 0


def _run_plot(args) -> int:
    from jaxreward.analysis.plots import plot

    try:
        for path in plot(args.path, tensorboard=args.tensorboard):
            print(path)
    except (ValueError, OSError) as e:
        print(f"jaxreward: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
