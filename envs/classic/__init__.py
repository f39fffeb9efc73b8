"""Classic control tasks in pure JAX."""
