"""Registers the built-in environments (imported once by `envs/__init__.py`)."""

from envs.classic.pendulum import Pendulum
from envs.registry import register

register("pendulum", Pendulum, "Pendulum swing-up (Gymnasium Pendulum-v1 dynamics), continuous, 200 steps")
