"""Registers the built-in environments (imported once by `envs/__init__.py`).

Each family registers its own environments in its `catalog.py`; this module only gathers
them, in a fixed order.
"""

from envs.classic.pendulum import Pendulum
from envs.classic.cartpole import CartPole
from envs.registry import register

register("pendulum", Pendulum, "Pendulum swing-up (Gymnasium Pendulum-v1 dynamics), continuous, 200 steps")
register("cartpole", CartPole, "Cart-pole balancing (Gymnasium CartPole-v1 dynamics), discrete 2 actions, 500 steps")

from envs.exploration import catalog as _exploration  # noqa: E402,F401
from envs.manipulation import catalog as _manipulation  # noqa: E402,F401
from envs.locomotion import catalog as _locomotion  # noqa: E402,F401
from envs.adapters import catalog as _adapters  # noqa: E402,F401

from envs import probes  # noqa: E402

register("probe/constant", probes.ConstantReward, "probe: obs 0, one step, reward +1 (V = 1)")
register("probe/obs_reward", probes.ObsReward, "probe: obs ±1, one step, reward = obs (V(o) = o)")
register("probe/delayed", probes.DelayedReward, "probe: two steps, reward +1 at the end (V(0) = gamma)")
register("probe/two_actions", probes.TwoActions, "probe: two actions, reward +1 for action 1, -1 for 0")
register("probe/contextual", probes.Contextual, "probe: obs ±1, reward +1 when the action matches the obs sign")
register("probe/continuous_constant", probes.ContinuousConstant, "probe: continuous, reward +1, truncation only (Q = 1/(1-gamma))")
register("probe/action_reward", probes.ActionReward, "probe: continuous, one step, reward = action (best action +1)")

#: The Gymnasium task each environment follows (its physics and reward), for parity tests
#: and side-by-side benchmarks; see docs/gymnasium-parity.md for every intended difference.
GYMNASIUM_IDS = {
    "hopper": "Hopper-v5",
    "walker2d": "Walker2d-v5",
    "halfcheetah": "HalfCheetah-v5",
    "ant": "Ant-v5",
    "humanoid": "Humanoid-v5",
    "reacher": "Reacher-v5",
    "pendulum": "Pendulum-v1",
    "cartpole": "CartPole-v1",
    "mountain_car": "MountainCarContinuous-v0",
}
