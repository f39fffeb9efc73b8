"""Registers the manipulation environments (MJX)."""

from envs.manipulation.drawer_open import DrawerOpen
from envs.manipulation.pick_place import PickPlace
from envs.manipulation.push import Push
from envs.manipulation.reach import Reach
from envs.manipulation.reacher import Reacher
from envs.registry import register

register("reacher", Reacher, "Two-link planar arm reaching a random target (MJX, after Gymnasium Reacher-v5), 50 steps")
register("reacher_sparse", Reacher, "Reacher with reward 1 only within 0.02 of the target (exploration), 50 steps", sparse=True)
# Fetch/Meta-World-like tasks: each has `sparse=True` and a scripted controller,
# env.scripted_action(state, rng) (see envs/manipulation/task.py).
register("reach", Reach, "Three-joint arm reaches a random 3-D goal (MJX, after Fetch Reach), 50 steps")
register("push", Push, "Cartesian gripper pushes a block to a goal on the table (MJX, after Fetch Push), 100 steps")
register("pick_place", PickPlace,
         "Cartesian two-finger gripper lifts a block to a goal in the air (MJX, after Fetch PickAndPlace), 100 steps")
register("drawer_open", DrawerOpen,
         "Cartesian gripper hooks a drawer handle and pulls it open past 0.15 m (MJX, after Meta-World drawer-open), 100 steps")
