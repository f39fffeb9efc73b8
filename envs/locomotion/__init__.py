"""Locomotion tasks (MJX)."""
