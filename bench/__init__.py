"""Benchmarks: each measures the mall and a physical reference in the same run."""
