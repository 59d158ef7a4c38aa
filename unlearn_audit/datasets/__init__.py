"""Datasets: embedded defaults (no download) and loaders for local copies of public benchmarks."""

from ._colored_digits import colored_digits

__all__ = ["colored_digits"]
