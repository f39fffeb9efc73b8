"""Reward evaluation: distances between reward functions (EPIC, DARD, STARC), exact and sampled."""
