"""Test utilities shipped with the host agent, shared by tests and benchmarks."""
