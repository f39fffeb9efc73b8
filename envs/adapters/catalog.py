"""Registers adapted environments from optional suites (skipped when not installed).

`dmc/*`: MuJoCo Playground's DM Control suite (extra `playground`); `gymnax/*`: gymnax's
classic control, bsuite and MinAtar tasks (extra `gymnax`). Presence is checked without
importing the suites; each is imported when one of its environments is made.
"""

from envs.adapters import gymnax_suite, playground
from envs.registry import register

if playground.available():
    for _name, _task in playground.TASKS.items():
        register(_name, playground.factory(_task), f"MuJoCo Playground DM Control {_task} (MJX, impl=jax), 1000 steps")

if gymnax_suite.available():
    for _name, _task in gymnax_suite.TASKS.items():
        register(_name, gymnax_suite.factory(_name), f"gymnax {_task.gymnax_id}; success: {_task.success_doc}")
