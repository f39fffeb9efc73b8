"""Adapters exposing other JAX environment suites through the envs registry."""
