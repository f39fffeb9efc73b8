"""Registers the locomotion environments (MJX)."""
