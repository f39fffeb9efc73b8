"""Time-to-threshold of one Stable-Baselines3 PPO run (used by `vs_sb3.py`).

Runs in the SB3 virtual environment (`benchmarks/.venv-sb3`), never in the project's: SB3
and PyTorch are not jaxreward dependencies.

The clock starts after the imports (import time is reported separately and excluded, as it
is for jaxreward) and includes building the vectorised envs and the model, and training.
A callback reads progress at the end of every rollout: the mean return of the last
`--window` training episodes (stochastic policy, raw rewards as `Monitor` records them,
before any `VecNormalize`). Time-to-threshold is the wall time at the first rollout end
where that mean reaches `--threshold`; training stops there unless `--no-stop`.

Hyperparameters are those of RL Baselines3 Zoo (`hyperparams/ppo.yml`) for each task.

Prints one JSON object on the last line of stdout.
"""

from __future__ import annotations

import time

_T_IMPORT = time.perf_counter()

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402

import gymnasium  # noqa: E402
import numpy as np  # noqa: E402
import stable_baselines3  # noqa: E402
import torch  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402
from stable_baselines3.common.vec_env import VecNormalize  # noqa: E402

IMPORT_TIME_S = time.perf_counter() - _T_IMPORT

#: RL Baselines3 Zoo's tuned PPO settings; "normalize" means a VecNormalize wrapper.
ZOO = {
    "Pendulum-v1": dict(
        n_envs=4, normalize=False,
        ppo=dict(n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10, ent_coef=0.0, learning_rate=1e-3,
                 clip_range=0.2, use_sde=True, sde_sample_freq=4),
    ),
    "Reacher-v5": dict(
        n_envs=1, normalize=True,
        ppo=dict(batch_size=32, n_steps=512, gamma=0.9, learning_rate=0.000104019, ent_coef=7.52585e-08,
                 clip_range=0.3, n_epochs=5, gae_lambda=1.0, max_grad_norm=0.9, vf_coef=0.950368),
    ),
    # The Zoo's Hopper-v3 entry (the one behind its published 2410 at 1M steps), on Hopper-v5.
    "Hopper-v5": dict(
        n_envs=1, normalize=True,
        ppo=dict(batch_size=32, n_steps=512, gamma=0.999, learning_rate=9.80828e-05, ent_coef=0.00229519,
                 clip_range=0.2, n_epochs=5, gae_lambda=0.99, max_grad_norm=0.7, vf_coef=0.835671),
        policy_kwargs=dict(log_std_init=-2, ortho_init=False, activation_fn="relu", net_arch=dict(pi=[256, 256], vf=[256, 256])),
    ),
}


class ThresholdCallback(BaseCallback):
    """Records (env steps, wall time, mean recent return) at each rollout end; stops at the threshold."""

    def __init__(self, t_start: float, threshold: float, window: int, stop: bool):
        super().__init__()
        self.t_start, self.threshold, self.stop = t_start, threshold, stop
        self.recent = collections.deque(maxlen=window)
        self.curve, self.reached = [], None

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            if "episode" in info:
                self.recent.append(info["episode"]["r"])
        # Returning False ends `learn` at the next step, after the update on the rollout
        # that reached the threshold (which the recorded time does not include).
        return not (self.stop and self.reached is not None)

    def _on_rollout_end(self) -> None:
        if len(self.recent) < self.recent.maxlen:
            return
        wall = time.perf_counter() - self.t_start
        ret = float(np.mean(self.recent))
        self.curve.append((self.num_timesteps, round(wall, 3), round(ret, 3)))
        if self.reached is None and ret >= self.threshold:
            self.reached = {"time_s": round(wall, 3), "env_steps": self.num_timesteps, "return": round(ret, 3)}


def run(env_id: str, threshold: float, max_steps: int, seed: int, window: int, stop: bool, threads: int) -> dict:
    t_start = time.perf_counter()
    # One thread: for these small MLPs PyTorch's intra-op threads only add synchronisation,
    # and on a loaded 2-core machine two spinning threads slow SB3 down many times over
    # (benchmarks/results/vs_sb3.md records the comparison).
    torch.set_num_threads(threads)
    settings = ZOO[env_id]
    venv = make_vec_env(env_id, n_envs=settings["n_envs"], seed=seed)
    if settings["normalize"]:
        venv = VecNormalize(venv)
    policy_kwargs = dict(settings.get("policy_kwargs", {}))
    if "activation_fn" in policy_kwargs:
        policy_kwargs["activation_fn"] = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[policy_kwargs["activation_fn"]]
    model = PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, policy_kwargs=policy_kwargs or None, **settings["ppo"])
    callback = ThresholdCallback(t_start, threshold, window, stop)
    t_learn = time.perf_counter()
    model.learn(total_timesteps=max_steps, callback=callback)
    learn_time = time.perf_counter() - t_learn
    return {
        "framework": "stable-baselines3",
        "env": env_id,
        "threshold": threshold,
        "reached": callback.reached,
        "time_to_threshold_s": callback.reached["time_s"] if callback.reached else None,
        "steps_to_threshold": callback.reached["env_steps"] if callback.reached else None,
        "import_time_s": round(IMPORT_TIME_S, 3),
        "setup_time_s": round(t_learn - t_start, 3),
        "learn_time_s": round(learn_time, 3),
        "env_steps": int(model.num_timesteps),
        "steps_per_second": round(model.num_timesteps / learn_time, 1),
        "window_episodes": window,
        "hyperparameters": {k: v for k, v in settings.items() if k not in ("ppo", "policy_kwargs")} | settings["ppo"]
        | ({"policy_kwargs": settings["policy_kwargs"]} if "policy_kwargs" in settings else {}),
        "versions": {"stable_baselines3": stable_baselines3.__version__, "gymnasium": gymnasium.__version__,
                     "torch": torch.__version__, "torch_threads": torch.get_num_threads()},
        "curve": callback.curve,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", required=True, choices=sorted(ZOO))
    p.add_argument("--threshold", type=float, required=True)
    p.add_argument("--max-steps", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--window", type=int, default=20, help="training episodes averaged for the threshold test")
    p.add_argument("--no-stop", action="store_true", help="train to --max-steps even after the threshold")
    p.add_argument("--torch-threads", type=int, default=1, help="torch.set_num_threads")
    a = p.parse_args()
    print(json.dumps(run(a.env, a.threshold, a.max_steps, a.seed, a.window, not a.no_stop, a.torch_threads)))


if __name__ == "__main__":
    main()
