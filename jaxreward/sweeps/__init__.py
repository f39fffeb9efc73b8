"""Sweeps: seeds x variants as one vmapped program per static configuration."""
