"""Benchmarks: scripts that print their figures (medians, and ratios to a baseline
measured in the same run). Run one with ``python -m bench.<name> --help``."""
