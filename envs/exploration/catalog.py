"""Registers the sparse-reward exploration environments.

The cart-pole swing-up lives with the classic control tasks (`envs/classic`) but is
registered here, with its sparse variant, as one of the exploration benchmarks.
"""

from envs.classic.cartpole_swingup import CartPoleSwingUp
from envs.exploration.ant_maze import AntMaze
from envs.exploration.deep_sea import DeepSea
from envs.exploration.mountain_car import MountainCar
from envs.exploration.point_maze import PointMaze
from envs.registry import register

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
register("point_maze_medium", PointMaze, "Point mass in an 8x8-cell maze (D4RL maze2d-medium style), dense -distance, 600 steps", layout="medium")
register("point_maze_medium_sparse", PointMaze, "8x8-cell point maze, reward 1 only at the goal, 600 steps", layout="medium", sparse=True)
register("point_maze_large", PointMaze, "Point mass in a 9x12-cell maze (D4RL maze2d-large style), dense -distance, 800 steps", layout="large")
register("point_maze_large_sparse", PointMaze, "9x12-cell point maze, reward 1 only at the goal, 800 steps", layout="large", sparse=True)
register(
    "mountain_car",
    MountainCar,
    "Continuous mountain car (Gymnasium MountainCarContinuous-v0): 100 at the flag - 0.1 a^2, 999 steps",
)
register("mountain_car_sparse", MountainCar, "Continuous mountain car, reward 1 only at the flag, 999 steps", sparse=True)
register("deep_sea", DeepSea, "bsuite deep sea (N=10): reward only at the end of the always-right path, discrete 2 actions, N steps")
register(
    "cartpole_swingup",
    CartPoleSwingUp,
    "Cart-pole swing-up from hanging, continuous force, DM Control's dense product reward, 1000 steps",
)
register(
    "cartpole_swingup_sparse",
    CartPoleSwingUp,
    "Cart-pole swing-up, reward 1 only when upright and centred (DM Control swingup_sparse), 1000 steps",
    sparse=True,
)
register(
    "ant_maze",
    AntMaze,
    "MJX ant in a U maze of 4 m cells (D4RL antmaze-umaze style), reward 1 only within 0.5 m of the goal, 700 steps",
)
