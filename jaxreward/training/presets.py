"""Per-environment default settings (tuned here, on a 2-core CPU, for the smoke budget).

`config_for(env, **overrides)` starts from `TrainConfig` defaults, applies the preset of
the env for the chosen learner (`PRESETS` for PPO, `SAC_PRESETS` for SAC), then the
caller's overrides. Nested overrides use dicts: `ppo={"gamma": 0.9}`.
"""

from __future__ import annotations

import dataclasses

from jaxreward.training.config import TrainConfig


def _merge(a: dict, b: dict) -> dict:
    """`a` updated by `b`, nested dicts merged key by key."""
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


#: The locomotion recipe (found on hopper, `benchmarks/results/locomotion_tuning.md`): a
#: rollout of 2048 steps reused for 10 epochs of 8 minibatches, as Stable-Baselines3's PPO
#: does on these tasks, with 256×256 ReLU networks and rewards scaled by the running std of
#: the discounted return.
LOCOMOTION = dict(
    num_envs=32,
    total_steps=1_000_000,
    ppo=dict(unroll_length=64, num_minibatches=8, update_epochs=10, learning_rate=3e-4, gamma=0.99, gae_lambda=0.95,
             policy_hidden=(256, 256), value_hidden=(256, 256), activation="relu", normalize_rewards=True),
)

PRESETS: dict[str, dict] = {
    # ~-170 gold return after 300k steps (2 seeds measured); random policy: about -1200.
    "pendulum": dict(
        num_envs=64,
        total_steps=400_000,
        ppo=dict(unroll_length=64, num_minibatches=8, update_epochs=10, learning_rate=1e-3, gamma=0.95),
    ),
    "cartpole": dict(
        num_envs=32,
        total_steps=200_000,
        ppo=dict(unroll_length=64, num_minibatches=4, update_epochs=4, learning_rate=2.5e-3, gamma=0.99, entropy_coef=0.01),
    ),
    # Gold return (mean over the training episodes of 2 seeds, 50-step episodes): -52 after
    # 100k steps, -10.9 after 410k, -8.1 after 512k, -4.9 after 1M, -4.0 after 2M. An
    # untrained policy scores about -60. The TrainConfig defaults (64 envs, lr 3e-4, gamma
    # 0.99) need 700k steps for -9.7 and reach -5.0 at 2M; 256 envs x 32 steps at lr 3e-4
    # is still at -13 after 2M; 256 envs x 16 steps at lr 1e-3 matches this preset (-8.6 at
    # 512k, -4.7 at 2M). Measured with benchmarks/_jaxreward_runner.py (see vs_sb3.py).
    "reacher": dict(
        num_envs=128,
        total_steps=1_000_000,
        ppo=dict(unroll_length=32, num_minibatches=4, update_epochs=4, learning_rate=1e-3, gamma=0.95),
    ),
    # Evaluation return at 1M env steps, 2 seeds: 1532 and 3215 (one seed on the plateau
    # near 1400); 300-350 after 51k steps; the generic defaults end near 530 at 1M.
    "hopper": LOCOMOTION,
    # Evaluation return at 1M env steps, 2 seeds: 5133 and 4769 (training episodes 3760 and
    # 4680) with an initial action noise of sigma = e^-1 (locomotion_tuning.md, round C);
    # 2876 and 2705 with sigma = 1.
    "walker2d": _merge(LOCOMOTION, dict(ppo=dict(init_log_std=-1.0))),
    # Evaluation return at 1M env steps, 2 seeds: 4922 and 4978 (single evaluations up to
    # 6025) with an initial action noise of sigma = e^-1 (benchmarks/results/
    # locomotion_tuning.md, round C); 3682 and 4359 with sigma = 1.
    "halfcheetah": _merge(LOCOMOTION, dict(ppo=dict(init_log_std=-1.0))),
    # With sigma = 1 the control cost of the initial noise outweighs the healthy reward and
    # episodes end within ~30 steps. With sigma = e^-2 the ant stands from the start
    # (evaluation ~990: 1000 steps of healthy reward), peaks at 1,100-1,600 within 400k env
    # steps and ends at 728 and 1113 at 1M (2 seeds; the log-std keeps falling): round C of
    # locomotion_tuning.md. Not yet tuned to walk.
    "ant": _merge(LOCOMOTION, dict(ppo=dict(init_log_std=-2.0))),
}


SAC_PRESETS: dict[str, dict] = {
    # -264 ± 116 gold return after 16k steps (2 seeds); -144 ± 9 after 30k steps with the
    # default 256-wide nets and step sizes. Random policy: about -1200.
    "pendulum": dict(
        num_envs=8,
        total_steps=20_000,
        sac=dict(unroll_length=1, grad_updates_per_step=2, batch_size=256, learning_starts=2_000, gamma=0.99,
                 learning_rate=1e-3, alpha_learning_rate=1e-3, actor_hidden=(128, 128), critic_hidden=(128, 128)),
    ),
}

#: Used when an env has no SAC preset: a small vectorised SAC.
SAC_DEFAULT = dict(num_envs=16, total_steps=200_000, sac=dict(unroll_length=1, grad_updates_per_step=4))


def preset(env: str, learner: str = "ppo") -> dict:
    if learner == "sac":
        return SAC_PRESETS.get(env, SAC_DEFAULT)
    return PRESETS.get(env, {})


def config_for(env: str, **overrides) -> TrainConfig:
    """A validated TrainConfig for `env`: defaults <- preset (for overrides["learner"]) <- overrides."""
    merged = _merge(preset(env, overrides.get("learner", "ppo")), overrides)
    merged["env"] = env
    return build(merged).validate()


def build(settings: dict) -> TrainConfig:
    """TrainConfig from a (possibly nested) dict of field values."""
    settings = dict(settings)
    base = TrainConfig()
    nested = {}
    for f in dataclasses.fields(TrainConfig):
        value = getattr(base, f.name)
        if dataclasses.is_dataclass(value) and f.name in settings:
            nested[f.name] = _replace_nested(value, settings.pop(f.name), f.name)
    unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(TrainConfig)})
    if unknown:
        raise ValueError(f"unknown config field(s) {unknown}; valid: {', '.join(f.name for f in dataclasses.fields(TrainConfig))}")
    return dataclasses.replace(base, **settings, **nested)


def _replace_nested(obj, changes: dict, prefix: str):
    valid = {f.name for f in dataclasses.fields(obj)}
    out = {}
    for k, v in changes.items():
        if k not in valid:
            raise ValueError(f"unknown config field {prefix}.{k}; valid: {', '.join(sorted(valid))}")
        current = getattr(obj, k)
        if dataclasses.is_dataclass(current) and isinstance(v, dict):
            out[k] = _replace_nested(current, v, f"{prefix}.{k}")
        else:
            out[k] = tuple(v) if isinstance(v, list) else v  # JSON/YAML lists -> the configs' tuples
    return dataclasses.replace(obj, **out)

