"""Registers the built-in environments (imported once by `envs/__init__.py`)."""

from envs.classic.cartpole import CartPole
from envs.classic.pendulum import Pendulum
from envs.exploration.point_maze import PointMaze
from envs.manipulation.reacher import Reacher
from envs.registry import register

register("pendulum", Pendulum, "Pendulum swing-up (Gymnasium Pendulum-v1 dynamics), continuous, 200 steps")
register("cartpole", CartPole, "Cart-pole balancing (Gymnasium CartPole-v1 dynamics), discrete 2 actions, 500 steps")
register(
    "point_maze",
    PointMaze,
    "Point mass in a U-maze, goal behind a wall, dense -distance reward (a greedy trap), 200 steps",
)
register(
    "point_maze_sparse",
    PointMaze,
    "Point mass in a U-maze, reward 1 only inside the goal radius (exploration), 200 steps",
    sparse=True,
)
register("reacher", Reacher, "Two-link planar arm reaching a random target (MJX, after Gymnasium Reacher-v5), 50 steps")

from envs import probes  # noqa: E402

register("probe/constant", probes.ConstantReward, "probe: obs 0, one step, reward +1 (V = 1)")
register("probe/obs_reward", probes.ObsReward, "probe: obs ±1, one step, reward = obs (V(o) = o)")
register("probe/delayed", probes.DelayedReward, "probe: two steps, reward +1 at the end (V(0) = gamma)")
register("probe/two_actions", probes.TwoActions, "probe: two actions, reward +1 for action 1, -1 for 0")
register("probe/contextual", probes.Contextual, "probe: obs ±1, reward +1 when the action matches the obs sign")
