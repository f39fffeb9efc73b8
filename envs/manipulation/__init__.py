"""Manipulation tasks simulated with MuJoCo MJX (assets load offline from `assets/`)."""
