"""Benchmarks: `python -m bench.<name>` prints rows/s and peak RSS beside a naive baseline."""
