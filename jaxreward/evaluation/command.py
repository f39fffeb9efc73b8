"""`jaxreward eval-reward`: distances between two rewards on an environment, without RL.

    jaxreward eval-reward --env pendulum --reward regression --against gold

Both `--reward` and `--against` take the reward syntax of `train --reward` (a registered
name, or weighted terms such as "gold:2,rnd:0.1"); the models are freshly initialised (a
learned model's distance here is that of its initialisation). Prints the sampled EPIC, DARD
and STARC distances (`evaluation.sampled`) and the number of transitions they used.
"""

from __future__ import annotations

import argparse
import json


def add_parser(sub) -> None:
    p = sub.add_parser("eval-reward", help="EPIC / DARD / STARC distance between two rewards on an environment",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--env", required=True, help="environment name (see `jaxreward envs`)")
    p.add_argument("--reward", required=True, help="the reward to evaluate, e.g. regression or gold:2")
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

    if args.env not in envs.names():
        raise ValueError(f"eval-reward --env: unknown environment {args.env!r}. Valid environments: {', '.join(envs.names())}")
    for option in ("reward", "against"):
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


def measure(env_name: str, reward: str, against: str, num_transitions: int = 256, num_samples: int = 16,
            discount: float = 0.99, seed: int = 0) -> dict[str, float]:
    """{"epic", "dard", "starc", "transitions"} between the rewards `reward` and `against`."""
    import envs
    import jax

    from jaxreward.evaluation import sampled
    from jaxreward.rewards import registry
    from jaxreward.rewards.base import RewardSpec

    env = envs.make(env_name, time_limit=False)
    spec = RewardSpec(env.observation_size, env.action_size, env.discrete, num_envs=num_transitions, unroll_length=1)
    models = [registry.make_composite(spec, registry.RewardConfig(terms=t)) for t in (reward, against)]

    @jax.jit
    def compare(sample, key):
        k_a, k_b = jax.random.split(key)
        values = [sampled.evaluate(sampled.model_fn(m, m.init(k)), sample) for m, k in zip(models, (k_a, k_b))]
        return sampled.distances(values[0], values[1], sample.weight, discount), sample.weight.sum()

    dist, used = compare(sampled.sample(env, seed, num_transitions, num_samples), jax.random.PRNGKey(seed + 1))
    return {**{k: float(v) for k, v in dist.items()}, "transitions": int(used)}


def run_command(args) -> int:
    validate(args)
    from jaxreward.training.compile_cache import enable_compile_cache

    enable_compile_cache()
    result = measure(args.env, args.reward, args.against, args.num_transitions, args.num_samples, args.discount, args.seed)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.reward} vs {args.against} on {args.env} ({result['transitions']} transitions, "
          f"{args.num_samples} samples per expectation, discount {args.discount})")
    for name in ("epic", "dard", "starc"):
        print(f"  {name:<6} {result[name]:.4f}")
    return 0
