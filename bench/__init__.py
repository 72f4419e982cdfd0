"""Benchmarks (run inside the private network namespace: see each module's docstring)."""
