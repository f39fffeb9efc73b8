"""Time-to-threshold of one preference-comparisons run of the `imitation` library (used by
`pbrl_vs_imitation.py`).

Runs in the benchmark's own virtual environment (`benchmarks/.venv-imitation`), never in the
project's: imitation, Stable-Baselines3 and PyTorch are not jaxreward dependencies.

The setup follows imitation's own preference-comparisons example on `Pendulum-v1`: a
`BasicRewardNet` over (obs, action, next obs) with a running input normalisation, a
`RandomFragmenter`, a `SyntheticGatherer` (with `--oracle`: deterministic labels by segment
return, like jaxreward's `oracle` teacher; otherwise imitation's default Boltzmann-rational
labels), `BasicRewardTrainer` with the cross-entropy loss, and SB3 PPO with the
hyperparameters of RL Baselines3 Zoo for Pendulum-v1 (the same as `_sb3_runner.py`) as the
agent, trained on the learned reward.

Progress is the gold return: `Monitor` records the environment's own reward beneath the
learned-reward wrapper, so the mean return of the last `--window` finished training
episodes is read after every preference-comparisons iteration. Time-to-threshold is the wall
time (clock started after the imports, so excluding them as for jaxreward) at the first
iteration whose mean reaches `--threshold`; the run stops there (or, with `--max-seconds`,
at the first iteration past that wall time, unreached).

Prints one JSON object on the last line of stdout.
"""

from __future__ import annotations

import time

_T_IMPORT = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from imitation.algorithms import preference_comparisons as pc  # noqa: E402
from imitation.rewards.reward_nets import BasicRewardNet  # noqa: E402
from imitation.util.networks import RunningNorm  # noqa: E402
from imitation.util.util import make_vec_env  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402

IMPORT_TIME_S = time.perf_counter() - _T_IMPORT

#: RL Baselines3 Zoo's PPO settings for Pendulum-v1 (as in `_sb3_runner.py`).
ZOO_PENDULUM = dict(n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10, ent_coef=0.0, learning_rate=1e-3,
                    clip_range=0.2, use_sde=True, sde_sample_freq=4)  # fmt: skip
N_ENVS = 4


class ThresholdReached(Exception):
    pass


class OutOfTime(Exception):
    pass


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threshold", type=float, required=True)
    p.add_argument("--max-steps", type=int, default=400_000)
    p.add_argument("--comparisons", type=int, default=1000, help="total label budget")
    p.add_argument("--iterations", type=int, default=40, help="preference-comparisons iterations over --max-steps")
    p.add_argument("--fragment-length", type=int, default=50)
    p.add_argument("--window", type=int, default=20)
    p.add_argument("--max-seconds", type=float, default=0.0,
                   help="stop after the first iteration past this wall time (0: no limit); the result then "
                        "bounds the time to threshold from below")  # fmt: skip
    p.add_argument("--oracle", action="store_true", help="deterministic labels (default: Boltzmann, imitation's default)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    t_start = time.perf_counter()
    # PyTorch's global generator initialises the reward net and SB3's policy before PPO's own
    # seeding: without this, runs of one seed differed (74k-283k steps to the threshold).
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    venv = make_vec_env("Pendulum-v1", rng=rng, n_envs=N_ENVS)
    reward_net = BasicRewardNet(venv.observation_space, venv.action_space, normalize_input_layer=RunningNorm)
    fragmenter = pc.RandomFragmenter(warning_threshold=0, rng=rng)
    gatherer = pc.SyntheticGatherer(rng=rng, sample=not args.oracle)
    preference_model = pc.PreferenceModel(reward_net)
    reward_trainer = pc.BasicRewardTrainer(preference_model=preference_model, loss=pc.CrossEntropyRewardLoss(),
                                           epochs=3, rng=rng)  # fmt: skip
    agent = PPO("MlpPolicy", venv, seed=args.seed, verbose=0, **ZOO_PENDULUM)
    trajectory_generator = pc.AgentTrainer(algorithm=agent, reward_fn=reward_net, venv=venv, exploration_frac=0.05,
                                           rng=rng)  # fmt: skip
    trainer = pc.PreferenceComparisons(
        trajectory_generator, reward_net, num_iterations=args.iterations, fragmenter=fragmenter,
        preference_gatherer=gatherer, reward_trainer=reward_trainer, fragment_length=args.fragment_length,
        transition_oversampling=1, initial_comparison_frac=0.1, allow_variable_horizon=False,
        initial_epoch_multiplier=4, query_schedule="hyperbolic",
    )  # fmt: skip

    curve = []

    def after_iteration(iteration: int) -> None:
        returns = [r for rs in venv.env_method("get_episode_rewards") for r in rs]
        steps = int(agent.num_timesteps)
        recent = float(np.mean(returns[-args.window:])) if returns else None
        curve.append({"env_steps": steps, "wall_s": round(time.perf_counter() - t_start, 3), "gold_return": recent,
                      "episodes": len(returns)})  # fmt: skip
        print(json.dumps(curve[-1]), flush=True)
        if recent is not None and len(returns) >= args.window and recent >= args.threshold:
            raise ThresholdReached
        if args.max_seconds and curve[-1]["wall_s"] >= args.max_seconds:
            raise OutOfTime

    reached = False
    try:
        trainer.train(total_timesteps=args.max_steps, total_comparisons=args.comparisons, callback=after_iteration)
    except ThresholdReached:
        reached = True
    except OutOfTime:
        pass
    wall = time.perf_counter() - t_start
    steps = int(agent.num_timesteps)
    print(json.dumps({
        "reached": reached, "time_to_threshold_s": round(wall, 3) if reached else None,
        "env_steps": steps, "wall_s": round(wall, 3), "steps_per_second": round(steps / wall, 1),
        "import_s": round(IMPORT_TIME_S, 3), "curve": curve, "torch_threads": torch.get_num_threads(),
        "comparisons_budget": args.comparisons,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
