"""Datasets: embedded defaults (no download) and loaders for local copies of public benchmarks."""

from ._arrests import arrests
from ._colored_digits import colored_digits
from ._local import celeba, cifar10, fairface, waterbirds

__all__ = ["arrests", "celeba", "cifar10", "colored_digits", "fairface", "waterbirds"]
