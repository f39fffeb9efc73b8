"""Aggregation and plots over runs and sweeps (host-side NumPy/matplotlib)."""
