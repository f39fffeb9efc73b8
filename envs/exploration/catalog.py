"""Registers the sparse-reward exploration environments."""

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
