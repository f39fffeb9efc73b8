"""Sparse-reward exploration tasks: the straight path to reward is blocked or unrewarded."""
