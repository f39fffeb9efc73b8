"""Registers adapted environments from optional suites (skipped when not installed)."""
