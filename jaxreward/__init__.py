"""jaxreward: reinforcement learning with learned reward functions, in JAX."""

__version__ = "0.1.0"
