"""`jaxreward eval-reward`: distances between two rewards on an environment, without RL.

    jaxreward eval-reward --env pendulum --reward regression --against gold
    jaxreward eval-reward --checkpoint runs/X --against gold

Both `--reward` and `--against` take the reward syntax of `train --reward` (a registered
name, or weighted terms such as "gold:2,rnd:0.1"); those models are freshly initialised (a
learned model's distance there is that of its initialisation). `--checkpoint RUN_DIR`
instead scores the reward a `jaxreward train` run optimised — its composite reward with the
run's settings and environment, in the state of the run's latest checkpoint (first seed).
Prints the sampled EPIC, DARD and STARC distances (`evaluation.sampled`) and the number of
transitions they used.
"""

from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    p = sub.add_parser("eval-reward", help="EPIC / DARD / STARC distance between two rewards on an environment",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default=None, help="environment name (see `jaxreward envs`; default with --checkpoint: the run's)")
    p.add_argument("--reward", default=None, help="the reward to evaluate, e.g. regression or gold:2")
    p.add_argument("--checkpoint", default=None, metavar="RUN_DIR",
                   help="evaluate the trained reward of this `jaxreward train` run (its latest checkpoint) instead of --reward")
    p.add_argument("--against", default="gold", help="the reference reward (default: gold)")
    p.add_argument("--num-transitions", type=int, default=256, help="base transitions the distance is measured on (N)")
    p.add_argument("--num-samples", type=int, default=16, help="samples per expectation of the canonicalisations (M)")
    p.add_argument("--discount", type=float, default=0.99, help="gamma of the canonicalisations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def validate(args) -> None:
    """Errors that name the option, before anything compiles."""
    import envs

    from jaxreward.rewards import registry
    from jaxreward.rewards.compose import parse_terms, validate_terms

    if args.checkpoint is None and (args.env is None or args.reward is None):
        raise ValueError("eval-reward needs --env and --reward, or --checkpoint RUN_DIR (a `jaxreward train` run directory)")
    if args.env is not None and args.env not in envs.names():
        raise ValueError(f"eval-reward --env: unknown environment {args.env!r}. Valid environments: {', '.join(envs.names())}")
    for option in ("reward", "against"):
        if getattr(args, option) is None:
            continue
        try:
            validate_terms(parse_terms(getattr(args, option)), registry.names())
        except ValueError as e:
            raise ValueError(f"eval-reward --{option}: {e}") from None
    if args.num_transitions < 2:
        raise ValueError(f"eval-reward --num-transitions must be >= 2, got {args.num_transitions}")
    if args.num_samples < 1:
        raise ValueError(f"eval-reward --num-samples must be >= 1, got {args.num_samples}")
    if not 0.0 <= args.discount <= 1.0:
        raise ValueError(f"eval-reward --discount must be in [0, 1], got {args.discount}")


def load_run_reward(run_dir: str, env_name: str | None = None, reward: str | None = None):
    """(config, composite reward model, its state) of the `jaxreward train` run in `run_dir`:
    the reward the run optimised, in the state of its latest checkpoint, first seed.

    Raises ValueError naming the path when it is not a run directory, holds no checkpoint,
    the checkpoint cannot be read or does not match the run's config, or a given `env_name`
    or `reward` differs from the run's.
    """
    import os

    import jax
    import numpy as np

    from jaxreward import checkpoint, results
    from jaxreward.training.config import TrainConfig
    from jaxreward.training.trainer import Trainer

    if not os.path.isdir(run_dir):
        raise ValueError(f"eval-reward --checkpoint: no directory {run_dir!r}; pass the --out of `jaxreward train`")
    try:
        cfg = TrainConfig.from_dict(results.read_config(run_dir))
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise ValueError(f"eval-reward --checkpoint: {run_dir!r} has no readable config.json ({e}); "
                         "pass the --out of `jaxreward train`") from None
    for option, given, saved in (("env", env_name, cfg.env), ("reward", reward, cfg.reward.terms)):
        if given is not None and given != saved:
            raise ValueError(f"eval-reward --{option} {given} differs from the {option} {saved!r} of the run in {run_dir!r}")
    try:
        trainer = Trainer(cfg)
    except ValueError as e:
        raise ValueError(f"eval-reward --checkpoint: the config of {run_dir!r} is invalid: {e}") from None
    model = trainer.reward_model
    if model.intrinsic or model.frames is not None:
        kind = "intrinsic terms (per-env, exploration state)" if model.intrinsic else "pixel terms (rendered frames)"
        raise ValueError(f"eval-reward --checkpoint: the reward of {run_dir!r} ({cfg.reward.terms}) has {kind}; "
                         "distances are measured for rewards of (s, a, s') transitions")
    # The checkpoint holds the whole TrainState; its shapes come from tracing init, and zeros
    # fill the template (only the reward part is used), so nothing is compiled here.
    shapes = jax.eval_shape(jax.vmap(trainer.init), trainer.seed_keys())
    template = jax.tree.map(lambda x: np.zeros(x.shape, x.dtype), shapes)
    ckpt_dir = os.path.join(run_dir, "checkpoints")
    try:
        state = checkpoint.restore(ckpt_dir, template)
    except checkpoint.CheckpointError as e:
        raise ValueError(f"eval-reward --checkpoint: {e}") from None
    return cfg, model, jax.tree.map(lambda x: x[0], state.reward)


def measure(env_name: str | None, reward: str | None, against: str, num_transitions: int = 256, num_samples: int = 16,
            discount: float = 0.99, seed: int = 0, run_dir: str | None = None) -> dict[str, float]:
    """{"epic", "dard", "starc", "transitions", "env"} between the rewards `reward` and
    `against` on `env_name`; with `run_dir`, the trained reward of that run (`load_run_reward`) on the
    run's environment instead of `reward` (a given `env_name` / `reward` must then match)."""
    import envs
    import jax

    from jaxreward.evaluation import sampled
    from jaxreward.rewards import registry
    from jaxreward.rewards.base import RewardSpec

    env_options, trained = {}, None
    if run_dir is not None:
        cfg, model, trained = load_run_reward(run_dir, env_name, reward)
        env_name, env_options = cfg.env, dict(cfg.env_options)
    env = envs.make(env_name, time_limit=False, **env_options)
    spec = RewardSpec(env.observation_size, env.action_size, env.discrete, num_envs=num_transitions, unroll_length=1)
    reference = registry.make_composite(spec, registry.RewardConfig(terms=against))
    if trained is None:
        model = registry.make_composite(spec, registry.RewardConfig(terms=reward))

    @jax.jit
    def compare(sample, key, trained):
        k_a, k_b = jax.random.split(key)
        state = model.init(k_a) if trained is None else trained
        values = [sampled.evaluate(sampled.model_fn(m, s), sample) for m, s in ((model, state), (reference, reference.init(k_b)))]
        return sampled.distances(values[0], values[1], sample.weight, discount), sample.weight.sum()

    dist, used = compare(sampled.sample(env, seed, num_transitions, num_samples), jax.random.PRNGKey(seed + 1), trained)
    return {**{k: float(v) for k, v in dist.items()}, "transitions": int(used), "env": env_name}


def run_command(args) -> int:
    validate(args)
    from jaxreward.training.compile_cache import enable_compile_cache

    enable_compile_cache()
    result = measure(args.env, args.reward, args.against, args.num_transitions, args.num_samples, args.discount, args.seed,
                     run_dir=args.checkpoint)
    if args.json:
        print(json.dumps(result))
        return 0
    label = f"the trained reward of {args.checkpoint}" if args.checkpoint else args.reward
    print(f"{label} vs {args.against} on {result['env']} ({result['transitions']} transitions, "
          f"{args.num_samples} samples per expectation, discount {args.discount})")
    for name in ("epic", "dard", "starc"):
        print(f"  {name:<6} {result[name]:.4f}")
    return 0
