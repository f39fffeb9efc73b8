"""Registers the locomotion environments (MJX, after Gymnasium's MuJoCo v5 tasks)."""

from envs.locomotion.planar import HalfCheetah, Hopper, Walker2d
from envs.locomotion.spatial import Ant, Humanoid
from envs.registry import register

register("hopper", Hopper, "One-legged hopper running forward (MJX, after Gymnasium Hopper-v5), 1000 steps")
register("walker2d", Walker2d, "Planar biped walking forward (MJX, after Gymnasium Walker2d-v5), 1000 steps")
register("halfcheetah", HalfCheetah, "Planar cheetah running forward (MJX, after Gymnasium HalfCheetah-v5), 1000 steps")
register("ant", Ant, "Quadruped walking forward (MJX, after Gymnasium Ant-v5), 1000 steps")
register("humanoid", Humanoid, "Humanoid walking forward (MJX, after Gymnasium Humanoid-v5), 1000 steps")
