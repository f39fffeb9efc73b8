"""Registers the manipulation environments (MJX)."""

from envs.manipulation.reacher import Reacher
from envs.registry import register

register("reacher", Reacher, "Two-link planar arm reaching a random target (MJX, after Gymnasium Reacher-v5), 50 steps")
register("reacher_sparse", Reacher, "Reacher with reward 1 only within 0.02 of the target (exploration), 50 steps", sparse=True)
