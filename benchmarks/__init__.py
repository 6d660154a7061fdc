"""Ratio benchmarks (not tests): ``python -m benchmarks [--quick] [--json PATH]``."""
